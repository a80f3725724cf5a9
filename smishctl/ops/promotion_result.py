"""What the promote door returns: a PromotionResult (or a dry run's plan) with its PolicyChecks, a
RollbackResult with its SkippedReleases, and the ProductionStatus. The CLI reads their attributes;
`to_dict()` is the JSON document `promote --json` has always printed (same keys, same order:
tests/promote_golden.py holds the proof)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from smishctl.store.production import ReleaseRef


def _ref(ref: ReleaseRef | None) -> dict[str, Any] | None:
    return ref.to_dict() if ref is not None else None


@dataclass(frozen=True)
class PolicyCheck:
    """One check of the [promotion] policy (smishctl.ops.promotion_policy, must-pass sets from
    smishctl.ops.must_pass). Only a bound has a `threshold`; a check that waits on an evaluation a dry run
    would do is `pending` (and passes for now); the run it was judged on is named by the one field its
    kind sets (robustness_run, production_run with `stats`, golden_run)."""

    name: str
    passed: bool
    value: float | None
    detail: str
    threshold: float | None = None
    pending: bool = False
    robustness_run: str | None = None
    production_run: str | None = None
    stats: dict[str, Any] | None = None  # smishctl.ops.compare.paired_stats against production
    golden_run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The check as promote --json and promotion.json hold it: unset keys left out, `detail` last."""
        out: dict[str, Any] = {"name": self.name, "passed": self.passed, "value": self.value}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.pending:
            out["pending"] = True
        runs = {"robustness_run": self.robustness_run, "production_run": self.production_run,
                "stats": self.stats, "golden_run": self.golden_run}
        out.update((key, value) for key, value in runs.items() if value is not None)
        out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class SkippedRelease:
    """A release a rollback passed over, and why (missing, or failing verification)."""

    release: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"release": self.release, "why": self.why}


@dataclass(frozen=True)
class EvaluationPlan:
    """What a dry run that found no evaluation would evaluate: how many test items, about how long
    (seconds per item of the model's last run, times the items; None without one), under which policy."""

    n_items: int
    limit: int | None
    balanced: bool
    dataset: str | None
    estimate_seconds: float | None
    estimate_from: str | None  # the run the estimate comes from
    seconds_per_item: float | None
    policy: list[str]  # the [promotion] policy, one line per check
    min_items: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "limit": self.limit, "balanced": self.balanced, "dataset": self.dataset,
                "estimate_seconds": self.estimate_seconds, "estimate_from": self.estimate_from,
                "seconds_per_item": self.seconds_per_item, "policy": self.policy, "min_items": self.min_items}


@dataclass(frozen=True)
class PromotionResult:
    """A promotion done, or with `dry_run` the one that would be done. `checks` are the policy's checks
    in order (smishctl.ops.promotion_policy.check_policy); `run` is None in a dry run that would have to
    evaluate, which `would_evaluate` then describes. `release`, `to` and `when` are set once installed."""

    artifact: str
    dry_run: bool
    from_: ReleaseRef | None  # production before
    run: str | None  # the evaluation judged
    evaluation: str  # how it was obtained: given | existing | evaluated | would evaluate
    metrics: dict[str, Any] | None
    checks: list[PolicyCheck]
    policy_passed: bool | None
    forced: bool
    reason: str | None
    would_evaluate: EvaluationPlan | None = None
    release: str | None = None
    to: ReleaseRef | None = None
    when: str | None = None
    hooks: dict[str, Any] = field(default_factory=dict)  # hook name -> what it did (Langfuse: the label)
    action: str = field(default="promote", init=False)

    @property
    def langfuse(self) -> dict[str, Any] | None:
        """Where Langfuse's `production` prompt label went (None without Langfuse hooks)."""
        return self.hooks.get("langfuse")

    @property
    def failed(self) -> list[PolicyCheck]:
        return [c for c in self.checks if not c.passed]

    def installed(self, release: str, to: ReleaseRef, when: str) -> PromotionResult:
        return replace(self, release=release, to=to, when=when)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action, "artifact": self.artifact, "dry_run": self.dry_run, "from": _ref(self.from_),
            "run": self.run, "evaluation": self.evaluation, "metrics": self.metrics,
            "checks": [c.to_dict() for c in self.checks], "policy_passed": self.policy_passed, "forced": self.forced, "reason": self.reason}
        if self.would_evaluate is not None:
            out["would_evaluate"] = self.would_evaluate.to_dict()
        if self.release is not None:
            out.update(release=self.release, to=_ref(self.to), when=self.when)
        return {**out, **self.hooks}


@dataclass(frozen=True)
class RollbackResult:
    """A rollback done (or, with `dry_run`, the one that would be done): from the current release to the
    previous usable one; `skipped` names releases passed over (missing or modified) and why."""

    when: str
    user: str
    from_: ReleaseRef
    to: ReleaseRef
    reason: str | None
    dry_run: bool
    skipped: list[SkippedRelease] = field(default_factory=list)
    left_damaged: str | None = None  # why the release left was refused, when it was
    hooks: dict[str, Any] = field(default_factory=dict)  # hook name -> what it did (Langfuse: the label)
    action: str = field(default="rollback", init=False)

    @property
    def langfuse(self) -> dict[str, Any] | None:
        return self.hooks.get("langfuse")

    def history_line(self) -> dict[str, Any]:
        """The line history.jsonl records for it."""
        out: dict[str, Any] = {"action": self.action, "when": self.when, "user": self.user,
                               "from": self.from_.to_dict(), "to": self.to.to_dict(), "reason": self.reason}
        if self.skipped:
            out["skipped"] = [s.to_dict() for s in self.skipped]
        if self.left_damaged:
            out["left_damaged"] = self.left_damaged
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**self.history_line(), "dry_run": self.dry_run, **self.hooks}


@dataclass(frozen=True)
class ProductionStatus:
    """What is in production and since when; `serving_problem` says when today's configuration would
    serve another system than the one promoted. Only `in_production` and `history` when nothing is."""

    in_production: bool
    history: int  # history entries
    artifact: str | None = None
    release: str | None = None
    since: str | None = None
    by: str | None = None
    last_action: str | None = None
    reason: str | None = None
    promoted_at: str | None = None
    run: str | None = None
    metrics: dict[str, Any] | None = None
    model: str | None = None
    forced: bool | None = None
    previous: str | None = None
    dir: str | None = None
    serving_problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if not self.in_production:
            return {"in_production": False, "history": self.history}
        return {"in_production": True, "artifact": self.artifact, "release": self.release, "since": self.since,
                "by": self.by, "last_action": self.last_action, "reason": self.reason,
                "promoted_at": self.promoted_at, "run": self.run, "metrics": self.metrics, "model": self.model,
                "forced": self.forced, "previous": self.previous, "dir": self.dir, "history": self.history,
                "serving_problem": self.serving_problem}
