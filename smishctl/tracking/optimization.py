"""Tracing the trials of an optimization (one Langfuse trace per candidate evaluation).

Usage (smishctl.tracking.hooks does this for `ops.optimize.optimize`)::

    tracker = start_optimization(settings, optimization_id, metadata={"optimizer": "mipro", "model": name})
    for each candidate evaluation:
        tracker.trace_trial(trial=i, score=accuracy, candidate={"optimizer": "mipro", "items": 45},
                            metrics={"macro_f1": f1}, duration_s=seconds, usage={...}, cost_usd=cost)
    manifest["langfuse"] = tracker.finish()   # pushes, bounded; never raises

`trace_trial` only buffers (no network, microseconds) and returns the trial's deterministic trace
id (or None when Langfuse is off), so it is safe to call from inside an optimizer's metric.
`finish()` pushes every buffered trial within push_timeout and returns the ids to record:
{"status": "pushed"|"pending"|"disabled", "session_id", "trace_ids", "url", "error"?}; `ids()` gives
the same without pushing. Re-finishing re-sends the same ids (Langfuse updates, never duplicates).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from smishctl.tracking.client import LangfuseSession, PushError, observation_id_for, one_line, trace_id_for
from smishctl.tracking.settings import LangfuseSettings, disabled_reason, langfuse_settings
from smishctl.util.redact import redact_obj


def trial_trace_id(optimization_id: str, trial) -> str:
    return trace_id_for(f"smishctl-optimize/{optimization_id}/{trial}")


class OptimizationTracker:
    """Buffers the trials of one optimization and pushes them to Langfuse on finish()."""

    def __init__(self, optimization_id: str, lf: LangfuseSettings | None, *, metadata: dict | None = None,
                 reason: str | None = None):
        self.optimization_id = optimization_id
        self.lf = lf
        self.metadata = dict(metadata or {})
        self.reason = reason
        self.trials: list[dict] = []
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None

    @property
    def enabled(self) -> bool:
        return self.lf is not None

    def trace_trial(self, *, trial, score: float | None, candidate: dict | None = None,
                    metrics: dict | None = None, split: str = "dev", started_at: float | None = None,
                    duration_s: float | None = None, usage: dict | None = None, cost_usd: float | None = None,
                    model: str | None = None, error: str | None = None) -> str | None:
        """Record one candidate evaluation: its number (`trial`), its score (the optimizer's
        objective), what was tried (`candidate`: instructions, demos, parameters...), optional
        extra metrics, timing (epoch seconds, seconds), tokens {prompt_tokens, completion_tokens,
        cached_tokens}, cost and model. Returns the trial's trace id, or None when disabled."""
        if not self.enabled:
            return None
        now = time.time()
        entry = {"trial": trial, "score": score, "candidate": candidate or {}, "metrics": metrics or {},
                 "split": split, "started_at": started_at if started_at is not None else now - (duration_s or 0),
                 "duration_s": duration_s or 0.0, "usage": usage or {}, "cost_usd": cost_usd,
                 "model": model or self.metadata.get("model"), "error": error}
        with self._lock:
            self.trials.append(entry)
        return trial_trace_id(self.optimization_id, trial)

    def ids(self) -> dict:
        """What to record in the artifact manifest (no secrets)."""
        out = {"status": (self._status or {}).get("status", "disabled" if not self.enabled else "not pushed"),
               "session_id": self.optimization_id,
               "trace_ids": [trial_trace_id(self.optimization_id, t["trial"]) for t in self.trials]}
        if self.lf is not None:
            out["host"] = self.lf.host
        status = self._status or {}
        for key in ("url", "error", "reason"):
            if status.get(key):
                out[key] = status[key]
        if not self.enabled and self.reason:
            out["reason"] = self.reason
        return out

    def finish(self, timeout: float | None = None) -> dict:
        """Push the buffered trials (bounded by push_timeout or `timeout`); return ids() with status."""
        if not self.enabled:
            self._status = {"status": "disabled", "reason": self.reason}
            return self.ids()
        lf = self.lf
        assert lf is not None  # enabled
        budget = timeout if timeout is not None else lf.push_timeout
        try:
            url = _push_trials(lf, self.optimization_id, list(self.trials), self.metadata, budget)
            self._status = {"status": "pushed", "url": url}
        except PushError as exc:
            self._status = {"status": "pending", "error": redact_obj(str(exc))[:300]}
        except Exception as exc:  # noqa: BLE001 - never let Langfuse break an optimization
            self._status = {"status": "pending", "error": redact_obj(one_line(exc))}
        return self.ids()


def start_optimization(settings, optimization_id: str, *, enabled: bool = True,
                       metadata: dict | None = None) -> OptimizationTracker:
    """A tracker for one optimization (a no-op tracker when Langfuse is off or not configured)."""
    lf = langfuse_settings(settings, enabled=enabled)
    return OptimizationTracker(optimization_id, lf, metadata=metadata,
                               reason=None if lf else disabled_reason(settings, enabled=enabled))


def _push_trials(lf: LangfuseSettings, optimization_id: str, trials: list[dict], metadata: dict,
                 budget: float) -> str | None:
    from langfuse._client.propagation import _propagate_attributes
    from langfuse._client.span import LangfuseGeneration, LangfuseSpan
    from opentelemetry import trace as otel_trace

    deadline = time.monotonic() + budget
    meta = redact_obj({k: v for k, v in metadata.items() if v is not None})
    with LangfuseSession(lf) as s:
        project_id = s.project_id(deadline)
        scores = []
        for t in trials:
            trace_id = trial_trace_id(optimization_id, t["trial"])
            root_id, gen_id = observation_id_for(f"{trace_id}/trial"), observation_id_for(f"{trace_id}/evaluation")
            start = int(t["started_at"] * 1e9)
            end = start + int(t["duration_s"] * 1e9)
            output = {"score": t["score"], **t["metrics"]}
            level: Literal["ERROR"] | None = "ERROR" if t.get("error") else None
            with s.ids.seed(trace_id, [root_id, gen_id]), _propagate_attributes(
                    session_id=optimization_id, trace_name="smishctl optimize trial",
                    tags=["smishctl", "optimize"]):
                otel_root = s.tracer.start_span("optimize-trial", start_time=start)
                root = LangfuseSpan(otel_span=otel_root, langfuse_client=s.client,
                                    input=redact_obj(t["candidate"]), output=output, level=level,
                                    status_message=redact_obj(t.get("error")),
                                    metadata={**meta, "optimization_id": optimization_id, "trial": t["trial"],
                                              "split": t["split"]})
                if t["usage"] or t["cost_usd"] is not None:
                    u = t["usage"]
                    prompt, completion, cached = (int(u.get(k) or 0) for k in
                                                  ("prompt_tokens", "completion_tokens", "cached_tokens"))
                    otel_gen = s.tracer.start_span("candidate-evaluation", start_time=start,
                                                   context=otel_trace.set_span_in_context(otel_root))
                    LangfuseGeneration(
                        otel_span=otel_gen, langfuse_client=s.client, model=t.get("model"),
                        usage_details={"input": max(prompt - cached, 0), "input_cached_tokens": cached,
                                       "output": completion, "total": prompt + completion},
                        cost_details={"total": float(t["cost_usd"])} if t["cost_usd"] is not None else None,
                        output=output).end(end_time=end)
                root.end(end_time=end)
            if t["score"] is not None:
                scores.append({"id": observation_id_for(f"smishctl-score/{trace_id}/trial_score"),
                               "traceId": trace_id, "observationId": root_id, "name": "trial_score",
                               "value": float(t["score"]), "dataType": "NUMERIC",
                               "metadata": {"optimization_id": optimization_id, "trial": t["trial"]}})
        expected = sum(2 if (t["usage"] or t["cost_usd"] is not None) else 1 for t in trials)
        s.flush_spans(expected, deadline)
        s.send_scores(scores, deadline)
    return f"{lf.host}/project/{project_id}/sessions/{optimization_id}" if project_id else None
