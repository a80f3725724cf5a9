"""Recompute, never trust: every figure a gate, a star or a promotion reads comes from the prediction rows
(`verified_metrics`, used by compare and promote), and a run whose run.json says something its
predictions.jsonl does not (an edited macro-F1, ROC-AUC, ECE or latency, a cut or duplicated row, rows of
other items) is refused."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.core.records import RunRecord
from smishctl.data.prepare import Example, content_hash
from smishctl.score.metrics import run_metrics

REFUSED_HINT = "its run.json or predictions.jsonl was edited (or written by an older smishctl); evaluate again"


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return False
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


def _leaves(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """(path, value) of every leaf of a metrics document (dicts by key, lists by position)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _leaves(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, f"{path}[{i}]")
    else:
        yield path, value


def metric_mismatches(recorded: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Every stored figure that the rows' figure contradicts, by path (`auc.smishing.roc_auc`,
    `latency_ms.p95`). A stored figure the rows cannot give is a contradiction too; a figure the
    record lacks is none (gates read the rows' own)."""
    got = dict(_leaves(fresh))
    problems = []
    for path, value in _leaves(recorded):
        top = path.split(".", 1)[0].split("[", 1)[0]
        if top not in fresh:  # not a figure of the rows (nothing reads it)
            continue
        if path not in got:
            problems.append(f"{path} is {value!r} in run.json; its predictions give none")
        elif not _same(value, got[path]):
            problems.append(f"{path} is {value!r} in run.json but {got[path]!r} from its predictions")
    return problems


def rows_items_hash(rows: list[dict[str, Any]]) -> str | None:
    """The items hash of the examples the rows were made from (their order restored by `index`);
    None when a row lacks its text (rows written before texts were recorded)."""
    if any("text" not in r for r in rows):
        return None
    ordered = sorted(rows, key=lambda r: r.get("index", 0))
    return content_hash([Example(id=r["item_id"], text=r["text"], label=r["gold"], raw_text="") for r in ordered])


def record_mismatches(record: dict[str, Any] | RunRecord, rows: list[dict[str, Any]]) -> list[str]:
    """What the record claims about its items that its rows contradict (empty when they agree). Its
    figures are compared once, by `verified_metrics`, which every reader of them calls."""
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
    return problems


def verified_metrics(record: dict[str, Any] | RunRecord, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's metrics recomputed from its rows: what gates, stars and promotion read. Refused
    (ConfigError) when the record's stored metrics disagree with them, or when it has none."""
    rec = RunRecord.of(record)
    if not rec.metrics:
        raise ConfigError(f"run {rec.id} records no metrics (status {rec.status})",
                          hint=f"finish it with: smishctl evaluate --resume {rec.id}")
    fresh = run_metrics(rows, rec)
    problems = metric_mismatches(rec.metrics, fresh)
    if problems:
        raise ConfigError(f"run {rec.id} does not match its predictions: {'; '.join(problems[:3])}"
                          + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""), hint=REFUSED_HINT)
    return fresh
