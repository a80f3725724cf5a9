"""Join the runs of the shards of one evaluation back into the run an unsharded evaluation makes
(same items hash, config hash, order and metrics); see smishctl.data.shards for the partition."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.core.identity import config_hash
from smishctl.core.records import RunRecord
from smishctl.score.metrics import run_metrics
from smishctl.store.runs import PredictionWriter, Run, new_run_id, open_run, run_dir, short_ref

# Fields that must agree between shards (everything that decides the predictions except the items).
_SAME_IDENTITY = ("model", "endpoint", "prompt", "prompt_sha", "dataset", "temperature", "adapter")


def merge_runs(runs_dir: Path, refs: list[str], *, run_id: str | None = None) -> Run:
    """Join complete shard runs into one complete run; returns the new Run."""

    if len(refs) < 1:
        raise ConfigError("nothing to merge", hint="pass the shard run ids")
    runs = [open_run(runs_dir, ref) for ref in refs]
    if len({r.id for r in runs}) != len(runs):
        raise ConfigError("the same run is listed twice")
    records = [r.record() for r in runs]
    shards = [_shard(run, rec) for run, rec in zip(runs, records, strict=True)]
    first, first_shard = records[0], shards[0]
    for run, rec, shard in zip(runs, records, shards, strict=True):
        if not rec.complete:
            raise ConfigError(f"shard run {run.id} is {rec.status}",
                              # short: a hint that fits the line (only runs of the project resume)
                              hint=f"finish it first: smishctl evaluate --resume {short_ref(runs_dir, run.id)}")
        for key in _SAME_IDENTITY:
            if rec.identity.get(key) != first.identity.get(key):
                raise ConfigError(f"run {run.id} differs from {runs[0].id} in {key}",
                                  hint="merge shards of one evaluation only")
        for key in ("count", "full_items_hash", "full_n_items"):
            if shard[key] != first_shard[key]:
                raise ConfigError(f"run {run.id} is a shard of a different evaluation ({key} differs)",
                                  hint="merge shards of one evaluation only")
        if rec.split != first.split:
            raise ConfigError(f"run {run.id} is on split {rec.split}, not {first.split}")
    count = first_shard["count"]
    indexes = sorted(shard["index"] for shard in shards)
    if len(set(indexes)) != len(indexes):
        raise ConfigError("two runs are the same shard", hint="pass each shard once")
    missing = sorted(set(range(1, count + 1)) - set(indexes))
    if missing:
        raise ConfigError(f"shards {', '.join(f'{k}/{count}' for k in missing)} are missing",
                          hint="evaluate them (smishctl evaluate --shard K/N) and merge all")
    rows: list[dict[str, Any]] = []
    for run in runs:
        rows.extend(run.predictions())
    ids = [r["item_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ConfigError("an item appears in two shards", hint="the shard runs do not belong together")
    if len(rows) != first_shard["full_n_items"]:
        raise ConfigError(f"the shards hold {len(rows)} items, the evaluation has {first_shard['full_n_items']}")
    rows.sort(key=lambda r: r["index"])

    rid = run_id or new_run_id(first.model_name, first.prompt_id) + "-merged"
    run = Run(run_dir(runs_dir, rid))
    if run.dir.exists():
        raise ConfigError(f"run {rid} exists already")
    run.dir.mkdir(parents=True)
    writer = PredictionWriter(run.predictions_path)
    try:
        for r in rows:
            writer.write(r)
    finally:
        writer.close()
    identity = {**first.identity, "items_hash": first_shard["full_items_hash"]}
    identity.pop("shard", None)
    # Shard 1's Langfuse experiment is not the merged run's: the merged run is pushed on its own.
    extra = {k: v for k, v in first.extra.items() if k not in ("shard", "interrupted_at", "langfuse")}
    extra.update(
        merged_from=[{"id": r.id, "shard": f"{shard['index']}/{count}"} for r, shard in
                     sorted(zip(runs, shards, strict=True), key=lambda p: p[1]["index"])],
        wall_seconds=round(max(rec.wall_seconds for rec in records), 3),
        cpu_wall_seconds_total=round(sum(rec.wall_seconds for rec in records), 3),
    )
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record = replace(first, id=rid, status="complete", created_at=now, finished_at=now,
                     config={**first.config, "shard": None}, identity=identity, config_hash=config_hash(identity),
                     dataset={**first.dataset, "items_hash": identity["items_hash"], "n_items": len(rows)},
                     metrics=None, extra=extra)
    record.metrics = run_metrics(rows, record)
    run.write(record)
    return run


def _shard(run: Run, rec: RunRecord) -> dict[str, Any]:
    """The shard a run evaluated ({index, count, full_items_hash, full_n_items}); refuses other runs."""
    if rec.shard is None:
        raise ConfigError(f"run {run.id} is not a shard run", hint="merge runs made with --shard K/N")
    return rec.shard
