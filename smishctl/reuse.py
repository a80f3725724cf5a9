"""Evaluate a configuration, or reuse a complete run that has exactly the same configuration.

Two runs are the same configuration when their `config_hash` (model, endpoint, prompt and its
checksum, dataset, exact items, decoding settings: see smishctl.evaluate.prepare) is equal.
"""

from __future__ import annotations

from smishctl.config import Settings
from smishctl.evaluate import EvalConfig, execute, prepare
from smishctl.runs import Run, list_runs


def find_run(settings: Settings, config_hash: str) -> Run | None:
    """The newest complete run with this configuration hash."""
    for run in reversed(list_runs(settings.runs_dir)):
        try:
            rec = run.read()
        except (OSError, ValueError):
            continue
        if rec.get("config_hash") == config_hash and rec.get("status") == "complete":
            return run
    return None


def find_or_evaluate(settings: Settings, cfg: EvalConfig, *, on_start=None, on_item=None) -> tuple[dict, bool]:
    """(run record, reused?)."""
    plan = prepare(settings, cfg)
    found = find_run(settings, plan.record["config_hash"])
    if found is not None:
        return found.read(), True
    if on_start:
        on_start(plan)
    return execute(plan, threads=cfg.threads, max_errors=cfg.max_errors, on_item=on_item), False
