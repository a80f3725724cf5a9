"""Reading a text prompt someone keeps in Langfuse prompt management (`smishctl prompts new
--from-langfuse NAME[@label]`), through the SDK's own `get_prompt`."""

from __future__ import annotations

import math

from smishctl.core.errors import ConfigError
from smishctl.tracking.client import LangfuseSession, one_line
from smishctl.tracking.settings import disabled_reason, langfuse_settings
from smishctl.util.redact import redact

DEFAULT_LABEL = "production"  # what the SDK (and Langfuse) serve when no label or version is named


def parse_prompt_ref(ref: str) -> tuple[str, str | None]:
    """'NAME' or 'NAME@label' -> (name, label or None). The last '@' splits: names may contain one."""
    name, sep, label = ref.strip().rpartition("@") if "@" in ref else (ref.strip(), "", "")
    if not name.strip() or (sep and not label.strip()):
        raise ConfigError(f"bad Langfuse prompt reference {ref!r}", hint="use NAME or NAME@LABEL, e.g. sms-filter@production")
    return name.strip(), label.strip() or None


def fetch_text_prompt(settings, name: str, label: str | None = None) -> dict:
    """The text of a Langfuse text prompt (`label`: default production) with its name, version and host.
    Not configured, unreachable, missing or a chat prompt: a ConfigError (one line)."""
    lf = langfuse_settings(settings)
    if lf is None:
        raise ConfigError(f"Langfuse is not available: {disabled_reason(settings)}",
                          hint="set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL")
    from langfuse.api import NotFoundError

    shown = f"{name}@{label or DEFAULT_LABEL}"
    try:
        with LangfuseSession(lf) as s:
            # No cache and no retries: one bounded request, answered now or reported now.
            prompt = s.client.get_prompt(name, label=label, cache_ttl_seconds=0, max_retries=0,
                                         fetch_timeout_seconds=max(1, math.ceil(lf.timeout)))
    except NotFoundError:
        raise ConfigError(f"Langfuse at {lf.host} has no prompt {shown}",
                          hint="check the name and label in Langfuse prompt management") from None
    except Exception as exc:  # noqa: BLE001 - refused keys, no connection, a malformed answer: one line
        raise ConfigError(f"cannot fetch prompt {shown} from Langfuse at {lf.host}: {redact(one_line(exc))}",
                          hint="check LANGFUSE_BASE_URL and the keys") from None
    if not isinstance(prompt.prompt, str):
        raise ConfigError(f"Langfuse prompt {shown} is a chat prompt, not a text prompt",
                          hint="keep the instructions in a text prompt (the message is sent as its own turn)")
    return {"name": prompt.name, "version": prompt.version, "label": label or DEFAULT_LABEL,
            "labels": list(prompt.labels or []), "text": prompt.prompt, "host": lf.host}
