"""Retries that honour the server's Retry-After.

DSPy 3.4 owns retries (`dspy.LM(num_retries=N)`: transient errors only — 429, 5xx, timeouts, connection
errors — with exponential backoff 1, 2, 4 … s, or the error's `retry_after` hint when it has one; litellm
and the provider SDK are called with retries off). But its litellm bridge looks for the hint on
`exc.response.headers` / `exc.headers`, and litellm keeps a provider's response headers on
`exc.litellm_response_headers` instead, so a 429's Retry-After was ignored. `install_retry_after_bridge`
copies the header onto `exc.retry_after` (capped at MAX_RETRY_AFTER_S) before DSPy classifies the error.
Pinned to dspy 3.4.1; when its internals move, the bridge does nothing and backoff stays exponential.
"""

from __future__ import annotations

from datetime import UTC

MAX_RETRY_AFTER_S = 60.0


def retry_after_seconds(headers) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date), None if absent."""
    if not headers:
        return None
    try:
        items = {str(k).lower(): v for k, v in (headers.items() if hasattr(headers, "items") else headers)}
    except (TypeError, ValueError):
        return None
    if (ms := items.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = items.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def install_retry_after_bridge() -> bool:
    """Idempotent. Returns whether the bridge is in place."""
    try:
        from dspy.clients.engines import litellm_errors
    except ImportError:
        return False
    original = getattr(litellm_errors, "to_lm15_error", None)
    if original is None:
        return False
    if getattr(original, "_smishctl_bridge", False):
        return True

    def to_lm15_error(exc, *args, **kwargs):
        if getattr(exc, "retry_after", None) is None:
            hint = retry_after_seconds(getattr(exc, "litellm_response_headers", None))
            if hint is not None:
                try:
                    exc.retry_after = min(hint, MAX_RETRY_AFTER_S)
                except AttributeError:
                    pass
        return original(exc, *args, **kwargs)

    to_lm15_error._smishctl_bridge = True
    litellm_errors.to_lm15_error = to_lm15_error
    return True
