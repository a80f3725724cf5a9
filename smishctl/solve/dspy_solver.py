"""Turn one SMS into one prediction record: label, label probabilities, status, latency, tokens, cost.

`build_solver` is the one place a DSPy solver is put together (program, adapter, LM, input hardening):
`evaluate`, `optimize` and `load_production()` all call it, so production runs what was evaluated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smishctl.models.pricing import call_cost
from smishctl.models.registry import ModelSpec
from smishctl.solve.adapters import AdapterConfig
from smishctl.util.redact import redact


@dataclass
class DSPySolver:
    """A DSPy program over a litellm-backed dspy.LM, rendered and decided by `adapter`."""

    program: object
    lm: object
    spec: ModelSpec
    labels: tuple[str, ...]
    adapter: object = None  # a dspy.Adapter; None: DSPy's JSONAdapter (the original behaviour)

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
            row.update(status="invalid", raw=str(getattr(exc, "lm_response", "") or "")[:500])
        except Exception as exc:  # timeouts, refused connections, provider errors: infrastructure

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


def _usage(by_model: dict) -> dict:
    """Sum DSPy's per-model usage into prompt/completion/cached tokens."""
    out = {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}
    for u in by_model.values():
        out["prompt_tokens"] += u.get("prompt_tokens") or 0
        out["completion_tokens"] += u.get("completion_tokens") or 0
        details = u.get("prompt_tokens_details") or {}
        out["cached_tokens"] += (details.get("cached_tokens") if isinstance(details, dict) else 0) or 0
    return out if any(out.values()) else {}
