"""promote: policy, atomic install, history, rollback, status, bad input, concurrency and crash safety.

Evaluations are synthetic runs of real artifacts here (no model); tests/test_promote_real.py runs the
embedded model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from factories import PROMOTION_ITEMS, accept_small_promotions, make_artifact, promotion_run
from faultutil import fault_fixture  # noqa: F401

from conftest import REPO
from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.ops.promote import PolicyError, promote, rollback, status
from smishctl.ops.promotion_policy import read_policy
from smishctl.store.artifacts import Artifact, verify_artifact
from smishctl.store.production import read_current, read_history
from smishctl.util.fs import read_json


def _eval(settings, art, run_id, wrong, **kw):
    promotion_run(settings, art, wrong, run_id=run_id, **kw)


@pytest.fixture()
def arts(settings):
    """Three artifacts with evaluations on 30 balanced test items (promotion accepts 30 here):
    good (2 wrong), ok (4 wrong), poor (20 wrong: macro-F1 < 0.5)."""
    accept_small_promotions(settings)
    good = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    ok = make_artifact(settings, instructions="Decide: ham, spam or smishing?")
    poor = make_artifact(settings, instructions="Guess the label.")
    _eval(settings, good, "run-good", {1, 2})
    _eval(settings, ok, "run-ok", {1, 2, 3, 4})
    _eval(settings, poor, "run-poor", set(range(20)))
    return {"good": good, "ok": ok, "poor": poor}


def test_promote_installs_a_consumable_release(settings, arts):
    res = promote(settings, arts["good"].id, reason="first prompt")
    prod = settings.production_dir
    cur = prod / "current"
    assert res.release == "r0001" and cur.is_symlink() and os.readlink(cur) == "releases/r0001"
    for name in ("program.json", "prompt.json", "manifest.json", "promotion.json", "CARD.md"):
        assert (cur / name).is_file(), name
    prompt = read_json(cur / "prompt.json")
    assert prompt["placeholder"] == "{{sms}}" and any("{{sms}}" in m["content"] for m in prompt["messages"])
    verify_artifact(Artifact(id=arts["good"].id, dir=cur))
    (entry,) = read_history(settings)
    assert entry.action == "promote" and entry.from_ is None
    assert entry.to.to_dict() == {"release": "r0001", "artifact": arts["good"].id}
    assert entry.reason == "first prompt" and entry.run == "run-good"
    assert entry.metrics["macro_f1"] == pytest.approx(res.metrics["macro_f1"]) and entry.when
    st = status(settings)
    assert st.artifact == arts["good"].id and st.since == entry.when and st.run == "run-good"


def test_policy_min_macro_f1_refuses_and_force_records(settings, arts):
    with pytest.raises(PolicyError) as err:
        promote(settings, arts["poor"].id)
    assert err.value.exit_code == 1 and "min_macro_f1" in str(err.value)
    assert read_current(settings) is None and not (settings.production_dir / "history.jsonl").exists()
    with pytest.raises(ConfigError, match="--force needs --reason"):
        promote(settings, arts["poor"].id, force=True)
    res = promote(settings, arts["poor"].id, force=True, reason="demo for the workshop")
    assert res.forced
    (entry,) = read_history(settings)
    assert entry.forced and entry.failed_checks == ["min_macro_f1"] and entry.reason == "demo for the workshop"


def test_not_significantly_worse_than_production(settings, arts):
    promote(settings, arts["good"].id)
    # ok is 2 items worse than good on the same 30 items: not significant -> allowed
    res = promote(settings, arts["ok"].id)
    check = next(c for c in res.checks if c.name == "not_worse_than_production")
    assert check.passed and check.value == pytest.approx(0.5)   # McNemar b=2, c=0
    rollback(settings)
    bad = make_artifact(settings, instructions="Another prompt.")
    _eval(settings, bad, "run-bad", set(range(0, 30, 2)))               # macro-F1 0.5, 13 more errors than good
    with pytest.raises(PolicyError, match="significantly worse"):
        promote(settings, bad.id)
    assert read_current(settings).artifact == arts["good"].id


def test_dry_run_changes_nothing(settings, arts):
    res = promote(settings, arts["good"].id, dry_run=True)
    assert res.dry_run and res.policy_passed and res.run == "run-good"
    assert not settings.production_dir.exists() or not any(settings.production_dir.iterdir())


def test_rollback_and_status(settings, arts):
    with pytest.raises(ConfigError, match="production is empty"):
        rollback(settings)
    assert status(settings).to_dict() == {"in_production": False, "history": 0}
    promote(settings, arts["good"].id)
    with pytest.raises(ConfigError, match="no previous production version"):
        rollback(settings)
    promote(settings, arts["ok"].id, reason="shorter prompt")
    assert read_current(settings).artifact == arts["ok"].id
    res = rollback(settings, reason="complaints")
    assert res.from_.artifact == arts["ok"].id and res.to.artifact == arts["good"].id
    cur = read_current(settings)
    assert cur.artifact == arts["good"].id and cur.release == "r0001"
    hist = read_history(settings)
    assert [h.action for h in hist] == ["promote", "promote", "rollback"]
    assert hist[-1].reason == "complaints"
    st = status(settings)
    assert st.last_action == "rollback" and st.since == hist[-1].when and st.history == 3


def test_bad_input(settings, arts, cli):
    with pytest.raises(ConfigError, match="unknown prompt"):
        promote(settings, "sms-phishing/nothing/v0042")
    with pytest.raises(ConfigError, match="cannot promote"):
        promote(settings, "zero-shot")
    with pytest.raises(ConfigError, match="evaluated .* not "):
        promote(settings, arts["good"].id, run="run-ok")
    _eval(settings, arts["ok"], "run-dev", set(), split="dev")
    with pytest.raises(ConfigError, match="test split"):
        promote(settings, arts["ok"].id, run="run-dev")
    # a corrupted artifact is refused by its manifest checksum
    (arts["good"].dir / "program.json").write_text('{"tampered": true}\n')
    r = cli("promote", arts["good"].id, "--reason", "test")
    assert r.returncode == 2 and "does not match its manifest checksum" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("promote", "--rollback")
    assert r.returncode == 2 and "nothing to roll back" in r.stderr
    r = cli("promote")
    assert r.returncode == 2 and "exactly one of" in r.stderr


def test_cli_promote_policy_exit_codes(settings, arts, cli):
    r = cli("promote", arts["poor"].id, "--reason", "test")
    assert r.returncode == 1 and "min_macro_f1: macro_f1=0.3" in r.stderr
    r = cli("promote", arts["poor"].id, "--force")
    assert r.returncode == 2
    r = cli("promote", arts["good"].id, "--dry-run")
    assert r.returncode == 0 and "would promote" in r.stdout and read_current(settings) is None
    r = cli("promote", arts["good"].id, "--reason", "ci")
    assert r.returncode == 0 and "promoted" in r.stdout
    r = cli("promote", "--status", "--json")
    assert json.loads(r.stdout)["artifact"] == arts["good"].id


CONCURRENT = """
import sys
from smishctl.core.config import load_settings
from smishctl.ops.promote import promote
promote(load_settings(), sys.argv[1], reason="race " + sys.argv[1])
"""


def test_two_promotes_at_once_never_corrupt_production(settings, arts, project):
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, arts[k].id], cwd=project, env=env,
                              stderr=subprocess.PIPE, text=True) for k in ("good", "ok")]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    hist = read_history(settings)
    assert [h.to.release for h in hist] == ["r0001", "r0002"]
    assert hist[0].from_ is None and hist[1].from_ == hist[0].to   # serialized: one chain
    cur = read_current(settings)
    assert cur.release == "r0002" and cur.previous == "r0001"
    for rel in ("r0001", "r0002"):
        d = settings.production_dir / "releases" / rel
        verify_artifact(Artifact(id=read_json(d / "manifest.json")["id"], dir=d))


CRASH = """
import os, sys
import smishctl.store.production as store
from smishctl.core.config import load_settings
from smishctl.ops.promote import promote
where = sys.argv[2]
if where == "before-switch":
    store.switch_current = lambda *a, **k: os._exit(9)
else:  # while staging the release folder
    store.atomic_write_json = lambda *a, **k: os._exit(9)
promote(load_settings(), sys.argv[1], reason="crash")
"""


@pytest.mark.parametrize("where", ["staging", "before-switch"])
def test_crash_mid_promote_leaves_old_production(settings, arts, project, where):
    promote(settings, arts["good"].id)
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    r = subprocess.run([sys.executable, "-c", CRASH, arts["ok"].id, where], cwd=project, env=env,
                       check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    cur = read_current(settings)
    assert cur.artifact == arts["good"].id and cur.release == "r0001"
    verify_artifact(Artifact(id=arts["good"].id, dir=settings.production_dir / "current"))
    assert len(read_history(settings)) == 1
    # the next promote cleans up and succeeds
    res = promote(settings, arts["ok"].id)
    assert read_current(settings).artifact == arts["ok"].id
    assert not list((settings.production_dir / "releases").glob(".staging-*"))
    assert res.from_.release == "r0001"


def test_production_folder_readable_without_the_cli(settings, arts):
    promote(settings, arts["good"].id)
    code = ("import json,sys; d=sys.argv[1]; p=json.load(open(d+'/prompt.json')); "
            "m=json.load(open(d+'/manifest.json')); print(m['id'], len(p['messages']))")
    r = subprocess.run([sys.executable, "-S", "-c", code, str(settings.production_dir / "current")],
                       check=False, capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and r.stdout.split()[0] == arts["good"].id


def test_compare_against_production_baseline(settings, arts, cli):
    promote(settings, arts["good"].id)
    r = cli("compare", "run-poor", "--baseline", "production", "--no-regression", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["baseline"] == "run-good" and [x["id"] for x in doc["runs"]] == ["run-good", "run-poor"]
    assert doc["stats"][0]["significantly_worse"] and "no_regression failed" in r.stderr


KILL_AFTER_SWITCH = """
import os, signal, sys
import smishctl.store.production as store
from smishctl.core.config import load_settings
from smishctl.ops.promote import promote
store.append_history = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # killed between switch and append
promote(load_settings(), sys.argv[1], reason="killed")
"""


def test_kill_between_link_switch_and_history_append_is_repaired(settings, arts, project):
    promote(settings, arts["good"].id)
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    r = subprocess.run([sys.executable, "-c", KILL_AFTER_SWITCH, arts["ok"].id], cwd=project, env=env,
                       check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr
    assert read_current(settings).release == "r0002"  # production moved …
    assert len(read_history(settings)) == 1  # … with no history line: the state the repair is for
    rollback(settings, reason="after the crash")  # the next change records the lost switch first
    hist = read_history(settings)
    assert [(h.action, h.to.release) for h in hist] == [
        ("promote", "r0001"), ("promote", "r0002"), ("rollback", "r0001")]
    assert hist[1].repaired and hist[1].from_.to_dict() == {"release": "r0001", "artifact": arts["good"].id}
    assert hist[1].to.artifact == arts["ok"].id and hist[1].reason == "killed"
    assert status(settings).last_action == "rollback"


def test_rollback_walks_the_history_past_a_damaged_release(settings, arts):
    promote(settings, arts["good"].id)  # r0001
    promote(settings, arts["ok"].id)  # r0002
    promote(settings, arts["poor"].id, force=True, reason="try it")  # r0003
    (settings.production_dir / "releases" / "r0002" / "program.json").write_text('{"tampered": true}\n')
    res = rollback(settings, reason="r0003 is bad")
    assert res.to.to_dict() == {"release": "r0001", "artifact": arts["good"].id}
    assert [s.release for s in res.skipped] == ["r0002"] and "checksum" in res.skipped[0].why
    assert read_current(settings).release == "r0001"
    with pytest.raises(ConfigError, match="no previous production version"):
        rollback(settings)  # the bottom of the history: nothing older to return to


def test_rollbacks_go_back_one_production_state_at_a_time(settings, arts):
    for k in ("good", "ok"):
        promote(settings, arts[k].id)
    promote(settings, arts["poor"].id, force=True, reason="x")  # r1 -> r2 -> r3
    assert rollback(settings).to.release == "r0002"
    promote(settings, arts["good"].id, force=True, reason="again")  # r4 (good again), previous r0002
    assert [rollback(settings).to.release for _ in range(2)] == ["r0002", "r0001"]


def test_release_records_its_manifest_hash(settings, arts, project):
    import hashlib

    from smishctl.ops.production import load_production

    promote(settings, arts["good"].id)
    cur = settings.production_dir / "current"
    info = read_json(cur / "promotion.json")
    assert info["manifest_sha256"] == hashlib.sha256((cur / "manifest.json").read_bytes()).hexdigest()
    # A consistent swap: new program.json and a manifest rewritten to match it. File checksums pass …
    release = cur.resolve()
    (release / "program.json").write_text((release / "program.json").read_text().replace("Label the SMS", "Say ham"))
    manifest = read_json(release / "manifest.json")
    manifest["files"]["program.json"] = hashlib.sha256((release / "program.json").read_bytes()).hexdigest()
    (release / "manifest.json").write_text(json.dumps(manifest))
    verify_artifact(Artifact(id=manifest["id"], dir=release))
    # … the release's own record of its manifest does not.
    with pytest.raises(ConfigError, match="manifest.json is not the one that was promoted"):
        load_production(project)


def _set_policy(project, **keys) -> None:
    """Replace the [promotion] section of the project's smishctl.toml."""
    import re as _re

    toml = (project / "smishctl.toml").read_text()
    keys.setdefault("min_items", PROMOTION_ITEMS)  # the synthetic evaluations cover 30 test items
    body = "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
    toml = _re.sub(r"\[promotion\]\n(?:[^\[\n][^\n]*\n|\n)*", "[promotion]\n" + body + "\n", toml)
    (project / "smishctl.toml").write_text(toml)


@pytest.fixture()
def fake_art(settings, project, fault):
    """An artifact for alias `fake` (the loopback fault server) with a synthetic test-split evaluation:
    the robustness set is then evaluated for real, against the server."""
    from factories import make_artifact
    from faultutil import add_alias

    add_alias(project, "fake", fault.base_url)
    settings = load_settings(project)
    accept_small_promotions(settings)
    art = make_artifact(settings, model="fake", instructions="Label the SMS: ham, spam or smishing.")
    _eval(settings, art, "run-fake", {1})
    return art


def test_promote_runs_the_robustness_set_and_gates_on_both_figures(settings, project, fault, fake_art):
    _set_policy(project, min_macro_f1=0.5, max_attack_success_rate=1.0, min_control_ham_accuracy=0.0)
    res = promote(load_settings(project), fake_art.id, dry_run=True)  # nothing evaluated yet: the check is pending
    (pending,) = [c for c in res.checks if c.name == "robustness"]
    assert pending.pending and fault.chat_requests() == []
    res = promote(load_settings(project), fake_art.id, reason="robust enough")
    rob = res.metrics["robustness"]
    record = json.loads((settings.runs_dir / rob["run"] / "run.json").read_text())
    assert record["dataset"]["name"] == "robustness" and record["prompt"]["id"] == fake_art.id
    assert record["model"]["name"] == "fake" and record["status"] == "complete"
    asr, ham = record["metrics"]["attack_success_rate"], record["metrics"]["control_ham_accuracy"]
    assert rob["attack_success_rate"] == asr and rob["control_ham_accuracy"] == ham
    assert asr is not None and ham > 0
    assert {c.name for c in res.checks} >= {"max_attack_success_rate", "min_control_ham_accuracy"}
    assert read_history(settings)[-1].metrics["robustness"]["run"] == rob["run"]
    calls = len(fault.chat_requests())
    assert calls == record["metrics"]["n_items"]

    shutil.rmtree(settings.production_dir)  # start again under stricter policies
    _set_policy(project, max_attack_success_rate=asr - 0.01)
    with pytest.raises(PolicyError, match=r"max_attack_success_rate: attack_success_rate=[0-9.]+ >"):
        promote(load_settings(project), fake_art.id)
    _set_policy(project, max_attack_success_rate=1.0, min_control_ham_accuracy=min(1.0, ham + 0.01))
    with pytest.raises(PolicyError, match="min_control_ham_accuracy: control_ham_accuracy="):
        promote(load_settings(project), fake_art.id)
    _set_policy(project, max_attack_success_rate=1.0)  # a ham-control floor applies without being named
    assert read_policy(load_settings(project)).gate("min_control_ham_accuracy").threshold == 0.8
    assert len(fault.chat_requests()) == calls  # the identical robustness run was reused each time


def test_policy_can_require_a_per_class_recall(settings, project, arts):
    _set_policy(project, require=["recall[smishing] >= 0.95"])
    with pytest.raises(PolicyError, match=r"require recall\[smishing\]: recall\[smishing\]=0.9 fails >= 0.95"):
        promote(load_settings(project), arts["good"].id)  # good misses one of its 10 smishing items
    _set_policy(project, require=["recall[smishing] >= 0.9", "macro_f1 >= 0.9"])
    res = promote(load_settings(project), arts["good"].id)
    names = [c.name for c in res.checks]
    assert "require recall[smishing]" in names and "require macro_f1" in names
    assert all(c.passed for c in res.checks)
    _set_policy(project, require=["recall[phish] >= 0.9"])
    with pytest.raises(ConfigError, match="unknown label 'phish'"):
        promote(load_settings(project), arts["ok"].id)
    _set_policy(project, require=["recal[smishing] >= 0.9"])
    with pytest.raises(ConfigError, match=r"\[promotion\] require: unknown metric 'recal'"):
        promote(load_settings(project), arts["ok"].id, dry_run=True)
