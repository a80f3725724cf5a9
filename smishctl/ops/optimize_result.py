"""What `optimize` returns: an `OptimizeResult`, the stored artifact's typed manifest and what the workflow
found (`OptimizeSummary`), read by attribute. `to_dict()` is the `--json` document, unchanged in form
from the dict the workflow used to return (tests/test_optimize_json.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from smishctl.core.manifest import ArtifactManifest
from smishctl.solve.adapters import AdapterConfig
from smishctl.solve.calibration import calibration_note
from smishctl.solve.optimizers import Candidate
from smishctl.solve.trial_scores import search_note


@dataclass(frozen=True)
class DevFigures:
    """A program's figures on the dev messages (the subset of score.metrics the manifest keeps)."""

    accuracy: float | None
    macro_f1: float | None
    n_items: int | None
    n_invalid: int | None
    n_errors: int | None
    per_class: dict[str, dict[str, Any]] | None  # label -> precision, recall, f1, support
    latency_ms: dict[str, float] | None  # p50, p95, mean
    cost_per_1k: float | None

    @classmethod
    def from_metrics(cls, metrics: dict[str, Any]) -> DevFigures:
        return cls(**{f.name: metrics.get(f.name) for f in fields(cls)})

    def f1(self, label: str) -> float | None:
        f1: float | None = ((self.per_class or {}).get(label) or {}).get("f1")
        return f1

    @property
    def latency_p50_ms(self) -> float | None:
        return (self.latency_ms or {}).get("p50")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Spend:
    lm_calls: int
    search_lm_calls: int  # the search alone, without the dev scoring
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    wall_seconds: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchSummary:
    """The search's trials (solve.trial_scores) and, for kNN, the candidates it scored and the one kept."""

    evaluations: int
    full_dev_evaluations: int
    best_full_dev_accuracy: float | None
    candidates: tuple[Candidate, ...] = ()
    chosen: dict[str, Any] | None = None

    @property
    def note(self) -> str:
        return search_note(self.evaluations, self.best_full_dev_accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "full_dev_evaluations": self.full_dev_evaluations,
                "best_full_dev_accuracy": self.best_full_dev_accuracy,
                "candidates": [c.to_dict() for c in self.candidates], "chosen": self.chosen}


def decision_note(calibration: dict[str, Any] | None, decision: dict[str, Any] | None) -> str:
    """Calibration and decision rule, for the card and the summary ('' when neither applies)."""
    parts = []
    note = calibration_note(calibration) if "cv_macro_f1_plain" in (calibration or {}) else None
    if note:
        parts.append(note)
    if decision:
        parts.append(f"decision: {decision['label']} when p >= {decision['threshold']:.4f} "
                     f"(dev recall {decision['dev_recall']:.3f}, target {decision['target_recall']})")
    return ("; " + "; ".join(parts)) if parts else ""


@dataclass(frozen=True)
class OptimizeSummary:
    """What one optimization found and spent; the manifest is written from it."""

    optimizer: str
    params: dict[str, Any]
    seed: int
    model: str
    dataset: str
    train_size: int
    dev_size: int
    baseline: DevFigures
    optimized: DevFigures
    spend: Spend
    budget_exhausted: bool
    search: SearchSummary
    adapter: AdapterConfig
    calibration: dict[str, Any] | None
    decision: dict[str, Any] | None
    demos: str  # how the program chooses its demos, in words
    source: dict[str, Any] | None = None  # where the starting instructions came from (optimize --instructions/--from)
    feedback: dict[str, Any] | None = None  # what --with-feedback added (data.feedback.training_feedback)

    @property
    def macro_f1_gain(self) -> float:
        return (self.optimized.macro_f1 or 0) - (self.baseline.macro_f1 or 0)

    @property
    def decision_note(self) -> str:
        return decision_note(self.calibration, self.decision)


@dataclass(frozen=True)
class OptimizeResult:
    artifact: str  # the new version's id
    path: Path
    summary: OptimizeSummary
    manifest: ArtifactManifest  # as stored

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "path": str(self.path), **self.manifest.to_dict()}
