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

from smishctl.artifacts import (
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
from smishctl.config import Settings
from smishctl.errors import ConfigError, SmishError
from smishctl.fsutil import atomic_write_json, file_lock, read_json
from smishctl.production import CURRENT, HISTORY, LOCK, RELEASE_FILE, RELEASES, read_current, read_history

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


def policy(settings: Settings) -> dict:
    raw = settings.section("promotion")
    out = {}
    for key in ("min_macro_f1", "max_error_rate"):
        if key in raw:
            try:
                out[key] = float(raw[key])
            except (TypeError, ValueError):
                raise ConfigError(f"[promotion] {key} in smishctl.toml must be a number, got {raw[key]!r}") from None
    out["alpha"] = float(raw.get("alpha", 0.05))
    if raw.get("must_pass"):  # must-pass set names or files (smishctl.mustpass)
        out["must_pass"] = [raw["must_pass"]] if isinstance(raw["must_pass"], str) else list(raw["must_pass"])
    return out


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
    from smishctl.runs import list_runs

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
    from smishctl.evaluate import EvalConfig

    m = art.manifest
    return EvalConfig(model=model or (m.get("model") or {}).get("name"), prompt=prompt or art.id,
                      dataset=(m.get("dataset") or {}).get("name"), split=TEST_SPLIT, limit=limit, balanced=balanced)


def candidate_evaluation(settings: Settings, art: Artifact, *, run: str | None, limit: int | None,
                         balanced: bool, dry_run: bool, on_start=None) -> tuple[dict | None, str]:
    """(run record or None in a dry run that would evaluate, how it was obtained)."""
    from smishctl.runs import open_run

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
        from smishctl.evaluate import prepare
        from smishctl.reuse import find_run

        found = find_run(settings, prepare(settings, cfg).record["config_hash"])
        return (found.read(), "existing") if found else (None, "would evaluate")
    from smishctl.reuse import find_or_evaluate

    record, reused = find_or_evaluate(settings, cfg, on_start=on_start)
    return record, "existing" if reused else "evaluated"


def production_evaluation(settings: Settings, current: dict, cand: dict, *, dry_run: bool, on_start=None) -> dict | None:
    """Production's run on the candidate's items (its recorded run if it matches, else evaluated)."""
    from smishctl.runs import open_run

    rid = current.get("run")
    if rid:
        try:
            rec = open_run(settings.runs_dir, rid).read()
            if rec.get("dataset", {}).get("items_hash") == cand["dataset"]["items_hash"] and "metrics" in rec:
                return rec
        except (ConfigError, OSError, ValueError):
            pass
    from smishctl.evaluate import EvalConfig, prepare
    from smishctl.reuse import find_or_evaluate, find_run

    c = cand.get("config") or {}
    cfg = EvalConfig(model=(current.get("model") or {}).get("name"), prompt="production", dataset=c.get("dataset"),
                     split=TEST_SPLIT, limit=c.get("limit"), balanced=bool(c.get("balanced")),
                     data_options=c.get("data_options") or {})
    if dry_run:
        found = find_run(settings, prepare(settings, cfg).record["config_hash"])
        return found.read() if found else None
    return find_or_evaluate(settings, cfg, on_start=on_start)[0]


# -- the policy -------------------------------------------------------------------------------

def check_policy(settings: Settings, cand: dict, prod: dict | None, current: dict | None) -> list[dict]:
    from smishctl.compare.core import paired_stats
    from smishctl.compare.pairing import load_run

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
        from smishctl.mustpass import policy_checks

        checks += policy_checks(settings, cand, pol["must_pass"])
    return checks


def _f(v) -> str:
    return "unknown" if v is None else f"{v:.4g}"


def _metrics_summary(m: dict) -> dict:
    keep = ("n_items", "accuracy", "macro_f1", "error_rate", "invalid_rate", "cost_per_1k")
    out = {k: m.get(k) for k in keep}
    out["recall"] = {k: v.get("recall") for k, v in (m.get("per_class") or {}).items()}
    out["p95_latency_ms"] = (m.get("latency_ms") or {}).get("p95")
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
    atomic_write_json(staging / RELEASE_FILE, promotion)
    return staging


def promote(settings: Settings, ref: str, *, run: str | None = None, reason: str | None = None,
            force: bool = False, dry_run: bool = False, limit: int | None = None, balanced: bool = False,
            on_start=None) -> dict:
    """Promote an artifact; returns what was done (or, with dry_run, what would be done)."""
    if force and not (reason and reason.strip()):
        raise ConfigError("--force needs --reason '...' (it is recorded in the history)")
    if ref in ("production", "zero-shot", "", None):
        raise ConfigError(f"cannot promote {ref!r}", hint="promote an artifact id from smishctl prompts list")
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
    prod_run = None
    if cand is not None and current is not None:
        prod_run = production_evaluation(settings, current, cand, dry_run=dry_run, on_start=on_start)
    checks = check_policy(settings, cand, prod_run, current) if cand is not None else []
    failed = [c for c in checks if not c["passed"]]
    plan = {
        "action": "promote", "artifact": art.id, "dry_run": dry_run,
        "from": {"release": current["release"], "artifact": current.get("artifact")} if current else None,
        "run": cand["id"] if cand else None, "evaluation": source,
        "metrics": _metrics_summary(cand.get("metrics") or {}) if cand else None,
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
        now = read_current(settings)  # another promote may have finished while we evaluated
        if (now or {}).get("release") != (current or {}).get("release"):
            current = now
            prod_run = production_evaluation(settings, current, cand, dry_run=False, on_start=on_start)
            checks = check_policy(settings, cand, prod_run, current)
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
    """Restore the release that was in production before the current one."""
    prod = settings.production_dir
    with file_lock(prod / LOCK):
        current = read_current(settings)
        if current is None:
            raise ConfigError("production is empty: nothing to roll back", hint="promote an artifact first")
        prev = current.get("previous")
        if not prev:
            raise ConfigError(f"release {current['release']} ({current.get('artifact')}) has no previous "
                              "production version to roll back to")
        target = prod / RELEASES / prev
        if not (target / MANIFEST).is_file():
            raise ConfigError(f"previous release {prev} is missing from {prod / RELEASES}")
        target_manifest = read_json(target / MANIFEST)
        verify_artifact(Artifact(id=target_manifest.get("id", prev), dir=target))
        when = _now()
        entry = {"action": "rollback", "when": when, "user": _user(),
                 "from": {"release": current["release"], "artifact": current.get("artifact")},
                 "to": {"release": prev, "artifact": target_manifest.get("id")}, "reason": reason}
        if dry_run:
            return {**entry, "dry_run": True}
        _clean_staging(prod)
        _switch_current(prod, prev)
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
