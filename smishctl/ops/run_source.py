"""One run source per command: the recorded run of an evaluation's configuration, or that evaluation run.

promote, compare and must-pass each need several runs (the candidate's, production's on the same items,
the robustness and must-pass runs). Asked one at a time, every lookup loaded its dataset again
(`prepare`), listed the run store again and parsed every run.json twice. A RunSource is made once per
command and handed down explicitly: it loads each dataset once, lists the store once (each run.json
parsed once) and reads each run's predictions once. What it read stays as read for the rest of the
command: a run another process records meanwhile is not seen, which at worst evaluates it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.records import RunRecord
from smishctl.data import prepare as data_prepare
from smishctl.data.prepare import PreparedDataset, SplitOptions
from smishctl.data.registry import DEFAULT_DATASET
from smishctl.ops.evaluate import EvalConfig, EvalPlan, execute, prepare
from smishctl.ops.pairing import RunData, load_run
from smishctl.store.runs import Run, find_record, list_records, run_dir, short_ref


@dataclass(frozen=True)
class Obtained:
    """A run `obtain` gave: its record (None in a dry run that would have to evaluate) and whether it
    was found recorded rather than evaluated now."""

    record: RunRecord | None
    reused: bool


class RunSource:
    """What one command has read of the project's datasets and runs (see the module docstring)."""

    def __init__(self, settings: Settings, *, on_item: Callable[[dict[str, Any]], None] | None = None):
        self.settings = settings
        self.on_item = on_item  # told of each item of every evaluation this source runs (a progress line)
        self._datasets: dict[str, PreparedDataset] = {}
        self._records: list[tuple[Run, RunRecord]] | None = None
        self._data: dict[str, RunData] = {}

    # -- datasets ---------------------------------------------------------------------------------
    def load_dataset(self, dataset: str | None, settings: Settings, *, options: SplitOptions | None = None,
                     evaluation_only: bool = False, **kw: Any) -> PreparedDataset:
        """smishctl.data.prepare.load_dataset_splits, once per set of arguments."""
        key = repr((dataset or DEFAULT_DATASET, options or SplitOptions(), evaluation_only, sorted(kw.items())))
        if key not in self._datasets:
            self._datasets[key] = data_prepare.load_dataset_splits(dataset, settings, options=options,
                                                                   evaluation_only=evaluation_only, **kw)
        return self._datasets[key]

    def prepare(self, cfg: EvalConfig) -> EvalPlan:
        """smishctl.ops.evaluate.prepare with this source's datasets."""
        return prepare(self.settings, cfg, load=self.load_dataset)

    # -- recorded runs ----------------------------------------------------------------------------
    def records(self) -> list[tuple[Run, RunRecord]]:
        """Every readable run of the store with its record, oldest first (listed on first use)."""
        if self._records is None:
            self._records = list_records(self.settings.runs_dir)
        return self._records

    def record(self, run_id: str) -> RunRecord | None:
        return next((rec for run, rec in self.records() if run.id == run_id), None)

    def run_data(self, run_id: str) -> RunData:
        """A stored run by id with its predictions (smishctl.ops.pairing.load_run's refusals), read once."""
        if run_id not in self._data:
            rec = self.record(run_id)
            if rec is None:  # not listed (unreadable, or recorded by another process): its own error
                self._data[run_id] = load_run(self.settings.runs_dir, run_id)
                return replace(self._data[run_id])
            short = short_ref(Path(self.settings.runs_dir), run_id)
            if rec.metrics is None:
                raise ConfigError(f"run {short} has no metrics (status {rec.status})",
                                  hint=f"finish it with: smishctl evaluate --resume {short}")
            run = Run(run_dir(self.settings.runs_dir, run_id))
            self._data[run_id] = RunData(id=run_id, record=rec, rows=run.predictions(record=rec), ref=run_id,
                                         short=short)
        return replace(self._data[run_id])  # a caller may set its role: the cached one stays as read

    def find(self, config_hash: str) -> RunRecord | None:
        """The newest complete run of this configuration (smishctl.store.runs.find_run's rule)."""
        found = find_record(self.records(), config_hash)
        return found[1] if found else None

    # -- the door ---------------------------------------------------------------------------------
    def obtain(self, cfg: EvalConfig, *, dry_run: bool = False, on_start: Callable[[EvalPlan], None] | None = None,
               on_item: Callable[[dict[str, Any]], None] | None = None) -> Obtained:
        """The recorded run of `cfg`, else (unless `dry_run`) `cfg` evaluated now and recorded."""
        plan = self.prepare(cfg)
        found = self.find(plan.record.config_hash)
        if found is not None or dry_run:
            return Obtained(found, reused=found is not None)
        plan.solver  # noqa: B018 - built before anything is written
        if on_start:
            on_start(plan)
        record = execute(plan, threads=cfg.threads, max_errors=cfg.max_errors, on_item=on_item or self.on_item)
        self.records().append((plan.run, record))  # the newest run: found by the next lookup of cfg
        return Obtained(record, reused=False)
