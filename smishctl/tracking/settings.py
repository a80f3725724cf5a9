"""Where Langfuse is and how long we may wait for it; and keeping secrets out of what we send.

Configuration comes from the standard Langfuse variables (`LANGFUSE_PUBLIC_KEY`,
`LANGFUSE_SECRET_KEY`, `LANGFUSE_BASE_URL` or `LANGFUSE_HOST`, `LANGFUSE_TIMEOUT`), which win over
the `[langfuse]` section of smishctl.toml (`base_url`, `public_key`, `secret_key`, `timeout`,
`push_timeout`, `prompt_name`, `enabled`). `SMISHCTL_LANGFUSE=off` turns it off for a shell.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from smishctl.core.errors import ConfigError
from smishctl.util.redact import redact as project_redact

DEFAULT_BASE_URL = "https://cloud.langfuse.com"
DEFAULT_PROMPT_NAME = "smishctl-sms-classifier"
OFF = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class LangfuseSettings:
    public_key: str
    secret_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 5.0  # seconds per HTTP call
    push_timeout: float = 30.0  # seconds for a whole push, whatever the server does
    prompt_name: str = DEFAULT_PROMPT_NAME

    @property
    def host(self) -> str:
        """The base URL without any user:password part (safe to store and print)."""
        return public_url(self.base_url)


def public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts).rstrip("/")


def _number(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"langfuse {name} must be a number of seconds, got {value!r}") from None
    if out <= 0:
        raise ConfigError(f"langfuse {name} must be positive, got {value!r}")
    return out


def langfuse_settings(settings, *, enabled: bool = True) -> LangfuseSettings | None:
    """The Langfuse connection for this project, or None when it is off or not configured."""
    if not enabled:
        return None
    cfg = settings.section("langfuse") if settings is not None else {}
    if str(os.environ.get("SMISHCTL_LANGFUSE", "")).strip().lower() in OFF - {""}:
        return None
    if str(cfg.get("enabled", True)).strip().lower() in OFF:
        return None
    if os.environ.get("LANGFUSE_TRACING_ENABLED", "true").strip().lower() == "false":
        return None
    public_key = os.environ.get("LANGFUSE_PUBLIC_KEY") or cfg.get("public_key")
    secret_key = os.environ.get("LANGFUSE_SECRET_KEY") or cfg.get("secret_key")
    if not public_key or not secret_key:
        return None
    base_url = (os.environ.get("LANGFUSE_BASE_URL") or os.environ.get("LANGFUSE_HOST") or cfg.get("base_url")
                or cfg.get("host") or DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"langfuse base URL {public_url(base_url)!r} must start with http:// or https://",
                          hint="set LANGFUSE_BASE_URL, e.g. http://localhost:3000")
    timeout = _number(os.environ.get("LANGFUSE_TIMEOUT") or cfg.get("timeout", 5), "timeout")
    push_timeout = _number(os.environ.get("SMISHCTL_LANGFUSE_PUSH_TIMEOUT") or cfg.get("push_timeout", 30),
                           "push_timeout")
    return LangfuseSettings(public_key=public_key, secret_key=secret_key, base_url=base_url, timeout=timeout,
                            push_timeout=max(push_timeout, timeout),
                            prompt_name=cfg.get("prompt_name") or DEFAULT_PROMPT_NAME)


def disabled_reason(settings, *, enabled: bool = True) -> str:
    """Why langfuse_settings() returned None, in a few words (for run.json)."""
    if not enabled:
        return "--no-langfuse"
    cfg = settings.section("langfuse") if settings is not None else {}
    if str(os.environ.get("SMISHCTL_LANGFUSE", "")).strip().lower() in OFF - {""}:
        return "SMISHCTL_LANGFUSE=off"
    if str(cfg.get("enabled", True)).strip().lower() in OFF:
        return "[langfuse] enabled = false"
    if os.environ.get("LANGFUSE_TRACING_ENABLED", "true").strip().lower() == "false":
        return "LANGFUSE_TRACING_ENABLED=false"
    return "not configured (no LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY)"


# -- secrets ------------------------------------------------------------------------------------
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_SECRET_SHAPES = [
    re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{8,}"),  # OpenAI/Anthropic/Langfuse-style keys
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),  # GitHub tokens
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),  # Hugging Face tokens
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{12,}"),
    re.compile(r"(?i)(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}"),
]
REDACTED = "[redacted]"


def secret_values(lf: LangfuseSettings | None = None) -> list[str]:
    """Values of environment variables named like secrets (and the Langfuse secret key)."""
    values = {v for k, v in os.environ.items() if _SECRET_NAME.search(k) and v and len(v) >= 6}
    if lf is not None:
        values.add(lf.secret_key)
    return sorted(values, key=len, reverse=True)


def redact(obj, secrets: list[str] | None = None):
    """A copy of obj (str, list, dict, ...) with every secret value or secret-shaped token replaced."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(obj, str):
        for s in secrets:
            if s in obj:
                obj = obj.replace(s, REDACTED)
        try:  # the project-wide masker (keys registered when LMs are built), when present

            obj = project_redact(obj)
        except (ImportError, AttributeError):
            pass
        for pattern in _SECRET_SHAPES:
            obj = pattern.sub(lambda m: (m.group(1) if m.re.groups and m.group(1) and
                                         m.group(1).lower().startswith(("bearer", "api")) else "") + REDACTED,
                              obj)
        return obj
    if isinstance(obj, dict):
        return {k: redact(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, secrets) for v in obj]
    return obj
