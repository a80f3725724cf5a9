"""How the library calls its hooks (smishctl.core.hooks.RunHooks), and which hooks a project gets.

A hook reports what happened; it never decides anything. So `safe_call` turns an exception in a hook
into one warning line, handed to `on_warning` (the CLI prints it; without one it is logged), and the
run goes on. `default_hooks` is Langfuse: LangfuseHooks when configured, else LangfuseOff, which
sends nothing and records only why (run.json's "langfuse" entry says so, as it always has).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.hooks import RunHooks
from smishctl.tracking.hooks import LangfuseHooks, LangfuseOff
from smishctl.tracking.settings import disabled_reason, langfuse_settings
from smishctl.util.redact import redact

Warn = Callable[[str], None]
log = logging.getLogger("smishctl.hooks")

__all__ = ["RunHooks", "Warn", "default_hooks", "notify", "safe_call"]


def default_hooks(settings: Settings, *, enabled: bool = True) -> RunHooks:
    """Langfuse hooks when Langfuse is configured (and `enabled`), hooks that send nothing otherwise."""
    try:
        configured = langfuse_settings(settings, enabled=enabled) is not None
    except ConfigError:  # a broken [langfuse] section: each event reports it as pending, never fails
        configured = True
    if configured:
        return LangfuseHooks(settings)
    return LangfuseOff(settings, disabled_reason(settings, enabled=enabled))


def safe_call(hooks: object, event: str, *args: Any, on_warning: Warn | None = None) -> Any:
    """hooks.<event>(*args); None (and one warning line) if it raises. Missing events do nothing."""
    method = getattr(hooks, event, None)
    if method is None:
        return None
    try:
        return method(*args)
    except Exception as exc:  # noqa: BLE001 - a hook never fails the run it reports on
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = redact(f"{type(hooks).__name__}.{event} failed: {type(exc).__name__}"
                         + (f": {text}" if text else ""))[:300]
        (on_warning or log.warning)(message)
        return None


def notify(hooks: object, event: str, *args: Any, into: dict[str, Any] | None = None,
           on_warning: Warn | None = None) -> Any:
    """safe_call, then record what the hook returned under its name in `into`."""
    outcome = safe_call(hooks, event, *args, on_warning=on_warning)
    name = getattr(hooks, "name", None)
    if into is not None and name and outcome is not None:
        into[name] = outcome
    return outcome
