"""Promote a prompt artifact to production: evaluated, policy-checked, installed atomically, logged.

Steps: resolve and verify the artifact (manifest checksums) -> find (or run) its evaluation on
the test split -> check the [promotion] policy of smishctl.toml (min_macro_f1, max_error_rate,
not significantly worse than production on the same items) -> under a lock, stage a release
folder, rename it into prompts/production/releases/, switch the `current` symlink atomically,
append to history.jsonl. A crash at any point leaves the old production intact (at worst an
unused staging folder, removed by the next promote).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, SmishError
from smishctl.ops.compare import paired_stats
from smishctl.ops.evaluate import EvalConfig, find_or_evaluate, prepare
from smishctl.ops.must_pass import policy_checks
from smishctl.ops.pairing import load_run
from smishctl.score.gates import check_gate, parse_gate
from smishctl.store.artifacts import (
    CARD,
    MANIFEST,
    PROGRAM,
    PROMPT,
    Artifact,
    next_numbered,
    numbered_dirs,
    resolve_artifact,
    verify_artifact,
)
from smishctl.store.production import (
    CURRENT,
    HISTORY,
    LOCK,
    RELEASE_FILE,
    RELEASES,
    read_current,
    read_history,
    verify_release,
)
from smishctl.store.runs import find_run, list_runs, open_run
from smishctl.util.fs import atomic_write_json, file_lock
from smishctl.util.hashing import sha256_file

RELEASE_RE = re.compile(r"^r(\d{4,})$")
TEST_SPLIT = "test"


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
DEFAULT_MIN_CONTROL_HAM_ACCURACY = 0.80


def policy(settings: Settings) -> dict:
    """The [promotion] policy of smishctl.toml, validated.

    min_macro_f1, max_error_rate: on the test-split evaluation.
    max_attack_success_rate, min_control_ham_accuracy: on the robustness set, which promote then runs on
      the candidate. A rate of attacks let through means something only next to the ham controls (a
      model that never answers ham lets no attack through), so setting the first brings a floor for the
      second (0.80 unless set).
    require: gates in compare's syntax on the test-split metrics, e.g. ["recall[smishing] >= 0.95"].
    """

    raw = settings.section("promotion")
    out = {}
    for key in ("min_macro_f1", "max_error_rate", "max_attack_success_rate", "min_control_ham_accuracy"):
        if key in raw:
            try:
                out[key] = float(raw[key])
            except (TypeError, ValueError):
                raise ConfigError(f"[promotion] {key} in smishctl.toml must be a number, got {raw[key]!r}") from None
    if "max_attack_success_rate" in out:
        out.setdefault("min_control_ham_accuracy", DEFAULT_MIN_CONTROL_HAM_ACCURACY)
    require = raw.get("require", [])
    if isinstance(require, str):
        require = [require]
    if not isinstance(require, list) or not all(isinstance(g, str) for g in require):
        raise ConfigError("[promotion] require in smishctl.toml must be a list of gates",
                          hint='e.g. require = ["recall[smishing] >= 0.95"]')
    try:
        out["require"] = [parse_gate(g) for g in require]
    except ConfigError as exc:
        raise ConfigError(f"[promotion] require: {exc}", hint=exc.hint) from None
    out["alpha"] = float(raw.get("alpha", 0.05))
    if raw.get("must_pass"):  # must-pass set names or files (smishctl.ops.must_pass)
        out["must_pass"] = [raw["must_pass"]] if isinstance(raw["must_pass"], str) else list(raw["must_pass"])
    return out


def needs_robustness(pol: dict) -> bool:
    return "max_attack_success_rate" in pol or "min_control_ham_accuracy" in pol


# -- the evaluation ---------------------------------------------------------------------------

def _check_run_matches(record: dict, art: Artifact) -> None:
    rid = record.get("id")
    if (record.get("prompt") or {}).get("id") != art.id:
        raise ConfigError(f"run {rid} evaluated {record.get('prompt', {}).get('id')}, not {art.id}",
                          hint="pass a run of this artifact, or omit --run to evaluate it")
    want = art.manifest.get("files", {}).get(PROGRAM)
    if want and record.get("prompt", {}).get("sha256") != want:
        raise ConfigError(f"run {rid} evaluated a different version of {art.id} (program checksum differs)")
    if record.get("dataset", {}).get("split") != TEST_SPLIT:
        raise ConfigError(f"run {rid} is on the {record.get('dataset', {}).get('split')} split; "
                          f"promotion needs an evaluation on the test split")
    if record.get("status") != "complete":
        raise ConfigError(f"run {rid} is {record.get('status')}, not complete",
                          hint=f"finish it: smishctl evaluate --resume {rid}")
    ds = (art.manifest.get("dataset") or {}).get("name")
    if ds and record.get("dataset", {}).get("name") != ds:
        raise ConfigError(f"run {rid} is on dataset {record['dataset'].get('name')}, {art.id} was built for {ds}")


def find_evaluation(settings: Settings, art: Artifact) -> dict | None:
    """The largest (then newest) complete test-split run of exactly this artifact version."""

    best = None
    for run in list_runs(settings.runs_dir):
        try:
            rec = run.read()
            _check_run_matches(rec, art)
        except (ConfigError, OSError, ValueError):
            continue
        if best is None or rec["dataset"].get("n_items", 0) >= best["dataset"].get("n_items", 0):
            best = rec
    return best


def _eval_config(art: Artifact, limit: int | None, balanced: bool, model: str | None = None, prompt: str | None = None):
    m = art.manifest
    return EvalConfig(model=model or (m.get("model") or {}).get("name"), prompt=prompt or art.id,
                      dataset=(m.get("dataset") or {}).get("name"), split=TEST_SPLIT, limit=limit, balanced=balanced)


def candidate_evaluation(settings: Settings, art: Artifact, *, run: str | None, limit: int | None,
                         balanced: bool, dry_run: bool, on_start=None) -> tuple[dict | None, str]:
    """(run record or None in a dry run that would evaluate, how it was obtained)."""

    if run:
        record = open_run(settings.runs_dir, run).read()
        _check_run_matches(record, art)
        return record, "given"
    if limit is None:
        found = find_evaluation(settings, art)
        if found:
            return found, "existing"
    cfg = _eval_config(art, limit, balanced)
    if dry_run:
        found = find_run(settings.runs_dir, prepare(settings, cfg).record["config_hash"])
        return (found.read(), "existing") if found else (None, "would evaluate")

    record, reused = find_or_evaluate(settings, cfg, on_start=on_start)
    return record, "existing" if reused else "evaluated"


def production_evaluation(settings: Settings, current: dict, cand: dict, *, dry_run: bool, on_start=None) -> dict | None:
    """Production's run on the candidate's items (its recorded run if it matches, else evaluated)."""

    rid = current.get("run")
    if rid:
        try:
            rec = open_run(settings.runs_dir, rid).read()
            if rec.get("dataset", {}).get("items_hash") == cand["dataset"]["items_hash"] and "metrics" in rec:
                return rec
        except (ConfigError, OSError, ValueError):
            pass

    c = cand.get("config") or {}
    cfg = EvalConfig(model=(current.get("model") or {}).get("name"), prompt="production", dataset=c.get("dataset"),
                     split=TEST_SPLIT, limit=c.get("limit"), balanced=bool(c.get("balanced")),
                     data_options=c.get("data_options") or {})
    if dry_run:
        found = find_run(settings.runs_dir, prepare(settings, cfg).record["config_hash"])
        return found.read() if found else None
    return find_or_evaluate(settings, cfg, on_start=on_start)[0]


def robustness_evaluation(settings: Settings, art: Artifact, cand: dict, *, dry_run: bool,
                          on_start=None) -> dict | None:
    """The candidate's run on the robustness set with the model of its test evaluation (reused when an
    identical run exists; None in a dry run that would have to evaluate)."""

    model = (cand.get("model") or {}).get("name") or (art.manifest.get("model") or {}).get("name")
    cfg = EvalConfig(model=model, prompt=art.id, dataset=ROBUSTNESS_DATASET, split=TEST_SPLIT)
    if dry_run:
        found = find_run(settings.runs_dir, prepare(settings, cfg).record["config_hash"])
        return found.read() if found else None
    return find_or_evaluate(settings, cfg, on_start=on_start)[0]


# -- the policy -------------------------------------------------------------------------------

def _robustness_checks(pol: dict, robust: dict | None, needed: bool) -> list[dict]:
    if not needed:
        return []
    if robust is None:
        return [{"name": "robustness", "passed": True, "value": None, "pending": True,
                 "detail": "the candidate would be evaluated on the robustness set"}]
    m = robust.get("metrics") or {}
    checks = []
    if "max_attack_success_rate" in pol:
        v, limit = m.get("attack_success_rate"), pol["max_attack_success_rate"]
        ok = v is not None and v <= limit
        checks.append({"name": "max_attack_success_rate", "passed": ok, "value": v, "threshold": limit,
                       "robustness_run": robust.get("id"),
                       "detail": f"attack_success_rate={_f(v)} {'<=' if ok else '>'} {limit:g} "
                                 f"({m.get('n_attack_successes')}/{m.get('n_attacks')} attacks let through, "
                                 f"run {robust.get('id')})"})
    if "min_control_ham_accuracy" in pol:
        v, floor = m.get("control_ham_accuracy"), pol["min_control_ham_accuracy"]
        ok = v is not None and v >= floor
        checks.append({"name": "min_control_ham_accuracy", "passed": ok, "value": v, "threshold": floor,
                       "robustness_run": robust.get("id"),
                       "detail": f"control_ham_accuracy={_f(v)} {'>=' if ok else '<'} {floor:g} "
                                 f"(ham controls of the robustness set kept as ham)"})
    return checks


def _gate_checks(gates, metrics: dict, labels) -> list[dict]:
    out = []
    for gate in gates:
        if gate.label and labels and gate.label not in labels:
            raise ConfigError(f"[promotion] require {gate.text!r}: unknown label {gate.label!r}",
                              hint=f"the dataset's labels are: {', '.join(labels)}")
        res = check_gate(gate, metrics)
        out.append({"name": f"require {gate.key}", "passed": res["passed"], "value": res["value"],
                    "threshold": gate.threshold, "detail": res["message"]})
    return out


def check_policy(settings: Settings, cand: dict, prod: dict | None, current: dict | None,
                 robust: dict | None = None) -> list[dict]:
    pol = policy(settings)
    m = cand.get("metrics") or {}
    checks = []
    if "min_macro_f1" in pol:
        v = m.get("macro_f1")
        ok = v is not None and v >= pol["min_macro_f1"]
        checks.append({"name": "min_macro_f1", "passed": ok, "value": v, "threshold": pol["min_macro_f1"],
                       "detail": f"macro_f1={_f(v)} {'>=' if ok else '<'} {pol['min_macro_f1']:g}"})
    if "max_error_rate" in pol:
        v = m.get("error_rate", 0.0)
        ok = v <= pol["max_error_rate"]
        checks.append({"name": "max_error_rate", "passed": ok, "value": v, "threshold": pol["max_error_rate"],
                       "detail": f"error_rate={_f(v)} {'<=' if ok else '>'} {pol['max_error_rate']:g}"})
    checks += _gate_checks(pol["require"], m, tuple((cand.get("dataset") or {}).get("labels") or ()))
    checks += _robustness_checks(pol, robust, needs_robustness(pol))
    if current is None:
        checks.append({"name": "not_worse_than_production", "passed": True, "value": None,
                       "detail": "nothing in production yet"})
    elif prod is None:
        checks.append({"name": "not_worse_than_production", "passed": True, "value": None, "pending": True,
                       "detail": f"production ({current.get('artifact')}) would be evaluated on the same items"})
    else:
        base = load_run(settings.runs_dir, prod["id"])
        cr = load_run(settings.runs_dir, cand["id"])
        s = paired_stats(base, cr, tuple(cand["dataset"]["labels"]), n_boot=1000, seed=0)
        worse = s["mcnemar_p"] < pol["alpha"] and (s["macro_f1_diff"] or 0) < 0
        checks.append({"name": "not_worse_than_production", "passed": not worse, "value": s["mcnemar_p"],
                       "production_run": prod["id"], "stats": s,
                       "detail": f"macro-F1 {s['macro_f1_diff']:+.3f} vs production {current.get('artifact')} on "
                                 f"{s['n_paired']} items, McNemar p={s['mcnemar_p']:.4g}"
                                 + (f" < {pol['alpha']:g}: significantly worse" if worse else "")})
    if pol.get("must_pass"):
        checks += policy_checks(settings, cand, pol["must_pass"])
    return checks


def _f(v) -> str:
    return "unknown" if v is None else f"{v:.4g}"


def _metrics_summary(m: dict, robust: dict | None = None) -> dict:
    keep = ("n_items", "accuracy", "macro_f1", "error_rate", "invalid_rate", "cost_per_1k")
    out = {k: m.get(k) for k in keep}
    out["recall"] = {k: v.get("recall") for k, v in (m.get("per_class") or {}).items()}
    out["p95_latency_ms"] = (m.get("latency_ms") or {}).get("p95")
    if robust is not None:
        rm = robust.get("metrics") or {}
        out["robustness"] = {"run": robust.get("id"), "attack_success_rate": rm.get("attack_success_rate"),
                             "control_ham_accuracy": rm.get("control_ham_accuracy"),
                             "n_attacks": rm.get("n_attacks")}
    return out


# -- installing -------------------------------------------------------------------------------

def _releases(prod: Path) -> list[str]:
    return numbered_dirs(prod / RELEASES, RELEASE_RE)


def _next_release(prod: Path) -> str:
    return next_numbered(prod / RELEASES, RELEASE_RE, "r")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _switch_current(prod: Path, release: str) -> None:
    """Point `current` at releases/<release> in one rename (readers see the old or the new, never neither)."""
    link = prod / CURRENT
    if link.exists() and not link.is_symlink():
        raise ConfigError(f"{link} is not managed by smishctl (a real folder, not a link)",
                          hint="move it away, then promote again")
    tmp = prod / f".{CURRENT}-{secrets.token_hex(4)}"
    os.symlink(f"{RELEASES}/{release}", tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(prod)


def _append_history(prod: Path, entry: dict) -> None:
    with open(prod / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def repair_history(settings: Settings) -> dict | None:
    """Record a switch of `current` that a crash kept out of history.jsonl (call under the lock).

    The link switch and the history append cannot be one atomic step; the switch goes first, so that
    history never names a release that was not installed. When `current` is not the release the last
    history line installed, the missing line is rebuilt from the release's promotion record."""
    current = read_current(settings)
    if current is None:
        return None
    history = read_history(settings)
    if history and (history[-1].get("to") or {}).get("release") == current["release"]:
        return None
    last = (history[-1].get("to") if history else None) or None
    ever = {(h.get("to") or {}).get("release") for h in history}
    entry = {"action": "rollback" if current["release"] in ever else "promote", "when": _now(), "user": _user(),
             "from": last, "to": {"release": current["release"], "artifact": current.get("artifact")},
             "run": current.get("run"), "reason": current.get("reason"), "forced": current.get("forced"),
             "repaired": "the switch to this release was not recorded (interrupted); recorded on the next change"}
    _append_history(settings.production_dir, entry)
    return entry


def production_stack(history: list[dict]) -> list[str]:
    """The releases that rollbacks can return to, oldest first, replayed from the history: a promote
    pushes its release, a rollback pops back to the one it restored."""
    stack: list[str] = []
    for h in history:
        to = (h.get("to") or {}).get("release")
        if not to:
            continue
        if h.get("action") == "rollback":
            while stack and stack[-1] != to:
                stack.pop()
            if not stack:
                stack.append(to)
        else:
            stack.append(to)
    return stack


def _clean_staging(prod: Path) -> None:
    for d in (prod / RELEASES).glob(".staging-*"):
        shutil.rmtree(d, ignore_errors=True)
    for link in prod.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)


def _stage_release(prod: Path, art: Artifact, promotion: dict) -> Path:
    staging = prod / RELEASES / f".staging-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    for name in (PROGRAM, PROMPT, MANIFEST, CARD):
        src = art.dir / name
        if src.is_file():
            shutil.copy2(src, staging / name)
            with open(staging / name, "rb") as fh:
                os.fsync(fh.fileno())
    verify_artifact(Artifact(id=art.id, dir=staging))  # the copy is exactly what was verified
    atomic_write_json(staging / RELEASE_FILE, {**promotion, "manifest_sha256": sha256_file(staging / MANIFEST)})
    return staging


def promote(settings: Settings, ref: str, *, run: str | None = None, reason: str | None = None,
            force: bool = False, dry_run: bool = False, limit: int | None = None, balanced: bool = False,
            on_start=None) -> dict:
    """Promote an artifact; returns what was done (or, with dry_run, what would be done)."""
    if force and not (reason and reason.strip()):
        raise ConfigError("--force needs --reason '...' (it is recorded in the history)")
    if ref in ("production", "zero-shot", "", None):
        raise ConfigError(f"cannot promote {ref!r}", hint="promote an artifact id from smishctl prompts list")
    pol = policy(settings)  # a malformed policy fails before anything is evaluated
    art = resolve_artifact(settings.prompts_dir, ref)
    prod = settings.production_dir
    if prod.resolve() in art.dir.resolve().parents:
        raise ConfigError(f"{ref} is inside the production folder", hint="promote the artifact from the prompt store")
    verify_artifact(art)
    manifest = art.manifest
    if not manifest.get("labels"):
        raise ConfigError(f"artifact {art.id} has no labels in its manifest", hint="it is corrupt; re-run optimize")
    cand, source = candidate_evaluation(settings, art, run=run, limit=limit, balanced=balanced, dry_run=dry_run,
                                        on_start=on_start)
    current = read_current(settings)
    if current and current.get("artifact") == art.id and not force:
        raise ConfigError(f"{art.id} is already in production (release {current['release']})")
    prod_run = robust = None
    if cand is not None and current is not None:
        prod_run = production_evaluation(settings, current, cand, dry_run=dry_run, on_start=on_start)
    if cand is not None and needs_robustness(pol):
        robust = robustness_evaluation(settings, art, cand, dry_run=dry_run, on_start=on_start)
    checks = check_policy(settings, cand, prod_run, current, robust) if cand is not None else []
    failed = [c for c in checks if not c["passed"]]
    plan = {
        "action": "promote", "artifact": art.id, "dry_run": dry_run,
        "from": {"release": current["release"], "artifact": current.get("artifact")} if current else None,
        "run": cand["id"] if cand else None, "evaluation": source,
        "metrics": _metrics_summary(cand.get("metrics") or {}, robust) if cand else None,
        "checks": checks, "policy_passed": not failed if cand else None, "forced": bool(force and failed),
        "reason": reason,
    }
    if failed and not force:
        raise PolicyError("promotion policy failed for " + art.id + ": " + "; ".join(
            f"{c['name']}: {c['detail']}" for c in failed), hint="improve the prompt, or override with --force --reason '...'")
    if dry_run:
        return plan
    with file_lock(prod / LOCK):
        _clean_staging(prod)
        repair_history(settings)
        now = read_current(settings)  # another promote may have finished while we evaluated
        if (now or {}).get("release") != (current or {}).get("release"):
            current = now
            prod_run = production_evaluation(settings, current, cand, dry_run=False, on_start=on_start)
            checks = check_policy(settings, cand, prod_run, current, robust)
            failed = [c for c in checks if not c["passed"]]
            if failed and not force:
                raise PolicyError(f"promotion policy failed for {art.id} against the production promoted meanwhile: "
                                  + "; ".join(f"{c['name']}: {c['detail']}" for c in failed),
                                  hint="improve the prompt, or override with --force --reason '...'")
            plan.update(checks=checks, policy_passed=not failed, forced=bool(force and failed))
        release = _next_release(prod)
        when = _now()
        promotion = {
            "release": release, "artifact": art.id, "run": cand["id"], "promoted_at": when, "user": _user(),
            "reason": reason, "forced": plan["forced"], "checks": checks, "metrics": plan["metrics"],
            "model": manifest.get("model") or {}, "dataset": manifest.get("dataset") or {},
            "labels": manifest.get("labels"), "previous": current["release"] if current else None,
        }
        staging = _stage_release(prod, art, promotion)
        staging.rename(prod / RELEASES / release)
        _fsync_dir(prod / RELEASES)
        _switch_current(prod, release)
        entry = {"action": "promote", "when": when, "user": promotion["user"],
                 "from": {"release": current["release"], "artifact": current.get("artifact")} if current else None,
                 "to": {"release": release, "artifact": art.id}, "run": cand["id"], "metrics": plan["metrics"],
                 "reason": reason, "forced": plan["forced"],
                 "failed_checks": [c["name"] for c in failed]}
        _append_history(prod, entry)
    return {**plan, "release": release, "from": entry["from"], "to": entry["to"], "when": when}


def rollback(settings: Settings, *, reason: str | None = None, dry_run: bool = False) -> dict:
    """Restore the release that was in production before the current one, walking back the history:
    a release that is missing or fails verification is skipped (and reported), not a dead end."""
    prod = settings.production_dir
    with file_lock(prod / LOCK):
        current = read_current(settings)
        if current is None:
            raise ConfigError("production is empty: nothing to roll back", hint="promote an artifact first")
        if not dry_run:
            repair_history(settings)
        stack = production_stack(read_history(settings))
        if not stack or stack[-1] != current["release"]:  # no usable history: the release's own record
            stack = [p for p in (current.get("previous"), current["release"]) if p]
        skipped, target, target_art = [], None, None
        for prev in reversed(stack[:-1]):
            try:
                target_art = verify_release(prod / RELEASES / prev)
            except ConfigError as exc:
                skipped.append({"release": prev, "why": str(exc)})
                continue
            target = prev
            break
        if target is None:
            why = f"; skipped: {', '.join(s['release'] + ' (' + s['why'] + ')' for s in skipped)}" if skipped else ""
            raise ConfigError(f"release {current['release']} ({current.get('artifact')}) has no previous "
                              f"production version to roll back to{why}")
        when = _now()
        entry = {"action": "rollback", "when": when, "user": _user(),
                 "from": {"release": current["release"], "artifact": current.get("artifact")},
                 "to": {"release": target, "artifact": target_art.id}, "reason": reason}
        if skipped:
            entry["skipped"] = skipped
        if dry_run:
            return {**entry, "dry_run": True}
        _clean_staging(prod)
        _switch_current(prod, target)
        _append_history(prod, entry)
    return {**entry, "dry_run": False}


def status(settings: Settings) -> dict:
    current = read_current(settings)
    history = read_history(settings)
    if current is None:
        return {"in_production": False, "history": len(history)}
    since = next((h for h in reversed(history) if (h.get("to") or {}).get("release") == current["release"]), None)
    return {
        "in_production": True, "artifact": current.get("artifact"), "release": current["release"],
        "since": since["when"] if since else current.get("promoted_at"), "by": (since or current).get("user"),
        "last_action": since["action"] if since else "promote", "reason": (since or current).get("reason"),
        "promoted_at": current.get("promoted_at"), "run": current.get("run"), "metrics": current.get("metrics"),
        "model": (current.get("model") or {}).get("name"), "forced": current.get("forced"),
        "previous": current.get("previous"), "dir": current.get("dir"), "history": len(history),
    }
