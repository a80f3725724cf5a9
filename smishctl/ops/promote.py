"""Promote a prompt artifact to production: evaluated, policy-checked, installed atomically, logged.

Steps: resolve and verify the artifact (manifest checksums) -> find (or run) its evaluation on
the test split -> check the [promotion] policy of smishctl.toml (smishctl.ops.promotion_policy:
min_macro_f1, max_error_rate, not significantly worse than production on the same items, ...) ->
under the production lock, stage a release, rename it into place, switch `current` atomically,
append to the history (smishctl.store.production). A crash at any point leaves the old production
intact (at worst an unused staging folder, removed by the next promote).
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, SmishError
from smishctl.core.identity import ServingIdentity
from smishctl.core.records import RunRecord
from smishctl.ops.evaluate import EvalConfig, EvalPlan
from smishctl.ops.hooks import RunHooks, Warn, default_hooks, notify
from smishctl.ops.pairing import RunData
from smishctl.ops.production import served_system
from smishctl.ops.production_baseline import production_baseline
from smishctl.ops.promotion_policy import Policy, check_policy, read_policy
from smishctl.ops.promotion_result import (
    EvaluationPlan,
    PolicyCheck,
    ProductionStatus,
    PromotionResult,
    RollbackResult,
    SkippedRelease,
)
from smishctl.ops.run_source import RunSource
from smishctl.score.evidence import REFUSED_HINT, record_mismatches, verified_metrics
from smishctl.store import production as release_store
from smishctl.store.artifacts import Artifact, resolve_artifact, verify_artifact
from smishctl.store.production import HistoryEntry, Release, ReleaseRef, read_current, read_history, verify_release
from smishctl.store.runs import open_run
from smishctl.store.serving import production_serving

TEST_SPLIT = "test"
OnStart = Callable[[EvalPlan], None] | None  # told before an evaluation starts (the CLI asks or announces)
OnItem = Callable[[dict[str, Any]], None] | None  # told of each item an evaluation answers (progress)


class PolicyError(SmishError):
    """The promotion policy refused the artifact (exit 1): a quality decision, not a usage error."""

    exit_code = 1


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


ROBUSTNESS_DATASET = "robustness"


# -- the evaluation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """What a run must be to count as evidence for promoting `artifact`: an evaluation of exactly the
    system production will serve (its serving identity) on the whole test split (or, when `[promotion]
    min_items` is set, at least that many of its items)."""

    artifact: Artifact
    serving: ServingIdentity
    dataset: str | None
    split_hash: str | None
    items_hash: str | None  # of the whole test split
    n_items: int  # of the whole test split
    min_items: int | None = None

    def problems(self, record: dict[str, Any] | RunRecord) -> list[str]:
        """Why run record `record` is not this evidence (empty when it is)."""
        rec = RunRecord.of(record)
        rid = rec.id
        if rec.prompt_id != self.artifact.id:
            return [f"run {rid} evaluated {rec.prompt_id}, not {self.artifact.id}"]
        out = []
        if rec.split != TEST_SPLIT:
            out.append(f"run {rid} is on the {rec.split} split; promotion needs an evaluation on the test split")
        if not rec.complete:
            out.append(f"run {rid} is {rec.status}, not complete")
        if rec.dataset_name != self.dataset:
            out.append(f"run {rid} is on dataset {rec.dataset_name}, {self.artifact.id} was built for {self.dataset}")
        try:
            diff = rec.serving.differences(self.serving)
        except ConfigError as exc:  # an identity that disagrees with its own record measured nothing known
            return [*out, f"run {rid}: {exc}"]
        if diff:
            out.append(f"run {rid} measured another system than production will serve ({'; '.join(diff)})")
        if self.min_items is None:
            if rec.items_hash != self.items_hash:
                out.append(f"run {rid} scored {rec.n_items} items, not the whole test split ({self.n_items})")
        elif rec.split_hash != self.split_hash or rec.n_items < self.min_items:
            out.append(f"run {rid} scored {rec.n_items} items of the test split; [promotion] min_items is "
                       f"{self.min_items}")
        return out

    def check(self, record: dict[str, Any] | RunRecord) -> None:
        problems = self.problems(record)
        if problems:
            raise ConfigError("; ".join(problems),
                              hint="omit --run to evaluate the artifact as production will serve it (its own model "
                              "and adapter, hardened and guarded, on the whole test split)")


def production_evidence(settings: Settings, art: Artifact, pol: Policy, *, source: RunSource | None = None) -> Evidence:
    """What promote accepts for `art` (smishctl.store.serving.production_serving: the one function that
    says what production serves). Loads the test split (through `source`, the command's run source,
    when given); builds no model."""
    _spec, _adapter, serving = production_serving(art, settings)
    full = (source or RunSource(settings)).prepare(_eval_config(art, None, False)).record
    return Evidence(artifact=art, serving=serving, dataset=full.dataset_name, split_hash=full.split_hash,
                    items_hash=full.items_hash, n_items=full.n_items, min_items=pol.min_items)


def find_evaluation(source: RunSource, evidence: Evidence) -> RunRecord | None:
    """The largest (then newest) complete run that is `evidence` for its artifact."""

    best = None
    for _run, rec in source.records():
        if evidence.problems(rec):
            continue
        if best is None or rec.n_items >= best.n_items:
            best = rec
    return best


def _eval_config(art: Artifact, limit: int | None, balanced: bool, model: str | None = None,
                 prompt: str | None = None) -> EvalConfig:
    info = art.info
    # By folder, not by id: an artifact given as a path outside the prompt store evaluates as it resolved.
    return EvalConfig(model=model or info.model_name, prompt=prompt or str(art.folder), dataset=info.dataset_name,
                      split=TEST_SPLIT, limit=limit, balanced=balanced)


def candidate_evaluation(source: RunSource, evidence: Evidence, *, run: str | None, limit: int | None,
                         balanced: bool, dry_run: bool, on_start: OnStart = None) -> tuple[RunRecord | None, str]:
    """(run record or None in a dry run that would evaluate, how it was obtained)."""

    art = evidence.artifact
    if run:
        record = open_run(source.settings.runs_dir, run).record()
        evidence.check(record)
        return record, "given"
    if limit is not None and (evidence.min_items is None or limit < evidence.min_items):
        raise ConfigError(f"--limit {limit} evaluates fewer items than promotion requires "
                          f"({evidence.min_items or f'the whole test split, {evidence.n_items}'})",
                          hint="drop --limit, or accept smaller evaluations with [promotion] min_items in smishctl.toml")
    if limit is None:
        found = find_evaluation(source, evidence)
        if found:
            return found, "existing"
    got = source.obtain(_eval_config(art, limit, balanced), dry_run=dry_run, on_start=on_start)
    if got.record is None:
        return None, "would evaluate"
    if not dry_run:
        evidence.check(got.record)
    return got.record, "existing" if got.reused else "evaluated"


def policy_summary(pol: Policy) -> list[str]:
    """The [promotion] policy as the lines a dry run shows, in the order the checks run."""
    lines = [f"{g.text} ({g.name})" if g.name else f"{g.text} (require)" for g in pol.test]
    lines += [f"{g.text} ({g.name}, on the robustness set)" for g in pol.robustness]
    lines.append(f"not significantly worse than production on the same items (McNemar p < {pol.no_regression.alpha:g})")
    lines += [f"must-pass set {name}: no miss" for name in pol.must_pass]
    return lines


def seconds_per_item(settings: Settings, serving: ServingIdentity, source: RunSource | None = None,
                     ) -> tuple[float, str] | None:
    """(mean seconds per item, run id) from the newest complete run of the same model and endpoint that
    the cache did not mostly answer; None when the project has none."""
    for _run, rec in reversed((source or RunSource(settings)).records()):
        m = rec.metrics or {}
        mean = (m.get("latency_ms") or {}).get("mean")
        try:
            same = rec.serving.model == serving.model and rec.serving.endpoint == serving.endpoint
        except ConfigError:
            continue
        if rec.complete and same and mean and m.get("cache_hits", 0) * 2 <= rec.n_items:
            return mean / 1000, rec.id
    return None


def evaluation_plan(source: RunSource, evidence: Evidence, pol: Policy, *, limit: int | None,
                    balanced: bool) -> EvaluationPlan:
    """What a dry run that found no evaluation would evaluate: how many test items, about how long
    (seconds per item of the model's last run, times the items; None without one), under which policy."""
    n_items = evidence.n_items if limit is None else min(limit, evidence.n_items)
    speed = seconds_per_item(source.settings, evidence.serving, source)
    return EvaluationPlan(n_items=n_items, limit=limit, balanced=balanced, dataset=evidence.dataset,
                          estimate_seconds=speed[0] * n_items if speed else None,
                          estimate_from=speed[1] if speed else None, seconds_per_item=speed[0] if speed else None,
                          policy=policy_summary(pol), min_items=pol.min_items)


def verified_run(source: RunSource, record: RunRecord) -> RunData:
    """The candidate's run with its rows, refused when its record and its predictions disagree; its
    metrics are those recomputed from the rows (smishctl.score.evidence), which the gates then read."""
    data = source.run_data(record.id)
    problems = record_mismatches(data.record, data.rows)
    if problems:
        raise ConfigError(f"run {data.id} does not match its predictions: {'; '.join(problems[:3])}",
                          hint=REFUSED_HINT)
    fresh = verified_metrics(data.record, data.rows)
    return RunData(id=data.id, record=replace(data.record, metrics=fresh), rows=data.rows, role=data.role,
                   ref=data.ref, short=data.short)


def robustness_evaluation(source: RunSource, art: Artifact, cand: RunRecord, *, dry_run: bool,
                          on_start: OnStart = None) -> RunRecord | None:
    """The candidate's run on the robustness set with the model of its test evaluation (reused when an
    identical run exists; None in a dry run that would have to evaluate)."""

    cfg = EvalConfig(model=cand.model_name, prompt=art.id, dataset=ROBUSTNESS_DATASET, split=TEST_SPLIT)
    return source.obtain(cfg, dry_run=dry_run, on_start=on_start).record


def _metrics_summary(m: dict[str, Any], robust: RunRecord | None = None) -> dict[str, Any]:
    keep = ("n_items", "accuracy", "macro_f1", "error_rate", "invalid_rate", "cost_per_1k")
    out = {k: m.get(k) for k in keep}
    out["recall"] = {k: v.get("recall") for k, v in (m.get("per_class") or {}).items()}
    out["p95_latency_ms"] = (m.get("latency_ms") or {}).get("p95")
    if robust is not None:
        rm = robust.metrics or {}
        out["robustness"] = {"run": robust.id, "attack_success_rate": rm.get("attack_success_rate"),
                             "control_ham_accuracy": rm.get("control_ham_accuracy"),
                             "n_attacks": rm.get("n_attacks")}
    return out


# -- installing -------------------------------------------------------------------------------

def _trusted_current(settings: Settings, *, force: bool) -> Release | None:
    """The current release, or None when production is empty. A tampered current release refuses the
    promotion, except with --force: then nothing in production is trusted as a baseline (None)."""
    try:
        return read_current(settings)
    except ConfigError as exc:
        if not force:
            raise ConfigError(str(exc), hint="replace it with --force --reason '...', or roll it back with "
                              "smishctl promote --rollback") from None
        return None


def repair_history(settings: Settings) -> HistoryEntry | None:
    """Record a switch of `current` that a crash kept out of history.jsonl (call under the lock).

    The link switch and the history append cannot be one atomic step; the switch goes first, so that
    history never names a release that was not installed. When `current` is not the release the last
    history line installed, the missing line is rebuilt from the release's promotion record."""
    try:
        current = read_current(settings)
    except ConfigError:  # a tampered release has no trustworthy record to rebuild the line from
        return None
    if current is None:
        return None
    history = read_history(settings)
    if history and history[-1].release == current.release:
        return None
    last = history[-1].to if history else None
    ever = {h.release for h in history}
    entry = HistoryEntry({
        "action": "rollback" if current.release in ever else "promote", "when": _now(), "user": _user(),
        "from": last.to_dict() if last else None, "to": current.ref.to_dict(), "run": current.run,
        "reason": current.reason, "forced": current.forced,
        "repaired": "the switch to this release was not recorded (interrupted); recorded on the next change"})
    release_store.append_history(settings, entry)
    return entry


def production_stack(history: list[HistoryEntry]) -> list[str]:
    """The releases that rollbacks can return to, oldest first, replayed from the history: a promote
    pushes its release, a rollback pops back to the one it restored."""
    stack: list[str] = []
    for h in history:
        to = h.release
        if not to:
            continue
        if h.action == "rollback":
            while stack and stack[-1] != to:
                stack.pop()
            if not stack:
                stack.append(to)
        else:
            stack.append(to)
    return stack


def _refuse_failed(art_id: str, failed: list[PolicyCheck], *, meanwhile: bool = False) -> None:
    against = " against the production promoted meanwhile" if meanwhile else ""
    raise PolicyError(f"promotion policy failed for {art_id}{against}: "
                      + "; ".join(f"{c.name}: {c.detail}" for c in failed),
                      hint="improve the prompt, or override with --force --reason '...'")


def _resolve_candidate(settings: Settings, ref: str, *, force: bool, reason: str | None) -> Artifact:
    """The artifact `ref` names, verified; refused before anything is evaluated."""
    if force and not (reason and reason.strip()):
        raise ConfigError("--force needs --reason '...' (it is recorded in the history)")
    if ref in ("production", "zero-shot", "", None):
        raise ConfigError(f"cannot promote {ref!r}", hint="promote an artifact id from smishctl prompts list")
    art = resolve_artifact(settings.prompts_dir, ref)
    if settings.production_dir.resolve() in art.folder.resolve().parents:
        raise ConfigError(f"{ref} is inside the production folder", hint="promote the artifact from the prompt store")
    verify_artifact(art)
    if not art.info.labels:
        raise ConfigError(f"artifact {art.id} has no labels in its manifest", hint="it is corrupt; re-run optimize")
    return art


def plan_promotion(settings: Settings, ref: str, *, run: str | None = None, reason: str | None = None,
                   force: bool = False, dry_run: bool = False, limit: int | None = None, balanced: bool = False,
                   on_start: OnStart = None, on_item: OnItem = None) -> tuple[PromotionResult, _Judged | None]:
    """What promoting `ref` would do: its evidence found (or, unless `dry_run`, evaluated), the policy
    checked against production. Refused (PolicyError) when the policy fails without --force."""
    pol = read_policy(settings)  # a malformed policy fails before anything is evaluated
    art = _resolve_candidate(settings, ref, force=force, reason=reason)
    runs = RunSource(settings, on_item=on_item)  # one per promote: each dataset loaded, each run.json parsed, once
    evidence = production_evidence(settings, art, pol, source=runs)
    cand, source = candidate_evaluation(runs, evidence, run=run, limit=limit, balanced=balanced, dry_run=dry_run,
                                        on_start=on_start)
    current = _trusted_current(settings, force=force)
    if current and current.artifact == art.id and not force and current.serving == evidence.serving.to_dict():
        raise ConfigError(f"{art.id} is already in production (release {current.release})")
    judged = None
    if cand is not None:
        judged = _Judged(runs, pol, evidence, cand, verified_run(runs, cand), on_start)
        robust = robustness_evaluation(runs, art, cand, dry_run=dry_run, on_start=on_start) if pol.needs_robustness else None
        judged = replace(judged, robust=robust)
    checks = judged.checks(current, dry_run=dry_run) if judged else []
    failed = [c for c in checks if not c.passed]
    plan = PromotionResult(
        artifact=art.id, dry_run=dry_run, from_=current.ref if current else None, run=cand.id if cand else None,
        evaluation=source, metrics=_metrics_summary(judged.cand_run.metrics, judged.robust) if judged else None,
        checks=checks, policy_passed=not failed if cand else None, forced=bool(force and failed), reason=reason,
        would_evaluate=evaluation_plan(runs, evidence, pol, limit=limit, balanced=balanced)
        if dry_run and cand is None else None)
    if failed and not force:
        _refuse_failed(art.id, failed)
    return plan, judged


@dataclass(frozen=True)
class _Judged:
    """The candidate's evidence and what the policy judges it with (its checks against a production)."""

    runs: RunSource
    pol: Policy
    evidence: Evidence
    cand: RunRecord
    cand_run: RunData
    on_start: OnStart = None
    robust: RunRecord | None = None

    def checks(self, current: Release | None, *, dry_run: bool = False) -> list[PolicyCheck]:
        prod_run = None
        if current is not None:
            prod_run = production_baseline(self.runs.settings, current, self.cand, dry_run=dry_run,
                                           on_start=self.on_start, source=self.runs)
        return check_policy(self.runs.settings, self.pol, self.cand_run, prod_run, current, self.robust,
                            source=self.runs)


def promote(settings: Settings, ref: str, *, run: str | None = None, reason: str | None = None,
            force: bool = False, dry_run: bool = False, limit: int | None = None, balanced: bool = False,
            on_start: OnStart = None, on_item: OnItem = None, hooks: RunHooks | None = None,
            on_warning: Warn | None = None) -> PromotionResult:
    """Promote an artifact; returns what was done (or, with dry_run, what would be done). The hooks
    (default: default_hooks) hear of a promotion once it is installed."""
    plan, judged = plan_promotion(settings, ref, run=run, reason=reason, force=force, dry_run=dry_run, limit=limit,
                                  balanced=balanced, on_start=on_start, on_item=on_item)
    if dry_run or judged is None:
        return plan
    art = judged.evidence.artifact
    with release_store.lock(settings):
        release_store.clean_staging(settings)
        repair_history(settings)
        current = _trusted_current(settings, force=force)  # another promote may have finished while we evaluated
        if (current.release if current else None) != (plan.from_.release if plan.from_ else None):
            checks = judged.checks(current)
            failed = [c for c in checks if not c.passed]
            if failed and not force:
                _refuse_failed(art.id, failed, meanwhile=True)
            plan = replace(plan, checks=checks, policy_passed=not failed, forced=bool(force and failed))
        result = _install(settings, plan, judged, current)
    heard: dict[str, Any] = {}
    notify(default_hooks(settings) if hooks is None else hooks, "artifact_promoted", art.id, into=heard,
           on_warning=on_warning)
    return replace(result, hooks=heard)


def _install(settings: Settings, plan: PromotionResult, judged: _Judged, current: Release | None) -> PromotionResult:
    """Stage the release, switch `current` to it and append the history line (under the lock)."""
    art, manifest = judged.evidence.artifact, judged.evidence.artifact.info
    release, when = release_store.next_release(settings), _now()
    promotion = {
        "release": release, "artifact": art.id, "run": judged.cand.id, "promoted_at": when, "user": _user(),
        "reason": plan.reason, "forced": plan.forced, "checks": [c.to_dict() for c in plan.checks], "metrics": plan.metrics,
        "model": manifest.model, "dataset": manifest.dataset, "labels": list(manifest.labels),
        "serving": judged.evidence.serving.to_dict(), "previous": current.release if current else None,
    }
    staging = release_store.stage_release(settings, art, promotion)
    release_store.install_release(settings, staging, release)
    to = ReleaseRef(release=release, artifact=art.id)
    release_store.append_history(settings, HistoryEntry({
        "action": "promote", "when": when, "user": promotion["user"],
        "from": current.ref.to_dict() if current else None, "to": to.to_dict(), "run": judged.cand.id,
        "metrics": plan.metrics, "reason": plan.reason, "forced": plan.forced,
        "failed_checks": [c.name for c in plan.failed]}))
    return replace(plan, from_=current.ref if current else None).installed(release, to, when)


def _rollback_target(settings: Settings, current: Release) -> tuple[str, Artifact, list[SkippedRelease]]:
    """(release, its artifact, releases skipped and why): the newest earlier release on the rollback
    stack that verifies; refused when there is none."""
    stack = production_stack(read_history(settings))
    if not stack or stack[-1] != current.release:  # no usable history: the release's own record
        stack = [p for p in (current.previous, current.release) if p]
    skipped: list[SkippedRelease] = []
    for prev in reversed(stack[:-1]):
        try:
            return prev, verify_release(release_store.release_dir(settings, prev)), skipped
        except ConfigError as exc:
            skipped.append(SkippedRelease(release=prev, why=str(exc)))
    why = f"; skipped: {', '.join(f'{s.release} ({s.why})' for s in skipped)}" if skipped else ""
    if current.damaged:  # say first why production is refused: that is what needs fixing
        raise ConfigError(f"{current.damaged}; and there is no previous production version to roll "
                          f"back to{why}", hint="promote a verified artifact with --force --reason '...'")
    raise ConfigError(f"release {current.release} ({current.artifact}) has no previous "
                      f"production version to roll back to{why}")


def rollback(settings: Settings, *, reason: str | None = None, dry_run: bool = False, hooks: RunHooks | None = None,
             on_warning: Warn | None = None) -> RollbackResult:
    """Restore the release that was in production before the current one, walking back the history:
    a release that is missing or fails verification is skipped (and reported), not a dead end. The
    hooks (default: default_hooks) hear of the rollback once it is done."""
    with release_store.lock(settings):
        try:
            current = read_current(settings)
        except ConfigError as exc:  # the current release itself was tampered with: leave it by the history
            current = release_store.damaged_current(settings, str(exc))
            if current is None:
                raise
        if current is None:
            raise ConfigError("production is empty: nothing to roll back", hint="promote an artifact first")
        if not dry_run and not current.damaged:
            repair_history(settings)
        target, target_art, skipped = _rollback_target(settings, current)
        result = RollbackResult(when=_now(), user=_user(), from_=current.ref,
                                to=ReleaseRef(release=target, artifact=target_art.id), reason=reason,
                                dry_run=dry_run, skipped=skipped, left_damaged=current.damaged)
        if dry_run:
            return result
        release_store.clean_staging(settings)
        release_store.switch_current(settings, target)
        release_store.append_history(settings, HistoryEntry(result.history_line()))
    heard: dict[str, Any] = {}
    notify(default_hooks(settings) if hooks is None else hooks, "artifact_rolled_back", target_art.id, into=heard,
           on_warning=on_warning)
    return replace(result, hooks=heard)


def status(settings: Settings) -> ProductionStatus:
    """What is in production and since when; `serving_problem` says when today's configuration would serve
    another system than the one promoted (load_production refuses it then). A missing or damaged
    current release is an error (read_current), not an empty production."""
    current = read_current(settings)
    history = read_history(settings)
    if current is None:
        return ProductionStatus(in_production=False, history=len(history))
    try:
        served_system(settings, current)
        problem = None
    except ConfigError as exc:
        problem = exc.one_line()
    since = next((h for h in reversed(history) if h.release == current.release), None)
    return ProductionStatus(
        in_production=True, artifact=current.artifact, release=current.release,
        since=since.when if since else current.promoted_at, by=since.user if since else current.user,
        last_action=since.action if since else "promote", reason=since.reason if since else current.reason,
        promoted_at=current.promoted_at, run=current.run, metrics=current.metrics, model=current.model_name,
        forced=current.forced, previous=current.previous, dir=current.dir, history=len(history),
        serving_problem=problem)
