"""Retries that honour the server's Retry-After.

DSPy 3.4 owns retries (`dspy.LM(num_retries=N)`: transient errors only — 429, 5xx, timeouts, connection
errors — with exponential backoff 1, 2, 4 … s, or the error's `retry_after` hint when it has one; litellm
and the provider SDK are called with retries off). But its litellm bridge looks for the hint on
`exc.response.headers` / `exc.headers`, and litellm keeps a provider's response headers on
`exc.litellm_response_headers` instead, so a 429's Retry-After was ignored. `install_retry_after_bridge`
copies the header onto `exc.retry_after` (capped at MAX_RETRY_AFTER_S) before DSPy classifies the error.

The same bridge corrects two classifications litellm gets wrong, so that DSPy neither retries a hopeless
call nor hides why it failed: a provider SDK that refuses to send at all (no key: the SDK's own base error,
not an API error) comes wrapped as a 500, and is a configuration error here (not retried); a refused or
unresolvable connection also comes as a 500, and is a transport error here (still retried, but the solver
can tell "never reached the endpoint" from "the endpoint failed"). A 400 whose provider code says the model
does not exist is an unsupported model, as a 404 is.
Pinned to dspy 3.4.1; when its internals move, the bridge does nothing and backoff stays exponential.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC

MAX_RETRY_AFTER_S = 60.0
# Provider codes (or error types) meaning "no such model" that arrive with HTTP 400 (OpenAI-compatible
# servers, Azure deployments); a 404 is already an unsupported model.
MODEL_NOT_FOUND_CODES = frozenset({"model_not_found", "DeploymentNotFound", "NotFoundError", "not_found_error"})


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
        return reclassify(exc, original(exc, *args, **kwargs))

    to_lm15_error._smishctl_bridge = True  # type: ignore[attr-defined]  # marks the wrapper as installed
    litellm_errors.to_lm15_error = to_lm15_error
    return True


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and the chain of exceptions behind it (cause or context), each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _never_sent(exc: BaseException) -> bool:
    """The provider SDK refused before sending: its base error, not an API error (e.g. no key)."""
    openai = sys.modules.get("openai")
    if openai is None:
        return False
    return any(type(e) is openai.OpenAIError for e in _causes(exc))


def _not_connected(exc: BaseException) -> bool:
    """No connection was made: refused, unresolvable host (a timeout is not this)."""
    httpx = sys.modules.get("httpx")
    connect_errors = (ConnectionRefusedError, *((httpx.ConnectError,) if httpx is not None else ()))
    return any(isinstance(e, connect_errors) for e in _causes(exc))


def reclassify(exc: BaseException, mapped: BaseException) -> BaseException:
    """DSPy's lm15 error for `exc` (`mapped`), corrected where litellm's own class misleads (module doc)."""
    from dspy import lm15

    if not isinstance(mapped, lm15.ProviderError) or isinstance(mapped, (lm15.AuthError,
                                                                           lm15.UnsupportedModelError)):
        return mapped
    target = None
    if isinstance(mapped, lm15.ServerError) and _never_sent(exc):
        target = lm15.ConfigurationError
    elif isinstance(mapped, lm15.ServerError) and _not_connected(exc):
        target = lm15.TransportError
    elif isinstance(mapped, lm15.InvalidRequestError) and mapped.provider_code in MODEL_NOT_FOUND_CODES:
        target = lm15.UnsupportedModelError
    if target is None:
        return mapped
    status = None if target in (lm15.ConfigurationError, lm15.TransportError) else mapped.status
    fixed = target(mapped.message, provider=mapped.provider, provider_code=mapped.provider_code, status=status,
                   request_id=mapped.request_id, retry_after=mapped.retry_after)
    fixed.model = getattr(mapped, "model", None)
    return fixed
