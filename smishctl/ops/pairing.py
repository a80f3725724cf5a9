"""Load runs, refuse incomparable ones, and pair their predictions by item_id."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from smishctl.core.errors import ConfigError, DataError
from smishctl.core.records import RunRecord
from smishctl.report.refs import resolved
from smishctl.score.metrics import run_metrics
from smishctl.store.runs import Run, command_line_ref, open_run


@dataclass
class RunData:
    id: str
    record: RunRecord
    rows: list[dict[str, Any]]
    role: str = "candidate"  # baseline | candidate | reference (shown, not gated)
    name: str = ""
    ref: str = ""  # what the user typed (latest~1), for errors that name the runs
    short: str = ""  # the run's short reference in the store; its id when read from elsewhere
    by_item: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_item = {r["item_id"]: r for r in self.rows}
        if not self.name:
            model, prompt = self.record.model_name, self.record.prompt_id
            self.name = model if prompt == "zero-shot" and model.startswith("classic/") else f"{model} · {prompt}"

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.metrics or {}

    @property
    def resolved(self) -> str:
        """'latest~1 = a3f2 (model, n items)': which run a reference named."""
        return resolved(self.ref, self.short or self.id, self.record.model_name, self.record.status, len(self.rows))

    @property
    def dataset(self) -> dict[str, Any]:
        return self.record.dataset

    @property
    def labels(self) -> tuple[str, ...]:
        return self.record.labels


def load_run(runs_dir: Path, ref: str, role: str = "candidate") -> RunData:
    run: Run = open_run(runs_dir, ref)
    try:
        record = run.record()
    except DataError:  # the reader says what is wrong (too deep, a field of the wrong type)
        raise
    except (OSError, ValueError):
        raise ConfigError(f"run {ref!r} has no readable run.json", hint="it is corrupt; re-run the evaluation") from None
    short = command_line_ref(Path(runs_dir), run)
    if record.metrics is None:  # the hint names the run as `runs list` does: a long id would wrap mid-word
        raise ConfigError(f"run {short} has no metrics (status {record.status})",
                          hint=f"finish it with: smishctl evaluate --resume {short}")
    return RunData(id=run.id, record=record, rows=run.predictions(), role=role, ref=ref, short=short)


def named(*runs: RunData) -> str:
    """The runs an error is about, as the references resolved: 'latest~1 = a3f2 (…), latest = 9c0e (…)'."""
    return ", ".join(r.resolved for r in runs)


def check_comparable(runs: list[RunData]) -> list[str]:
    """Refuse runs of different datasets or label sets (exit 2); warn when items differ.

    Returns warnings. Paired statistics use only the items every run covers.
    """
    if not runs:
        raise ConfigError("nothing to compare", hint="pass run ids, or --models a,b")
    seen = set()
    for r in runs:
        if r.id in seen:
            twice = [x for x in runs if x.id == r.id]
            raise ConfigError(f"the same run is listed twice: {named(*twice)}")
        seen.add(r.id)
    first = runs[0].record
    warnings: list[str] = []
    for r in runs[1:]:
        rec = r.record
        if rec.dataset_name != first.dataset_name:
            raise ConfigError(
                f"the runs are on different datasets ({first.dataset_name} vs {rec.dataset_name}): "
                f"{named(runs[0], r)}",
                hint="compare runs evaluated on the same dataset and split")
        # A label set is a set: a classic run and a zero-shot run on one file may list it in another order.
        if set(rec.labels) != set(first.labels):
            raise ConfigError(f"the runs have different label sets ({first.labels} vs {rec.labels}): "
                              f"{named(runs[0], r)}")
        if rec.split != first.split:
            raise ConfigError(f"the runs are on different splits ({first.split} vs {rec.split}): {named(runs[0], r)}")
        prov_a, prov_b = first.provenance.get("sha256"), rec.provenance.get("sha256")
        if prov_a and prov_b and prov_a != prov_b:
            raise ConfigError(f"the runs used different versions of dataset {first.dataset_name} "
                              f"(source SHA-256 differs): {named(runs[0], r)}")
        if rec.items_hash != first.items_hash:
            warnings.append(f"runs {runs[0].id} and {r.id} cover different items "
                            f"({len(runs[0].rows)} vs {len(r.rows)}): statistics use the common items only")
    common = common_items(runs)
    if not common:
        raise ConfigError(f"the runs share no items: {named(*runs)}",
                          hint="evaluate them on the same split and sample (same --limit/--balanced)")
    for r in runs:
        if not r.record.complete:
            warnings.append(f"run {r.id} is {r.record.status}: it covers {len(r.rows)} of {r.record.n_items} items")
    return warnings


def common_items(runs: list[RunData]) -> list[str]:
    """Item ids every run has a prediction for, in the first run's order."""
    if not runs:
        return []
    shared = set(runs[0].by_item)
    for r in runs[1:]:
        shared &= set(r.by_item)
    return [r["item_id"] for r in runs[0].rows if r["item_id"] in shared]


def paired_codes(base: RunData, cand: RunData, labels: tuple[str, ...]) -> dict[str, Any]:
    """Gold and predictions as codes on the items both runs have. An error or an invalid answer is a
    wrong answer (code k), never left out: a run cannot gain by failing on its hard items."""
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    ids = common_items([base, cand])

    def code(row: dict[str, Any]) -> int:
        return index.get(row["pred"], k) if row["status"] == "ok" else k

    gold = np.array([index.get(base.by_item[i]["gold"], k) for i in ids], dtype=np.int64)
    pb = np.array([code(base.by_item[i]) for i in ids], dtype=np.int64)
    pc = np.array([code(cand.by_item[i]) for i in ids], dtype=np.int64)
    gold_mismatch = sum(1 for i in ids if base.by_item[i]["gold"] != cand.by_item[i]["gold"])
    if gold_mismatch:
        raise ConfigError(f"the runs disagree on the gold label of {gold_mismatch} items: {named(base, cand)}",
                          hint="they were made from different versions of the dataset")
    return {"item_ids": ids, "gold": gold, "base": pb, "cand": pc, "k": k}


def metrics_on(run: RunData, item_ids: list[str], labels: tuple[str, ...]) -> dict[str, Any]:
    """The run's metrics recomputed from its rows of `item_ids` only, with per-class metrics and the
    confusion matrix in the order of `labels` (the comparison's one order), so that every run in a table
    is measured on the same items as its paired statistics."""
    record = replace(run.record, dataset={**run.dataset, "labels": list(labels)})
    return run_metrics([run.by_item[i] for i in item_ids], record)
