"""promote with the embedded model: missing evaluations are run through smishctl.ops.evaluate (the
candidate's, and production's on the candidate's items), then load_production() classifies."""

from __future__ import annotations

import pytest
from factories import accept_small_promotions, make_artifact

from conftest import make_project

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    from smishctl.core.config import load_settings
    from smishctl.ops.promote import promote

    root = make_project(tmp_path_factory.mktemp("promote-real") / "proj")
    # zero-shot quality of the 0.5B model is low: relax the quality bar, keep the error budget
    toml = (root / "smishctl.toml").read_text().replace("min_macro_f1 = 0.50", "min_macro_f1 = 0.0")
    (root / "smishctl.toml").write_text(toml)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMISHCTL_HOME", str(root))
        mp.chdir(root)
        settings = load_settings(root)
        accept_small_promotions(settings, 3)  # promotion evaluates 3 items here, not the whole test split
        art = make_artifact(settings)
        res = promote(settings, art.id, limit=3, balanced=True, reason="real model test")
        yield root, settings, art, res


def test_promote_runs_the_missing_evaluation(promoted):
    from smishctl.store.production import read_current, read_history
    from smishctl.store.runs import open_run

    _root, settings, art, res = promoted
    assert res.evaluation == "evaluated" and res.release == "r0001"
    record = open_run(settings.runs_dir, res.run).read()
    assert record["prompt"]["id"] == art.id and record["dataset"]["split"] == "test"
    assert record["status"] == "complete" and record["metrics"]["n_items"] == 3
    assert read_current(settings).run == res.run
    (entry,) = read_history(settings)
    assert entry.metrics["macro_f1"] == pytest.approx(record["metrics"]["macro_f1"])
    assert entry.reason == "real model test"


def test_production_is_evaluated_on_the_candidates_items(promoted):
    from smishctl.ops.promote import promote, rollback
    from smishctl.store.production import read_current
    from smishctl.store.runs import open_run

    _root, settings, art, _res = promoted
    # A new version with the same prompt: most calls are answered from DSPy's cache (keeps the test short);
    # what matters is that production's recorded run (3 items) does not cover the candidate's 4 items.
    other = make_artifact(settings)
    res = promote(settings, other.id, limit=4, balanced=True)
    check = next(c for c in res.checks if c.name == "not_worse_than_production")
    prod_run = open_run(settings.runs_dir, check.production_run).read()
    cand_run = open_run(settings.runs_dir, res.run).read()
    assert prod_run["prompt"]["id"] == art.id and prod_run["dataset"]["items_hash"] == cand_run["dataset"]["items_hash"]
    assert check.stats["n_paired"] == 4 and check.passed   # 4 items can never reach p < 0.05
    rollback(settings, reason="back to the first")
    assert read_current(settings).artifact == art.id


def test_load_production_classifies(promoted):
    from smishctl.ops.production import load_production

    root, _settings, art, _res = promoted
    clf = load_production(root)
    assert clf.artifact_id == art.id and clf.release == "r0001"
    text = "URGENT: your bank account is locked. Verify your card at http://secure-bank.example now"
    label = clf.classify(text)
    assert label in ("ham", "spam", "smishing")
    # the same message again: the full record, answered from DSPy's cache (no second model call)
    row = clf.predict(text)
    assert row["status"] == "ok" and row["pred"] == label and row["cache_hit"]
