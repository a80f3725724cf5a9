"""Keep secrets out of everything smishctl writes or prints.

API keys are read from the environment only when an LM is built; their values are registered here, and
every error text that could reach a run record, a log line or a report goes through `redact`, which also
masks anything shaped like a bearer token or a provider key (a provider may echo the key back in an error).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from typing import Any, TypeVar, overload

_T = TypeVar("_T")

MASK = "***"
_KNOWN: set[str] = set()
_lock = threading.Lock()
# Each pattern keeps group 1 (a prefix that says what was masked) and masks the rest.
_PATTERNS = (
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"\b((?:sk|pk|rk|lf|hf|gsk|xai)[-_](?:[A-Za-z0-9]+[-_])*)[A-Za-z0-9]{6,}"),
    re.compile(r"(?i)((?:api[-_]?key|authorization|x-api-key|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]{6,}"),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}\b"),  # GitHub tokens
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _KNOWN.add(value)


SECRET_NAME = re.compile(r"(?i)KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL")


def register_env_secrets(environ=None) -> None:
    """Register the value of every environment variable whose name looks like a secret: a provider
    key can leak through a library even when no model alias names its variable."""
    for name, value in (os.environ if environ is None else environ).items():
        if SECRET_NAME.search(name) and value and len(value) >= 8:
            register_secret(value)


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: _T) -> _T: ...
def redact(text: Any) -> Any:
    """`text` with every known secret and secret-looking token masked (anything else: unchanged)."""
    if not text or not isinstance(text, str):
        return text
    with _lock:
        known = sorted(_KNOWN, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_obj(obj):
    """A copy of `obj` (str, list, tuple, dict, nested) with every string redacted: payloads sent to
    Langfuse and reports go through this."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


def redact_exception(exc: BaseException) -> str:
    """The full traceback text of `exc`, redacted (for --debug)."""
    return redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


_installed = False


def install_log_redaction() -> None:
    """Redact every log record at creation, whatever logger or handler later prints it.

    DSPy's parallelizer and bootstrap log failed calls at ERROR level through their own stderr handler,
    and the exception text may quote the key a provider echoed back. A record factory sees each record
    before any handler, so one hook covers DSPy, litellm, httpx and ours; the traceback is rendered and
    redacted here too, because handlers format `exc_info` themselves.
    """
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: leave it to the handler's own error path
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_exception(record.exc_info[1]).rstrip("\n")
            record.exc_info = None
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True
