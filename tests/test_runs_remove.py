"""`latest~N` counts only runs that scored something, errors about references say which runs they named,
and `runs rm` / `runs prune --aborted` remove runs, never one a promotion cites."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run, record_run
from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.promote import promote


def _classic(split: str = "test") -> EvalConfig:
    return EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", split=split, limit=12, balanced=True)


def _aborted(cli, fault, project) -> str:
    """A real aborted run: the key is refused on the first call, nothing is recorded."""
    before = {d.name for d in (project / "runs").iterdir()} if (project / "runs").is_dir() else set()
    fault.on_keyword("", "401")
    r = cli("evaluate", "-m", "fake", "-n", "6", "--no-langfuse")
    assert r.returncode == 2, r.stderr
    (new,) = {d.name for d in (project / "runs").iterdir()} - before
    assert json.loads((project / "runs" / new / "run.json").read_text())["status"] == "aborted"
    return new


@pytest.fixture()
def three_runs(settings, cli, fault, fake_model, project):
    """run-a (test split), then an aborted 0-item run, then run-b (dev split): created a second apart,
    so their order is their creation order."""
    record_run(settings, _classic(), run_id="run-a")
    time.sleep(1.1)
    aborted = _aborted(cli, fault, project)
    time.sleep(1.1)
    record_run(settings, _classic("dev"), run_id="run-b")
    return aborted


def test_latest_skips_aborted_runs_and_errors_name_what_refs_resolved_to(cli, three_runs):
    r = cli("runs", "show", "latest~1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["id"] == "run-a"  # not the aborted run between them
    r = cli("compare", "latest~1", "latest")
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[0]
    assert "different splits" in line
    assert "latest~1 = a (classic/tfidf-svm, 12 items), latest = b (classic/tfidf-svm, 12 items)" in line
    r = cli("runs", "show", "latest~2")
    assert r.returncode == 2 and "only 2 with items (1 aborted or empty run(s) not counted)" in r.stderr
    # the aborted run keeps its own short reference; named, it is refused saying what it is
    tail = three_runs.rsplit("-", 1)[-1]
    r = cli("runs", "show", tail, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "aborted"
    r = cli("compare", tail, "latest~1")  # what `latest~1` was before: the case
    assert r.returncode == 2
    assert f"the runs share no items: {tail} (fake, aborted, 0 items), latest~1 = a (classic/tfidf-svm, 12 items)" in r.stderr


def test_share_no_items_names_both_runs(settings, cli):
    record_run(settings, _classic(), run_id="run-a")
    record_run(settings, _classic("dev"), run_id="run-b")
    # the same split on other items: a 0-item overlap between two samples of different splits read as one
    from smishctl.store.runs import Run

    rec = Run(settings.runs_dir / "run-b").read()
    rec["dataset"]["split"] = "test"
    Run(settings.runs_dir / "run-b").write(rec)
    r = cli("compare", "run-a", "b", "--no-langfuse")
    assert r.returncode == 2
    assert "the runs share no items: run-a = a (classic/tfidf-svm, 12 items), b (classic/tfidf-svm, 12 items)" in r.stderr


def test_prune_aborted_and_rm(cli, three_runs, project):
    runs = project / "runs"
    r = cli("runs", "prune", "--aborted", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "would remove" in r.stdout and "fake" in r.stdout and "aborted, 0 items" in r.stdout
    assert (runs / three_runs / "run.json").is_file()
    r = cli("runs", "prune", "--aborted")
    assert r.returncode == 0 and "removed" in r.stdout
    assert not (runs / three_runs).exists() and (runs / "run-a").is_dir()
    r = cli("runs", "prune")
    assert r.returncode == 2 and "--aborted" in r.stderr
    r = cli("runs", "rm", "latest", "--dry-run")
    assert r.returncode == 0 and "would remove b (" in r.stdout and (runs / "run-b").is_dir()
    r = cli("runs", "rm", "latest")
    assert r.returncode == 0 and not (runs / "run-b").exists()
    r = cli("runs", "show", "latest", "--json")
    assert json.loads(r.stdout)["id"] == "run-a"


def test_rm_refuses_a_run_a_promotion_cites(settings, cli, project):
    accept_small_promotions(settings)
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    promotion_run(settings, art, run_id="run-evidence")
    record_run(settings, _classic(), run_id="run-other")
    promote(settings, art.id, reason="first")
    for args in (("run-other", "run-evidence"), ("run-evidence", "--dry-run")):
        r = cli("runs", "rm", *args)
        assert r.returncode == 2
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert lines[0].startswith("error:") and "evidence of release r0001" in lines[0], r.stderr
    assert (project / "runs" / "run-other").is_dir()  # nothing removed when one run is refused
    # the release folder gone, the history still cites its run
    shutil.rmtree(settings.production_dir / "releases" / "r0001")
    r = cli("runs", "rm", "run-evidence")
    assert r.returncode == 2 and "evidence of the production history (release r0001)" in r.stderr
    assert (project / "runs" / "run-evidence" / "run.json").is_file()
