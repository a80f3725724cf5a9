"""Turn one SMS into one prediction record: label, label probabilities, status, latency, tokens, cost.

`build_solver` is the one place a DSPy solver is put together (program, adapter, LM, input hardening):
`evaluate`, `optimize` and `load_production()` all call it, so production runs what was evaluated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smishctl.core.errors import ModelError
from smishctl.models.pricing import call_cost
from smishctl.models.registry import ModelSpec
from smishctl.solve.adapters import AdapterConfig
from smishctl.util.redact import redact
from smishctl.util.urls import public_url


@dataclass
class DSPySolver:
    """A DSPy program over a litellm-backed dspy.LM, rendered and decided by `adapter`."""

    program: Callable[..., Any]  # a dspy.Module
    lm: object
    spec: ModelSpec
    labels: tuple[str, ...]
    adapter: object = None  # a dspy.Adapter; None: DSPy's JSONAdapter (the original behaviour)
    answered: bool = field(default=False, init=False, repr=False)  # the endpoint has answered at least once

    def __post_init__(self):
        if self.adapter is None:
            self.adapter = AdapterConfig(name="json").build()

    def __call__(self, text: str) -> dict:
        import dspy
        from dspy.utils.exceptions import AdapterParseError

        start = time.perf_counter()
        row: dict = {"pred": None, "status": "ok", "error": None, "raw": None, "probs": None}
        usage: dict = {}
        try:
            # No LM history and a fresh trace per message: DSPy otherwise keeps every prompt, response
            # and prediction (up to 10,000 each) in process-wide lists, so memory grew with the dataset.
            with dspy.context(lm=self.lm, adapter=self.adapter, track_usage=True, disable_history=True,
                              trace=[]):
                pred = self.program(sms=text)
            self.answered = True
            label = getattr(pred, "label", None)
            usage = _usage(pred.get_lm_usage() or {})
            if label in self.labels:
                row["pred"] = label
                probs = pred.get("probs") if hasattr(pred, "get") else None
                if probs:
                    row["probs"] = {lab: round(float(probs.get(lab, 0.0)), 6) for lab in self.labels}
            else:
                row.update(status="invalid", raw=str(label)[:500])
        except AdapterParseError as exc:
            self.answered = True
            row.update(status="invalid", raw=str(getattr(exc, "lm_response", "") or "")[:500])
        except Exception as exc:  # timeouts, refused connections, provider errors: infrastructure
            if (fatal := fatal_error(exc, self.spec, answered=self.answered)) is not None:
                raise fatal from exc
            row.update(status="error", error=redact(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                       if str(exc) else type(exc).__name__))
        if row["raw"]:
            row["raw"] = redact(row["raw"])
        seconds = time.perf_counter() - start
        row["latency_ms"] = round(seconds * 1000, 2)
        row["usage"] = usage
        row["cache_hit"] = row["status"] == "ok" and not usage
        row["cost_usd"] = (
            0.0 if row["cache_hit"] else call_cost(self.spec, usage.get("prompt_tokens", 0),
                                                   usage.get("completion_tokens", 0), seconds)
        )
        return row


# litellm's wrapping around what the provider said: "[model] litellm.AuthenticationError: AuthenticationError:
# OpenAIException - <message>"
_WRAPPING = re.compile(r"^(\[[^\]]*\]\s*)?(litellm\.\w+:\s*)?(\w+Error:\s*)?(\w+Exception\s*-\s*)?")


def provider_message(exc: BaseException) -> str:
    """The provider's own words for a failed call: one line, redacted."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return redact(_WRAPPING.sub("", first, count=1).strip()[:300] or type(exc).__name__)


def fatal_error(exc: BaseException, spec: ModelSpec, *, answered: bool) -> ModelError | None:
    """A failure no later call can escape, as the error that ends the run; None for a per-item error.

    Refused credentials (401, 403), a model that does not exist (404, or 400 with a not-found code) and a
    provider SDK that will not send (no key) fail every call alike; so does an endpoint that no connection
    has ever reached, once DSPy's retries are spent. A connection lost after answers is per-item (retried on
    resume), as are server errors, rate limits and timeouts."""
    from dspy.utils.exceptions import LMAuthError, LMConfigurationError, LMTransportError, LMUnsupportedModelError

    key_hint = (f"check the key in ${spec.api_key_env}" if spec.api_key_env
                else "set the provider's key variable (or api_key_env of a model alias in smishctl.toml)")
    if isinstance(exc, LMAuthError):
        return ModelError(f"{spec.name}: credentials refused: {provider_message(exc)}", hint=key_hint)
    if isinstance(exc, LMConfigurationError):
        return ModelError(f"{spec.name}: cannot call the model: {provider_message(exc)}", hint=key_hint)
    if isinstance(exc, LMUnsupportedModelError):
        return ModelError(f"{spec.name}: model not found: {provider_message(exc)}",
                          hint="check the model name and the endpoint (litellm and api_base in smishctl.toml)")
    if isinstance(exc, LMTransportError) and not answered:
        where = public_url(spec.api_base) or "the provider"
        return ModelError(f"{spec.name}: cannot connect to {where}: {provider_message(exc)} ({_root_cause(exc)})",
                          hint="is the endpoint running? check api_base in smishctl.toml")
    return None


def _root_cause(exc: BaseException) -> str:
    """The innermost exception's text (e.g. "[Errno 111] Connection refused" behind "Connection error.")."""
    seen = set()
    while (nxt := exc.__cause__ or exc.__context__) is not None and id(nxt) not in seen:
        seen.add(id(exc))
        exc = nxt
    return redact(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)


def _usage(by_model: dict) -> dict:
    """Sum DSPy's per-model usage into prompt/completion/cached tokens."""
    out = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
    for u in by_model.values():
        out["prompt_tokens"] += u.get("prompt_tokens") or 0
        out["completion_tokens"] += u.get("completion_tokens") or 0
        details = u.get("prompt_tokens_details") or {}
        out["cached_tokens"] += (details.get("cached_tokens") if isinstance(details, dict) else 0) or 0
    return out if any(out.values()) else {}
