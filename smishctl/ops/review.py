"""Review a run's items: wrong and least confident first; accept, relabel, pin as must-pass, skip, undo.

Library only (no terminal): the interactive screen (smishctl.cli.review_cmd) and the spreadsheet
round trip (`--export` / `--import`) drive the same `ReviewSession`. Every decision is written at
once: a relabel appends to the dataset's corrections overlay, a must-pass addition to
datasets/golden/<set>.csv, and the progress to runs/<run>/review.json, so quitting at any point
loses nothing and a later review resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, DataError
from smishctl.core.records import RunRecord
from smishctl.core.shapes import LIST, NONE, STR, Shape, check
from smishctl.data.corrections import add_correction, remove_correction
from smishctl.data.golden import add_golden, remove_golden
from smishctl.data.prepare import SplitOptions, load_dataset_splits
from smishctl.data.registry import DEFAULT_DATASET
from smishctl.store.runs import command_line_ref, open_run
from smishctl.util.fs import atomic_write_json, atomic_write_text
from smishctl.util.inert import csv_cell, csv_value
from smishctl.util.jsonio import read_object

STATE_FILE = "review.json"
ACTIONS = ("accept", "relabel", "must-pass", "skip")
DEFAULT_MUST_PASS = "reviewed"
EXPORT_COLUMNS = ("item_id", "text", "gold", "pred", "status", "margin", "probs", "nearest", "decision",
                  "new_label", "note")


@dataclass
class ReviewItem:
    item_id: str
    text: str
    gold: str
    pred: str | None
    status: str
    probs: dict[str, Any] | None
    index: int

    @property
    def wrong(self) -> bool:
        return self.status != "ok" or self.pred != self.gold

    @property
    def margin(self) -> float | None:
        """Top probability minus the runner-up: small = unsure. None when the run has no probabilities."""
        if not self.probs:
            return None
        top = sorted((float(p) for p in self.probs.values()), reverse=True) + [0.0]
        return top[0] - top[1]


def review_order(rows: list[dict[str, Any]]) -> list[ReviewItem]:
    """Wrong first, then the least confident (lowest margin); without probabilities, run order."""
    items = [ReviewItem(item_id=r["item_id"], text=r.get("text") or "", gold=r["gold"], pred=r.get("pred"),
                        status=r.get("status", "ok"), probs=r.get("probs"), index=i) for i, r in enumerate(rows)]

    def key(it: ReviewItem) -> tuple[bool, float, int]:
        m = it.margin
        return (not it.wrong, m if m is not None else 2.0, it.index)

    return sorted(items, key=key)


class ReviewSession:
    def __init__(self, settings: Settings, run_ref: str, *, must_pass_set: str = DEFAULT_MUST_PASS):
        self.settings = settings
        self.run = open_run(settings.runs_dir, run_ref)
        self.record = self.run.record()
        rows = self.run.predictions()
        if not rows:
            raise ConfigError(f"run {self.run.id} has no predictions to review")
        if any(not r.get("text") for r in rows):
            raise ConfigError(f"run {self.run.id} does not record the message texts", hint="re-run the evaluation")
        self.items = review_order(rows)
        self.by_id = {it.item_id: it for it in self.items}
        self.dataset = self.record.dataset_name or "dataset"
        self.labels = self.record.model_labels
        self.state_path = self.run.dir / STATE_FILE
        self.state: dict[str, Any] = _read_state(self.state_path) if self.state_path.is_file() else {"run": self.run.id, "decisions": []}
        self.must_pass_set = must_pass_set
        self._neighbours: _Neighbours | None = None

    @property
    def ref(self) -> str:
        """How a command line names the run: its short reference in the project (what `runs list`
        shows), or its folder when the run was opened by a path outside it."""
        return command_line_ref(self.settings.runs_dir, self.run)

    # -- progress ---------------------------------------------------------------------------
    @property
    def decisions(self) -> list[dict[str, Any]]:
        decisions: list[dict[str, Any]] = self.state["decisions"]
        return decisions

    def decided(self) -> dict[str, dict[str, Any]]:
        return {d["item_id"]: d for d in self.decisions}

    def pending(self) -> list[ReviewItem]:
        """Items without a decision first (in review order), then the skipped ones."""
        done = self.decided()
        fresh = [it for it in self.items if it.item_id not in done]
        skipped = [it for it in self.items if done.get(it.item_id, {}).get("action") == "skip"]
        return fresh + skipped

    def counts(self) -> dict[str, Any]:
        out = {a: 0 for a in ACTIONS}
        for d in self.decided().values():
            out[d["action"]] += 1
        out["total"] = len(self.items)
        out["wrong"] = sum(it.wrong for it in self.items)
        return out

    def _save(self) -> None:
        self.state["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_json(self.state_path, self.state)

    # -- decisions ----------------------------------------------------------------------------
    def decide(self, item: ReviewItem, action: str, label: str | None = None, note: str = "") -> dict[str, Any]:
        if action not in ACTIONS:
            raise ConfigError(f"unknown review action {action!r}", hint=f"use one of: {', '.join(ACTIONS)}")
        decision: dict[str, Any] = {"item_id": item.item_id, "action": action, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if action == "relabel":
            if label not in self.labels or label == item.gold:
                raise ConfigError(f"relabel {item.item_id}: {label!r} is not another label",
                                  hint=f"use one of: {', '.join(lab for lab in self.labels if lab != item.gold)}")
            c = add_correction(self.settings, self.dataset, item_id=item.item_id, text=item.text, old_label=item.gold,
                               new_label=label, reason=note or f"review of run {self.run.id}")
            decision.update(label=label, correction_id=c["id"])
        elif action == "must-pass":
            label = label or item.gold
            added = add_golden(self.settings, self.must_pass_set, item.text, label, note or f"review of {self.run.id}")
            decision.update(label=label, must_pass_set=self.must_pass_set, added=added)
        self.decisions.append(decision)
        self._save()
        return decision

    def undo(self) -> dict[str, Any] | None:
        """Take back the last decision and what it wrote."""

        if not self.decisions:
            return None
        last = self.decisions[-1]
        item = self.by_id[last["item_id"]]
        if last.get("correction_id"):
            remove_correction(self.settings, self.dataset, last["correction_id"])
        if last["action"] == "must-pass" and last.get("added"):
            remove_golden(self.settings, last["must_pass_set"], item.text)
        self.decisions.pop()
        self._save()
        return last

    # -- context ------------------------------------------------------------------------------
    def nearest(self, item: ReviewItem, k: int = 3) -> list[tuple[str, str, float]]:
        """The training messages most like this one (TF-IDF cosine), with their labels."""
        if self._neighbours is None:
            self._neighbours = _Neighbours.for_run(self.settings, self.record)
        return self._neighbours.query(item.text, k) if self._neighbours else []

    # -- spreadsheet round trip -------------------------------------------------------------------
    def export_csv(self, path: Path) -> int:
        """Every item as one row; a cell a spreadsheet would run as a formula is guarded (util.inert)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        done = self.decided()
        for it in self.items:
            near = " | ".join(f"{lab}: {text[:80]}" for text, lab, _ in self.nearest(it))
            d = done.get(it.item_id, {})
            w.writerow([csv_cell(v) for v in (
                it.item_id, it.text, it.gold, it.pred or "", it.status, "" if it.margin is None else f"{it.margin:.3f}",
                json.dumps(it.probs) if it.probs else "", near, d.get("action", ""),
                d.get("label", "") if d.get("action") == "relabel" else "", "")])
        atomic_write_text(Path(path), buf.getvalue())
        return len(self.items)

    def import_csv(self, path: Path) -> dict[str, Any]:
        """Apply the `decision` column (accept, relabel + new_label, must-pass, skip). Every row is
        checked before anything is written; items already decided the same way are left alone."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:  # missing, a folder, unreadable: the user's file, not a crash
            raise DataError(f"cannot read {path}: {exc.strerror or type(exc).__name__}",
                            hint="import the CSV written by --export") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path} is not valid UTF-8 (offset {exc.start})", hint="save it as UTF-8 CSV") from None
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in ("item_id", "decision") if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path} has no column {missing[0]!r}", hint="import a file written by --export")
        planned = []
        for n, row in enumerate(reader, 2):
            row = {k: csv_value(v) for k, v in row.items() if isinstance(v, str)}  # undo export's formula guard
            action = (row.get("decision") or "").strip().lower()
            if not action:
                continue
            item = self.by_id.get((row.get("item_id") or "").strip())
            if item is None:
                raise DataError(f"{path}:{n}: item {row.get('item_id')!r} is not in run {self.run.id}")
            if action not in ACTIONS:
                raise DataError(f"{path}:{n}: unknown decision {action!r}", hint=f"use one of: {', '.join(ACTIONS)}")
            label = (row.get("new_label") or "").strip().lower() or None
            if action == "relabel" and (label not in self.labels or label == item.gold):
                raise DataError(f"{path}:{n}: relabel needs new_label, another of: {', '.join(self.labels)}")
            planned.append((item, action, label, (row.get("note") or "").strip()))
        done = self.decided()
        applied = unchanged = 0
        for item, action, label, note in planned:
            prev = done.get(item.item_id)
            if prev and (prev["action"] != "skip" or action == "skip"):
                unchanged += 1  # decided already (to change it: undo in the interactive review)
                continue
            self.decide(item, action, label if action == "relabel" else None, note)
            applied += 1
        return {"applied": applied, "unchanged": unchanged, **self.counts()}


DECISION_SHAPE: Shape = {"item_id": STR, "action": STR, "label": (STR, NONE), "note": (STR, NONE)}


def _read_state(path: Path) -> dict[str, Any]:
    """review.json through the bounded reader, with the types `decided` and `counts` rely on."""
    state = read_object(path, {"decisions": LIST})
    for n, d in enumerate(state.get("decisions", [])):
        check(d, DECISION_SHAPE, f"{path}: decisions[{n}]")
        if "item_id" not in d or d.get("action") not in ACTIONS:
            raise DataError(f"{path}: decisions[{n}] has no item or an unknown action",
                            hint="fix or remove the file (the review then starts again)")
    state.setdefault("decisions", [])
    return state


class _Neighbours:
    def __init__(self, pool: list[tuple[str, str]]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.pool = pool
        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self.matrix = self.vec.fit_transform([t for t, _ in pool])

    def query(self, text: str, k: int) -> list[tuple[str, str, float]]:
        sims = (self.matrix @ self.vec.transform([text]).T).toarray().ravel()
        top = sims.argsort()[::-1][:k]
        return [(self.pool[i][0], self.pool[i][1], float(sims[i])) for i in top]

    @classmethod
    def for_run(cls, settings: Settings, record: RunRecord) -> _Neighbours | None:
        """The training split the run's model learned from (for an evaluation-only file, the default
        dataset or the named training dataset); None when there is none."""

        c = record.config
        opts = dict(c.get("data_options") or {})
        split_opts = SplitOptions(**opts.pop("split")) if opts.get("split") else SplitOptions()
        try:
            ds = load_dataset_splits(c.get("dataset"), settings, options=split_opts,
                                     evaluation_only=bool(c.get("evaluation_only")), **opts)
            train = ds.split("train")
            if not train:
                name = (record.train_dataset or {}).get("dataset") or c.get("train_dataset") or DEFAULT_DATASET
                train = load_dataset_splits(name, settings).split("train")
        except (ConfigError, DataError):
            return None
        return cls([(ex.text, ex.label) for ex in train]) if train else None
