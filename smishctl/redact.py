"""Keep secrets out of everything smishctl writes or prints.

API keys are read from the environment only when an LM is built; their values are registered here, and
every error text that could reach a run record, a log line or a report goes through `redact`, which also
masks anything shaped like a bearer token or a provider key (a provider may echo the key back in an error).
"""

from __future__ import annotations

import re
import threading

MASK = "***"
_KNOWN: set[str] = set()
_lock = threading.Lock()
_PATTERNS = (
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"\b((?:sk|pk|rk|lf|hf|gsk|xai)[-_](?:[A-Za-z0-9]+[-_])*)[A-Za-z0-9]{6,}"),
    re.compile(r"(?i)((?:api[-_]?key|authorization|x-api-key|secret)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` masks it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _KNOWN.add(value)


def redact(text):
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
