"""Does a run's record agree with its predictions? Promote gates on metrics recomputed from the rows,
and refuses a run whose run.json says something its predictions.jsonl does not (an edited macro-F1,
a cut or duplicated row, rows of other items)."""

from __future__ import annotations

import math

from smishctl.core.records import RunRecord
from smishctl.data.prepare import Example, content_hash
from smishctl.score.metrics import run_metrics

# The metrics gates read, compared between the record and the rows.
CHECKED = ("n_items", "n_scored", "n_errors", "n_invalid", "accuracy", "macro_f1", "error_rate", "invalid_rate")


def _differs(a, b) -> bool:
    if a is None or b is None:
        return a is not b
    return not math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


def rows_items_hash(rows: list[dict]) -> str | None:
    """The items hash of the examples the rows were made from (their order restored by `index`);
    None when a row lacks its text (rows written before texts were recorded)."""
    if any("text" not in r for r in rows):
        return None
    ordered = sorted(rows, key=lambda r: r.get("index", 0))
    return content_hash([Example(id=r["item_id"], text=r["text"], label=r["gold"], raw_text="") for r in ordered])


def record_mismatches(record: dict, rows: list[dict]) -> list[str]:
    """What the record claims that its rows contradict (empty when they agree)."""
    rec = RunRecord.of(record)
    ds = rec.dataset
    problems = []
    ids = [r["item_id"] for r in rows]
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} items are predicted twice")
    if ds.get("n_items") is not None and len(rows) != ds["n_items"]:
        problems.append(f"{len(rows)} prediction rows for {ds['n_items']} items")
    got = rows_items_hash(rows)
    if got is not None and ds.get("items_hash") and got != ds["items_hash"]:
        problems.append("its rows are not the items its record names (items hash differs)")
    recorded = rec.metrics or {}
    fresh = run_metrics(rows, rec)
    for key in CHECKED:
        if key in recorded and _differs(recorded[key], fresh.get(key)):
            problems.append(f"{key} is {recorded[key]} in run.json but {fresh.get(key)} from its predictions")
    for lab, per in (recorded.get("per_class") or {}).items():
        for key in ("precision", "recall", "f1"):
            if key in per and _differs(per[key], ((fresh.get("per_class") or {}).get(lab) or {}).get(key)):
                problems.append(f"{key}[{lab}] differs between run.json and its predictions")
    return problems
