"""Where Langfuse is and how long we may wait for it; and keeping secrets out of what we send.

Configuration comes from the standard Langfuse variables (`LANGFUSE_PUBLIC_KEY`,
`LANGFUSE_SECRET_KEY`, `LANGFUSE_BASE_URL` or `LANGFUSE_HOST`, `LANGFUSE_TIMEOUT`), which win over
the `[langfuse]` section of smishctl.toml (`base_url`, `public_key`, `secret_key`, `timeout`,
`push_timeout`, `prompt_name`, `enabled`). `SMISHCTL_LANGFUSE=off` turns it off for a shell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from smishctl.core.config import is_off
from smishctl.core.config_schema import checked_number
from smishctl.core.errors import ConfigError
from smishctl.util.redact import register_env_secrets, register_secret

DEFAULT_BASE_URL = "https://cloud.langfuse.com"
DEFAULT_PROMPT_NAME = "smishctl-sms-classifier"


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
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts).rstrip("/")


def _number(env: str, name: str, cfg: dict, default: float) -> float:
    """The environment variable `env`, else [langfuse] `name`: both held to the key's range (smishctl.toml's
    value was checked when it was loaded)."""
    value = os.environ.get(env)
    return checked_number("langfuse", name, value, env) if value else cfg.get(name, default)


def langfuse_settings(settings, *, enabled: bool = True) -> LangfuseSettings | None:
    """The Langfuse connection for this project, or None when it is off or not configured."""
    if not enabled:
        return None
    cfg = settings.section("langfuse") if settings is not None else {}
    if is_off(os.environ.get("SMISHCTL_LANGFUSE", "")):
        return None
    if is_off(cfg.get("enabled", True)):
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
    timeout = _number("LANGFUSE_TIMEOUT", "timeout", cfg, 5)
    push_timeout = _number("SMISHCTL_LANGFUSE_PUSH_TIMEOUT", "push_timeout", cfg, 30)
    return LangfuseSettings(public_key=public_key, secret_key=secret_key, base_url=base_url, timeout=timeout,
                            push_timeout=max(push_timeout, timeout),
                            prompt_name=cfg.get("prompt_name") or DEFAULT_PROMPT_NAME)


def disabled_reason(settings, *, enabled: bool = True) -> str:
    """Why langfuse_settings() returned None, in a few words (for run.json)."""
    if not enabled:
        return "--no-langfuse"
    cfg = settings.section("langfuse") if settings is not None else {}
    if is_off(os.environ.get("SMISHCTL_LANGFUSE", "")):
        return "SMISHCTL_LANGFUSE=off"
    if is_off(cfg.get("enabled", True)):
        return "[langfuse] enabled = false"
    if os.environ.get("LANGFUSE_TRACING_ENABLED", "true").strip().lower() == "false":
        return "LANGFUSE_TRACING_ENABLED=false"
    return "not configured (no LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY)"


# -- secrets ------------------------------------------------------------------------------------
def register_langfuse_secrets(lf: LangfuseSettings | None = None) -> None:
    """Everything sent to Langfuse goes through the one redactor (smishctl.util.redact): register the
    secret values it must mask, those of environment variables named like secrets and the Langfuse key."""
    register_env_secrets()
    if lf is not None:
        register_secret(lf.secret_key)
