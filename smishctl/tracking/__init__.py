"""Langfuse tracking: experiments, traces, scores, prompt versions — never required, never blocking.

The local run is always written first; Langfuse receives a copy built from the run's files. When
Langfuse refuses, rejects or does not answer, commands still succeed (one warning line, bounded
delay) and the run is marked `"langfuse": {"status": "pending"}` in run.json until `smishctl push`.

Public API (nothing here imports langfuse until it is used):

Runs (evaluate, compare, push)
    langfuse_settings(settings, *, enabled=True) -> LangfuseSettings | None
    track_run(settings, run_or_id, *, enabled=True) -> PushStatus  # after an evaluation: push or mark disabled
    push_run(settings, run, *, lf=None, timeout=None) -> PushStatus  # push one run (idempotent)
    pending_runs(settings) -> list[Run]
    experiment_link(record) -> str | None                         # run.json["langfuse"]["url"] if pushed

Prompts (promote)
    publish_prompt(settings, artifact, *, label="production") -> dict
    rollback_prompt(settings, artifact, *, label="production") -> dict

Optimization trials (optimize)
    start_optimization(settings, optimization_id, *, enabled=True, metadata=None) -> OptimizationTracker
    OptimizationTracker.trace_trial(...), .finish() -> dict, .ids() -> dict

Library hooks (smishctl.core.hooks.RunHooks; smishctl.ops.hooks.default_hooks picks one)
    LangfuseHooks(settings)          # evaluate, compare, optimize, promote and rollback report here
    LangfuseOff(settings, reason)    # sends nothing; records why
"""

from __future__ import annotations

from smishctl.tracking.hooks import LangfuseHooks, LangfuseOff
from smishctl.tracking.optimization import OptimizationTracker, start_optimization
from smishctl.tracking.prompts import publish_prompt, rollback_prompt
from smishctl.tracking.push import experiment_link, pending_runs, push_run, set_status, track_run
from smishctl.tracking.push_status import PushStatus
from smishctl.tracking.settings import LangfuseSettings, langfuse_settings

__all__ = [
    "LangfuseHooks", "LangfuseOff", "LangfuseSettings", "OptimizationTracker", "PushStatus", "experiment_link",
    "langfuse_settings", "pending_runs", "publish_prompt", "push_run", "rollback_prompt", "set_status",
    "start_optimization", "track_run",
]
