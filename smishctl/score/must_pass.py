"""Scoring a must-pass set: every message must come out with its label; each miss is listed."""

from __future__ import annotations

from typing import Any

from smishctl.core.comparison import MustPassCase, MustPassResult
from smishctl.core.records import RunRecord
from smishctl.data.golden import GoldenSet


def result(golden: GoldenSet, run_id: str, golden_record: dict[str, Any] | RunRecord,
           rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The set checked on run `run_id`, as the stored form (MustPassResult.to_dict)."""
    golden_run = RunRecord.of(golden_record)
    by_id = {r["item_id"]: r for r in rows}
    cases = []
    for it in golden.items:
        row = by_id.get(it["id"]) or {"status": "missing", "pred": None}
        ok = row.get("status") == "ok" and row.get("pred") == it["label"]
        got = row.get("pred") if row.get("status") == "ok" else f"<{row.get('status')}>"
        cases.append(MustPassCase(id=it["id"], text=it["text"], expected=it["label"], predicted=got,
                                  probs=row.get("probs"), note=it["note"], passed=ok))
    n_passed = sum(c.passed for c in cases)
    return MustPassResult(set=golden.name, path=str(golden.path), run=run_id, golden_run=golden_run.id,
                          model=golden_run.model_name, prompt=golden_run.prompt_id, n=len(cases),
                          n_passed=n_passed, passed=n_passed == len(cases), cases=cases).to_dict()


def summary_line(res: dict[str, Any] | MustPassResult) -> str:
    res = MustPassResult.of(res)
    missed = res.n - res.n_passed
    return (f"must-pass {res.set}: {res.n_passed}/{res.n} passed"
            + (f", {missed} missed" if missed else "") + f" ({res.model} · {res.prompt})")


def miss_line(case: MustPassCase) -> str:
    text = case.text if len(case.text) <= 90 else case.text[:87] + "..."
    note = f" [{case.note}]" if case.note else ""
    return f"expected {case.expected}, got {case.predicted}{note}: {text}"
