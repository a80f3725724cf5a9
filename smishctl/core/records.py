"""The stored records of an evaluation: one `RunRecord` (run.json) and one `Prediction` per item
(predictions.jsonl), both versioned.

Records carry `schema_version`. Reading always migrates to the current version through an append-only
list of steps (a step is never edited once released), so runs written by earlier versions keep loading;
writing always stamps the current version. Unknown keys are kept as they are (`extra`), so a record
written by a newer version survives a read and write by this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol

from smishctl.core.errors import DataError
from smishctl.core.identity import ServingIdentity
from smishctl.core.shapes import (
    BOOL,
    COUNT,
    DICT,
    FINITE,
    INT,
    NONE,
    NUMBER,
    NUMBERS,
    PROBABILITIES,
    STR,
    STRS,
    Shape,
    check,
    kind_of,
)

SCHEMA_VERSION = 2  # 1: records written before the field existed
STATUSES = ("ok", "invalid", "error")
RUN_STATUSES = ("running", "interrupted", "aborted", "complete")
Status = Literal["ok", "invalid", "error"]


class Solver(Protocol):
    """Anything that turns one SMS into one solver result: pred, probs, status, error, raw, latency_ms,
    usage, cache_hit, cost_usd (see `Prediction`). DSPy programs, classic models and production all are."""

    labels: tuple[str, ...]

    def __call__(self, text: str) -> dict[str, Any]: ...


# --- migrations: (from_version, step); each step takes the record of that version, returns the next ---

def _run_v1_to_v2(rec: dict[str, Any]) -> dict[str, Any]:
    rec.setdefault("kind", "evaluation")  # the first records had no kind: they were all evaluations
    return rec


def _prediction_v1_to_v2(row: dict[str, Any]) -> dict[str, Any]:
    # Label probabilities, token usage and cache flags arrived after the first runs were written.
    row.setdefault("probs", None)
    row.setdefault("usage", {})
    row.setdefault("cache_hit", False)
    row.setdefault("error", None)
    row.setdefault("raw", None)
    return row


RUN_MIGRATIONS: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]] = [(1, _run_v1_to_v2)]
PREDICTION_MIGRATIONS: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]] = [(1, _prediction_v1_to_v2)]


def migrate(obj: dict[str, Any], steps: list[tuple[int, Callable[[dict[str, Any]], dict[str, Any]]]], what: str, *,
            current: int = SCHEMA_VERSION) -> dict[str, Any]:
    """`obj` brought to version `current` (a copy); refuses records from a newer smishctl. Prediction rows
    take the version of their run record (passed in as `schema_version`)."""
    out = dict(obj)
    version = out.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise DataError(f"{what} has an invalid schema_version {version!r}")
    if version > current:
        raise DataError(f"{what} was written by a newer smishctl (schema {version}, this one reads up to "
                        f"{current})", hint="read it with that newer version (pip install --upgrade smishctl)")
    for start, step in steps:
        if version == start:
            out = step(out)
            version = start + 1
    out["schema_version"] = current
    return out


# --- the types of the fields readers use: a record that breaks them is refused when read, not met later
# as an AttributeError in a listing (smishctl.core.shapes) ---

PREDICTION_SHAPE: Shape = {
    "item_id": STR, "index": INT, "gold": STR, "pred": (STR, NONE), "status": STR, "latency_ms": (FINITE, NONE),
    "probs": (PROBABILITIES, NONE), "error": (STR, NONE), "raw": (STR, NONE), "usage": DICT, "cache_hit": BOOL,
    "cost_usd": (FINITE, NONE), "text": (STR, NONE),
}
RUN_SHAPE: Shape = {
    "id": STR, "status": STR, "kind": STR, "config_hash": STR, "identity": DICT, "model": DICT, "prompt": DICT,
    "dataset": DICT, "config": DICT, "versions": DICT, "created_at": (STR, NONE), "finished_at": (STR, NONE),
    "metrics": (DICT, NONE), "shard": (DICT, NONE), "wall_seconds": NUMBER, "langfuse": DICT,
}
RUN_PARTS: dict[str, Shape] = {
    "dataset": {"name": (STR, NONE), "split": (STR, NONE), "n_items": COUNT, "labels": STRS, "model_labels": STRS,
                "items_hash": (STR, NONE), "split_hash": (STR, NONE), "train_dataset": (DICT, NONE),
                "provenance": (DICT, NONE)},
    "model": {"name": STR},
    "prompt": {"id": STR},
    "identity": {"model": STR, "endpoint": STR, "prompt_sha": STR, "harden": BOOL, "guard": BOOL},
    "metrics": {"per_class": DICT, "confusion": DICT, "latency_ms": NUMBERS, "tokens": NUMBERS},
}


def check_run_shape(rec: dict[str, Any], where: str) -> None:
    """The run record's fields and the parts of them its readers use; every other metric is a number or
    null (a listing formats it as one) or a table of such."""
    check(rec, RUN_SHAPE, where)
    for part, shape in RUN_PARTS.items():
        if isinstance(rec.get(part), dict):
            check(rec[part], shape, f"{where}: {part}")
    for name, value in (rec.get("metrics") or {}).items():
        if name not in RUN_PARTS["metrics"] and not (NUMBER.fits(value) or value is None
                                                      or isinstance(value, dict | list)):
            raise DataError(f"{where}: metrics: {name} must be a number or null, not {kind_of(value)}",
                            hint="the file was edited or damaged; fix or remove it")


@dataclass
class Prediction:
    """One item's outcome. `status`: ok (a valid label), invalid (the model answered something that is
    not a label; a model failure) or error (the call failed; an infrastructure failure, retried on resume)."""

    item_id: str
    index: int
    gold: str
    pred: str | None
    status: Status
    latency_ms: float = 0.0
    probs: dict[str, float] | None = None
    error: str | None = None
    raw: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    cache_hit: bool = False
    cost_usd: float | None = None
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, row: dict[str, Any], *, where: str = "prediction") -> Prediction:
        """A stored or freshly made row (current version unless the row says otherwise)."""
        row = migrate({"schema_version": SCHEMA_VERSION, **row}, PREDICTION_MIGRATIONS, where)
        row.pop("schema_version")
        missing = [k for k in ("item_id", "gold", "status") if k not in row]
        if missing:
            raise DataError(f"{where} lacks {', '.join(missing)}")
        check(row, PREDICTION_SHAPE, where)
        if row["status"] not in STATUSES:
            raise DataError(f"{where} has an unknown status {row['status']!r}")
        if row["status"] == "ok" and row.get("pred") is None:
            raise DataError(f"{where} is ok but has no label")
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(index=row.pop("index", 0), pred=row.pop("pred", None),
                   **{k: row.pop(k) for k in list(row) if k in known}, extra=row)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        if out["text"] is None:
            del out["text"]
        return {**out, **self.extra}


@dataclass
class RunRecord:
    """run.json: what was evaluated (model, prompt, dataset, config and its identity hash), how it went
    (status, metrics, timings) and where it was pushed. Metrics are those of `smishctl.score.metrics`."""

    id: str
    status: str
    config_hash: str = ""
    identity: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    prompt: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    kind: str = "evaluation"
    created_at: str | None = None
    finished_at: str | None = None
    metrics: dict[str, Any] | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, rec: dict[str, Any], *, where: str = "run record") -> RunRecord:
        rec = migrate(rec, RUN_MIGRATIONS, where)
        missing = [k for k in ("id", "status") if k not in rec]
        if missing:
            raise DataError(f"{where} lacks {', '.join(missing)}")
        check_run_shape(rec, where)
        if rec["status"] not in RUN_STATUSES:
            raise DataError(f"{where} has an unknown status {rec['status']!r}")
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: rec.pop(k) for k in list(rec) if k in known}, extra=rec)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the same key order as the records before typing, unknown keys last."""
        out = {"id": self.id, "kind": self.kind, "status": self.status, "schema_version": self.schema_version,
               "created_at": self.created_at, "config": self.config, "config_hash": self.config_hash,
               "identity": self.identity, "model": self.model, "prompt": self.prompt, "dataset": self.dataset,
               "versions": self.versions, "metrics": self.metrics, "finished_at": self.finished_at}
        # Optional scalars a record did not have stay absent rather than becoming null.
        out = {k: v for k, v in out.items() if v is not None}
        return {**out, **self.extra}

    # The fields most readers want, in one place instead of `.get(...) or {}` chains.
    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def model_name(self) -> str:
        name: str = self.model.get("name") or self.identity.get("model", "?")
        return name

    @property
    def prompt_id(self) -> str:
        prompt: str = self.prompt.get("id") or self.identity.get("prompt", "?")
        return prompt

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.dataset.get("labels") or ())

    @property
    def split(self) -> str | None:
        return self.dataset.get("split")

    @property
    def n_items(self) -> int:
        return int(self.dataset.get("n_items") or 0)

    @property
    def items_hash(self) -> str | None:
        return self.dataset.get("items_hash")

    @property
    def split_hash(self) -> str | None:
        return self.dataset.get("split_hash")

    @property
    def dataset_name(self) -> str | None:
        return self.dataset.get("name")

    @property
    def serving(self) -> ServingIdentity:
        """The system this run measured (smishctl.core.identity): what promote compares with production.
        ConfigError when the record's identity disagrees with its config, config hash or dataset block."""
        return ServingIdentity.from_record(self.identity, self.config, self.config_hash, self.dataset)

    @property
    def train_dataset(self) -> dict[str, Any] | None:
        """Where a classic model learned: {dataset, split, split_hash, n_items}; None for LLM programs."""
        return self.dataset.get("train_dataset")

    @classmethod
    def of(cls, rec: dict[str, Any] | RunRecord, *, where: str = "run record") -> RunRecord:
        """`rec` as a RunRecord: a RunRecord as it is, a stored or freshly built dict read through from_dict."""
        return rec if isinstance(rec, RunRecord) else cls.from_dict(rec, where=where)

    @property
    def model_labels(self) -> tuple[str, ...]:
        """The labels the run's model answers with: recorded when they differ from the scored ones."""
        return tuple(self.dataset.get("model_labels") or ()) or self.labels

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the scored dataset came from (source, licence, evaluation_only, split policy)."""
        return self.dataset.get("provenance") or {}

    @property
    def shard(self) -> dict[str, Any] | None:
        """{index, count, full_items_hash, full_n_items} for a run of `evaluate --shard K/N`, else None."""
        return self.extra.get("shard")

    @property
    def wall_seconds(self) -> float:
        """Seconds the evaluation spent running, over all its resumes (0 when not recorded)."""
        return float(self.extra.get("wall_seconds") or 0)

    @property
    def langfuse(self) -> dict[str, Any]:
        """What the Langfuse hooks recorded (status pushed, pending or disabled; url, error); {} when none."""
        return self.extra.get("langfuse") or {}
