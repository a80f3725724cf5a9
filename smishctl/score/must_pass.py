"""Scoring a must-pass set: every message must come out with its label; each miss is listed."""

from __future__ import annotations

from smishctl.core.records import RunRecord
from smishctl.data.golden import GoldenSet


def result(golden: GoldenSet, run_id: str, golden_record: dict | RunRecord, rows: list[dict]) -> dict:
    golden_run = RunRecord.of(golden_record)
    by_id = {r["item_id"]: r for r in rows}
    cases = []
    for it in golden.items:
        row = by_id.get(it["id"]) or {"status": "missing", "pred": None}
        ok = row.get("status") == "ok" and row.get("pred") == it["label"]
        got = row.get("pred") if row.get("status") == "ok" else f"<{row.get('status')}>"
        cases.append({"id": it["id"], "text": it["text"], "expected": it["label"], "predicted": got,
                      "probs": row.get("probs"), "note": it["note"], "passed": ok})
    missed = [c for c in cases if not c["passed"]]
    return {"set": golden.name, "path": str(golden.path), "run": run_id, "golden_run": golden_run.id,
            "model": golden_run.model_name, "prompt": golden_run.prompt_id,
            "n": len(cases), "n_passed": len(cases) - len(missed), "passed": not missed, "cases": cases}


def summary_line(res: dict) -> str:
    missed = res["n"] - res["n_passed"]
    return (f"must-pass {res['set']}: {res['n_passed']}/{res['n']} passed"
            + (f", {missed} missed" if missed else "") + f" ({res['model']} · {res['prompt']})")


def miss_line(case: dict) -> str:
    text = case["text"] if len(case["text"]) <= 90 else case["text"][:87] + "..."
    note = f" [{case['note']}]" if case["note"] else ""
    return f"expected {case['expected']}, got {case['predicted']}{note}: {text}"
