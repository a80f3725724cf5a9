"""The result of `smishctl compare`, typed: what the reporters and the CLI read by attribute.

`Comparison.to_dict()` is the `smishctl.compare/1` document (`--json`, `--json-file`): the field order
of every class below is the key order of that document, so a dataclass field is never reordered or
renamed without a new schema. `from_dict` reads such a document back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "smishctl.compare/1"


@dataclass
class DatasetInfo:
    name: str | None
    split: str | None
    labels: list[str]


@dataclass
class ComparedRun:
    """One run as compared: its `metrics` are those of the items common to all runs."""
    id: str
    name: str
    role: str  # baseline | candidate | reference (shown, not gated)
    status: str
    model: str
    prompt: str
    config_hash: str
    items_hash: str | None
    n_items: int  # the run's own items (the comparison uses `Comparison.n_common_items` of them)
    metrics: dict[str, Any]
    cached: bool  # some items came from the cache: its speed and cost are not compared
    over_error_budget: bool


@dataclass
class MetricRow:
    """One row of the table: a value per run, the runs marked best, deltas to the baseline."""
    key: str
    title: str
    format: str
    higher_is_better: bool | None
    values: list[float | None]
    best: list[int]
    deltas: list[float | None] | None
    cached: list[int]  # runs whose value is a cache's, shown as 'cached' and never compared


@dataclass
class PairedStats:
    """A candidate against the baseline on their common items: exact McNemar, bootstrap macro-F1 difference."""
    run: str
    baseline: str
    n_paired: int
    baseline_only_correct: int
    candidate_only_correct: int
    mcnemar_p: float
    macro_f1_diff: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    n_boot: int
    seed: int
    significant: bool
    significantly_worse: bool


@dataclass
class DiffItem:
    item_id: str
    gold: str
    text: str | None
    answers: list[str]  # in the order of `Comparison.runs`
    correct: list[bool]


@dataclass
class Disagreements:
    """The common items the runs answer differently: the first `len(items)` of `n`."""
    n: int
    items: list[DiffItem]
    left_out: int

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Disagreements:
        return cls(n=d["n"], items=[DiffItem(**it) for it in d["items"]], left_out=d["left_out"])


@dataclass
class GateResult:
    run: str
    run_name: str
    gate: str
    metric: str
    op: str
    threshold: float
    value: float | None
    passed: bool
    message: str


@dataclass
class CheckResult:
    """A check that is not a user's gate: the error budget, no regression against the baseline."""
    check: str
    run: str
    value: float | None
    passed: bool


@dataclass
class MustPassCase:
    id: str
    text: str
    expected: str
    predicted: str | None
    probs: dict[str, float] | None
    note: str
    passed: bool


@dataclass
class MustPassResult:
    """A must-pass set checked on one run: the run of its model and prompt on the set, each message."""
    set: str
    path: str
    run: str
    golden_run: str
    model: str
    prompt: str
    n: int
    n_passed: int
    passed: bool
    cases: list[MustPassCase]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MustPassResult:
        return cls(**{**d, "cases": [MustPassCase(**c) for c in d["cases"]]})

    @classmethod
    def of(cls, res: dict[str, Any] | MustPassResult) -> MustPassResult:
        """`res` typed: a result as it is, a stored or freshly built dict read through from_dict."""
        return res if isinstance(res, MustPassResult) else cls.from_dict(res)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def missed(self) -> list[MustPassCase]:
        return [c for c in self.cases if not c.passed]


@dataclass
class Comparison:
    created_at: str
    dataset: DatasetInfo
    baseline: str | None  # the baseline run's id; None with one run
    n_common_items: int
    runs: list[ComparedRun]
    rows: list[MetricRow]
    stats: list[PairedStats]
    diff: Disagreements
    gates: list[GateResult]
    checks: list[CheckResult]
    must_pass: list[MustPassResult]
    warnings: list[str]
    failures: list[str]
    passed: bool
    exit_code: int  # 0 pass, 1 a gate or must-pass set failed, 3 a run over the error budget
    schema: str = field(default=SCHEMA)
    # (run name, URL) of each run pushed to Langfuse: shown by the CLI, not part of the document
    langfuse_links: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The `smishctl.compare/1` document (schema first, as it always was)."""
        d = asdict(self)
        del d["langfuse_links"]
        return {"schema": d.pop("schema"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        return cls(
            schema=d["schema"], created_at=d["created_at"], dataset=DatasetInfo(**d["dataset"]),
            baseline=d["baseline"], n_common_items=d["n_common_items"],
            runs=[ComparedRun(**r) for r in d["runs"]], rows=[MetricRow(**r) for r in d["rows"]],
            stats=[PairedStats(**s) for s in d["stats"]], diff=Disagreements.from_dict(d["diff"]),
            gates=[GateResult(**g) for g in d["gates"]], checks=[CheckResult(**c) for c in d["checks"]],
            must_pass=[MustPassResult.from_dict(m) for m in d["must_pass"]], warnings=list(d["warnings"]),
            failures=list(d["failures"]), passed=d["passed"], exit_code=d["exit_code"])

    @property
    def checked(self) -> int:
        """How many gates, checks and must-pass results the comparison judged."""
        return len(self.gates) + len(self.checks) + len(self.must_pass)

    def run(self, run_id: str) -> ComparedRun:
        return next(r for r in self.runs if r.id == run_id)
