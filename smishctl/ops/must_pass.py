"""Must-pass checks: run the model and prompt of a run on a must-pass set; every miss is reported.

The set is evaluated like any dataset (evaluation-only, so scored whole), reusing a run of identical
configuration, so a CI job pays for it once. An item that failed with an error is not a pass: a
must-pass message has to be shown to be classified right.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smishctl.core.comparison import MustPassResult
from smishctl.core.config import Settings
from smishctl.core.records import RunRecord
from smishctl.data.golden import GoldenSet, load_golden
from smishctl.ops.evaluate import EvalConfig, EvalPlan
from smishctl.ops.promotion_result import PolicyCheck
from smishctl.ops.run_source import RunSource
from smishctl.score.must_pass import miss_line, result, summary_line
from smishctl.store.runs import open_run


def golden_config(record: dict[str, Any] | RunRecord, golden: GoldenSet) -> EvalConfig:
    """The evaluation of `record`'s model and prompt on the must-pass set."""
    rec = RunRecord.of(record)
    c = rec.config
    model_labels = rec.model_labels
    train = (rec.train_dataset or {}).get("dataset") or c.get("train_dataset")
    if train is None and not rec.provenance.get("evaluation_only"):
        train = c.get("dataset")  # a classic model learns where the compared run's model learned
    return EvalConfig(model=c.get("model") or rec.model.get("name"),
                      prompt=c.get("prompt") or rec.prompt.get("id") or "zero-shot",
                      dataset=str(golden.path), split="test", evaluation_only=True, train_dataset=train,
                      threads=c.get("threads", 1), harden=c.get("harden", True), guard=c.get("guard", True),
                      adapter=c.get("adapter"),
                      data_options={"labels": model_labels} if model_labels else {})


def check_record(settings: Settings, record: dict[str, Any] | RunRecord, golden: GoldenSet, *,
                 on_start: Callable[[EvalPlan], None] | None = None,
                 on_item: Callable[[dict[str, Any]], None] | None = None,
                 source: RunSource | None = None) -> dict[str, Any]:
    """`source`: the command's run source (smishctl.ops.run_source), so that a run is read once."""
    cfg = golden_config(record, golden)
    golden_record = (source or RunSource(settings)).obtain(cfg, on_start=on_start, on_item=on_item).record
    assert golden_record is not None  # obtain evaluates unless asked for a dry run
    rows = open_run(settings.runs_dir, golden_record.id).predictions(record=golden_record)
    return result(golden, RunRecord.of(record).id, golden_record, rows)


def policy_checks(settings: Settings, record: dict[str, Any] | RunRecord, names: list[str],
                  source: RunSource | None = None) -> list[PolicyCheck]:
    """`[promotion] must_pass = [...]`: one promotion check per set, failed by any miss."""

    checks = []
    for name in names:
        res = MustPassResult.from_dict(check_record(settings, record, load_golden(settings, name), source=source))
        missed = [miss_line(c) for c in res.missed]
        checks.append(PolicyCheck(name=f"must_pass:{res.set}", passed=res.passed, value=res.n_passed,
                                  threshold=res.n, golden_run=res.golden_run,
                                  detail=summary_line(res) + ("; " + "; ".join(missed[:5]) if missed else "")))
    return checks
