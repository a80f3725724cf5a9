"""A run's items one by one: each message with its gold label and the run's answer, for `runs show
--items/--errors`, and the items runs answer differently, for `compare --diff` and the reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smishctl.core.records import Prediction, RunRecord
from smishctl.store.runs import DamagedRow, Run

INVALID, ERROR = "invalid", "error"  # the answer shown for a row without a label


def answer(p: Prediction) -> str:
    """What the run answered: its label, or `invalid` (an unusable answer) or `error` (a failed call)."""
    return p.pred if p.status == "ok" and p.pred is not None else (INVALID if p.status == "invalid" else ERROR)


def is_right(p: Prediction) -> bool:
    return p.status == "ok" and p.pred == p.gold


def item_dict(p: Prediction) -> dict[str, Any]:
    """One item as `--json` prints it."""
    return {"item_id": p.item_id, "index": p.index, "gold": p.gold, "pred": p.pred, "status": p.status,
            "correct": is_right(p), "probs": p.probs, "error": p.error, "text": p.text}


@dataclass
class ItemList:
    record: RunRecord
    items: list[Prediction]  # those listed (at most `limit`)
    n_matching: int  # how many items matched before the limit
    n_items: int  # how many readable items the run has
    damaged: list[DamagedRow]  # rows that could not be read (left out, reported)


def run_items(run: Run, *, only_wrong: bool = False, limit: int | None = None) -> ItemList:
    """The run's items in run order; with `only_wrong`, those not answered with the gold label (wrong,
    invalid or failed). Damaged rows are left out and returned, so one bad line still shows the rest."""
    record = run.record()
    rows, damaged = run.scan_predictions()
    preds = [Prediction.from_dict(r, where=f"{run.predictions_path} item {r.get('item_id')}") for r in rows]
    matching = [p for p in preds if not (only_wrong and is_right(p))]
    shown = matching if limit is None else matching[:limit]
    return ItemList(record, shown, len(matching), len(preds), damaged)


def disagreements(paired: list[list[Prediction]], *, limit: int) -> dict[str, Any]:
    """The items (one list per item: each run's prediction, paired by item id) on which the runs do not
    all give the same answer: at most `limit` of them, in the order given, and how many were left out.
    A failed call counts as the answer `error`, so an item one run could not answer is listed too."""
    differ = [item for item in paired if len({answer(p) for p in item}) > 1]
    rows = [{"item_id": item[0].item_id, "gold": item[0].gold, "text": item[0].text,
             "answers": [answer(p) for p in item], "correct": [is_right(p) for p in item]}
            for item in differ[:limit]]
    return {"n": len(differ), "items": rows, "left_out": max(0, len(differ) - limit)}
