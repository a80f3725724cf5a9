"""The test factories make only records the product could have written: smishctl's own checks (the
serving identity against config and hash, the items hash against the rows, every figure recomputed)
accept every run they make, and the run store finds it by its configuration hash."""

from __future__ import annotations

from factories import items, predictions, record_run, write_run

from smishctl.core.records import Prediction
from smishctl.ops.evaluate import EvalConfig
from smishctl.score.evidence import record_mismatches, verified_metrics
from smishctl.store.runs import find_run, open_run


def _accepted(runs_dir, run_id: str) -> dict:
    """The stored record, after every check promote and compare make of a run's evidence."""
    run = open_run(runs_dir, run_id)
    record, rows = run.record(), run.predictions()
    assert record.serving.program_sha256 == record.prompt["sha256"]  # ConfigError if identity, config, hash disagree
    assert record_mismatches(record.to_dict(), rows) == []
    assert verified_metrics(record.to_dict(), rows) == record.metrics
    assert find_run(runs_dir, record.config_hash).id == run_id
    return record.to_dict()


def test_runs_of_the_tests_own_items_pass_the_products_checks(tmp_path):
    runs = tmp_path / "runs"
    gold = items(12)
    rows = predictions(gold, {1, 4})
    rows[2] = (rows[2][0], rows[2][1], "phishy", "invalid")
    rows[3] = (rows[3][0], rows[3][1], None, "error")
    write_run(runs, "mixed", rows, probs={"i000": {"ham": 0.9, "spam": 0.05, "smishing": 0.05}})
    rec = _accepted(runs, "mixed")
    assert (rec["metrics"]["n_items"], rec["metrics"]["n_errors"], rec["metrics"]["n_invalid"]) == (12, 1, 1)
    # the same items written in another order are the same items; other items are not
    write_run(runs, "reversed", predictions(gold, set())[::-1])
    assert _accepted(runs, "reversed")["dataset"]["items_hash"] == rec["dataset"]["items_hash"]
    write_run(runs, "fewer", predictions(gold[:6], set()))
    assert _accepted(runs, "fewer")["dataset"]["items_hash"] != rec["dataset"]["items_hash"]
    # rows given as the solver records them keep their own fields
    solver_rows = [Prediction(item_id="x1", index=0, gold="ham", pred="ham", status="ok", cache_hit=True, text="hi")]
    write_run(runs, "as-recorded", solver_rows)
    assert open_run(runs, "as-recorded").predictions()[0]["cache_hit"] is True
    _accepted(runs, "as-recorded")


def test_runs_of_a_sampled_dataset_pass_the_products_checks(settings):
    cfg = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", limit=12, balanced=True)
    rec = record_run(settings, cfg, wrong={1}, errors={2}, cached=range(3), probs=True, run_id="sampled")
    stored = _accepted(settings.runs_dir, rec.id)
    assert stored["metrics"]["n_errors"] == 1 and stored["dataset"]["n_items"] == 12
