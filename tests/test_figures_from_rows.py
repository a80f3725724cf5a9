"""Recompute, never trust; errors are evidence; labels come from the task.

Every figure a gate, a star or a promotion reads is recomputed from the prediction rows, and a run.json
that says otherwise is refused. An errored item is a wrong answer in every quality figure, and a run
above the error budget is neither complete, ranked nor promoted. An evaluation-only file is scored on
the task's labels, not on the few its rows happen to have."""

from __future__ import annotations

import csv
import json

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run, record_run
from faultutil import fake_model_fixture, fault_fixture, only_run, predictions  # noqa: F401

from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.data.prepare import load_dataset_splits
from smishctl.ops.compare import CompareOptions, compare_runs, paired_stats
from smishctl.ops.evaluate import EvalConfig, prepare
from smishctl.ops.pairing import load_run
from smishctl.ops.promote import PolicyError, promote
from smishctl.score.metrics import compute_metrics
from smishctl.solve.harden import sanitize_sms
from smishctl.store.runs import Run

LABELS = ("ham", "spam", "smishing")
# Three of the ten smishing messages answered ham: ROC-AUC[smishing] 0.85, ECE 0.1, p95 about 128 ms.
SMISHING_MISSED = {2, 5, 8}
REQUIRE = ["roc_auc[smishing]>=0.95", "ece<=0.02", "p95_latency_ms<=5"]


@pytest.fixture()
def art(settings):
    accept_small_promotions(settings)
    return make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")


def _edit_metrics(settings, run_id: str, edit) -> None:
    run = Run(settings.runs_dir / run_id)
    rec = run.record()
    edit(rec.metrics)
    run.write(rec)


# -- B6: every gated figure is recomputed ------------------------------------------------------------

def test_edited_auc_ece_and_p95_are_refused(settings, art, cli):
    run = promotion_run(settings, art, SMISHING_MISSED, run_id="run-edited", probs=True)
    assert run.metrics["auc"]["smishing"]["roc_auc"] < 0.95 and run.metrics["ece"] > 0.02
    settings.raw["promotion"]["require"] = REQUIRE
    with pytest.raises(PolicyError, match="roc_auc"):  # the honest run fails its policy
        promote(settings, art.id, run=run.id, reason="x")

    def edit(m):
        m["auc"]["smishing"]["roc_auc"] = 0.99
        m["ece"] = 0.01
        m["latency_ms"]["p95"] = 3.0

    _edit_metrics(settings, run.id, edit)
    for force in (False, True):  # forcing does not launder evidence
        with pytest.raises(ConfigError, match="does not match its predictions") as info:
            promote(settings, art.id, run=run.id, force=force, reason="x")
        msg = str(info.value)
        assert "auc.smishing.roc_auc is 0.99 in run.json" in msg and "ece is 0.01" in msg
        assert "latency_ms.p95 is 3.0" in msg

    toml = settings.root / "smishctl.toml"
    toml.write_text(toml.read_text().replace("[promotion]\n", f"[promotion]\nrequire = {json.dumps(REQUIRE)}\n", 1))
    r = cli("promote", art.id, "--run", run.id, "--reason", "test")
    assert r.returncode == 2 and "does not match its predictions" in r.stderr
    assert not (settings.production_dir / "current").exists()


@pytest.mark.parametrize("edit", [
    lambda m: m["latency_ms"].update(p95=3.0),
    lambda m: m.update(ece=0.01),
    lambda m: m["auc"]["smishing"].update(pr_auc=1.0),
    lambda m: m.update(brier=0.0),
    lambda m: m["per_class"]["spam"].update(support=99),
    lambda m: m["tokens"].update(prompt=1),
    lambda m: m.update(cost_per_1k=0.0),
    lambda m: m["auc"].pop("smishing"),  # (a missing figure is read from the rows; the rest must agree)
    lambda m: m["auc"].update(fraud={"roc_auc": 1.0}),  # a figure the rows cannot give
], ids=["p95", "ece", "pr_auc", "brier", "support", "tokens", "cost", "dropped-label-ok", "foreign-label"])
def test_any_edited_figure_is_refused(settings, art, edit, request):
    run = promotion_run(settings, art, SMISHING_MISSED, run_id="run-x", probs=True)
    _edit_metrics(settings, run.id, edit)
    if request.node.callspec.id == "dropped-label-ok":
        assert promote(settings, art.id, run=run.id, dry_run=True).metrics["macro_f1"] == run.metrics["macro_f1"]
        return
    with pytest.raises(ConfigError, match="does not match its predictions"):
        promote(settings, art.id, run=run.id, dry_run=True)


def test_gates_read_the_rows_when_run_json_lacks_a_figure(settings, art):
    """A figure deleted from run.json is neither a pass nor a refusal by default: the gate reads the rows'."""
    run = promotion_run(settings, art, SMISHING_MISSED, run_id="run-lacking", probs=True)
    _edit_metrics(settings, run.id, lambda m: [m.pop("auc"), m.pop("ece")])
    settings.raw["promotion"]["require"] = ["roc_auc[smishing]>=0.8", "ece<=0.25"]
    checks = {c.name: c for c in promote(settings, art.id, run=run.id, dry_run=True).checks}
    assert checks["require roc_auc[smishing]"].value == pytest.approx(0.85)
    assert checks["require ece"].passed and checks["require ece"].value == pytest.approx(0.1)


def test_compare_refuses_a_run_its_rows_contradict(settings, cli):
    cfg = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", limit=30, balanced=True)
    a = record_run(settings, cfg, run_id="run-a", probs=True)
    b = record_run(settings, cfg, wrong={1, 2}, run_id="run-b", probs=True)
    _edit_metrics(settings, b.id, lambda m: m["latency_ms"].update(p50=1.0))
    with pytest.raises(ConfigError, match=r"run run-b does not match its predictions: latency_ms.p50"):
        compare_runs([load_run(settings.runs_dir, a.id), load_run(settings.runs_dir, b.id)])
    r = cli("compare", a.id, b.id)
    assert r.returncode == 2 and "latency_ms.p50 is 1.0 in run.json" in r.stderr


# -- B7: errors are evidence -------------------------------------------------------------------------

def test_errors_are_wrong_answers_in_every_quality_figure():
    rows = [{"item_id": f"i{k}", "gold": "smishing", "pred": "smishing", "status": "ok",
             "probs": {"ham": 0.1, "spam": 0.1, "smishing": 0.8}} for k in range(4)]
    rows += [{"item_id": f"e{k}", "gold": "smishing", "pred": None, "status": "error"} for k in range(36)]
    m = compute_metrics(rows, LABELS)
    assert m["accuracy"] == pytest.approx(4 / 40) and m["n_correct"] == 4 and m["error_rate"] == pytest.approx(0.9)
    assert m["per_class"]["smishing"]["recall"] == pytest.approx(4 / 40)
    assert m["macro_f1"] < 0.1
    assert m["confusion"]["labels"][-1] == "<error>" and m["confusion"]["matrix"][2][-1] == 36
    # a failed item is a confidently wrong answer for the probability figures too
    assert m["brier"] == pytest.approx((4 * (0.01 + 0.01 + 0.04) + 36 * 2.0) / 40)
    assert m["ece"] == pytest.approx(abs(0.8 - 1.0) * 4 / 40 + 1.0 * 36 / 40)


def test_a_mostly_failed_evaluation_is_not_complete(fake_model, fault, settings, project, cli):
    items = load_dataset_splits("sms-phishing", settings).split("test")[:40]
    answered = {ex.id for ex in items[::10]}  # one call in ten answers
    for ex in items:
        if ex.id not in answered:
            fault.on_keyword(sanitize_sms(ex.text), "500")  # the text as the server receives it
    r = cli("evaluate", "--model", "fake", "--limit", "40", "--retries", "0", "--no-cache", "--json",
            "--no-langfuse")
    assert r.returncode == 3, r.stderr
    assert "most items failed" in r.stderr and "--resume" in r.stderr
    record = json.loads((only_run(project) / "run.json").read_text())
    assert record["status"] == "aborted"
    m = record["metrics"]
    assert m["n_errors"] >= 36 and m["accuracy"] <= 4 / 40
    assert len(predictions(only_run(project))) == 40


@pytest.fixture()
def failed_and_good(settings):
    """Two complete runs on the same 30 items: `good` (2 wrong), `failed` (27 errors, 3 right answers),
    as a run made before errors counted would be on disk."""
    cfg = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", limit=30, balanced=True)
    good = record_run(settings, cfg, wrong={1, 2}, run_id="good")
    failed = record_run(settings, cfg, errors=range(3, 30), run_id="failed")
    return good, failed


def test_compare_never_ranks_or_passes_a_mostly_failed_run(settings, cli, failed_and_good):
    good, failed = failed_and_good
    cmp = compare_runs([load_run(settings.runs_dir, good.id), load_run(settings.runs_dir, failed.id)],
                       options=CompareOptions(gates=["accuracy>=0.9"])).to_dict()
    rows = {r["key"]: r for r in cmp["rows"]}
    assert rows["accuracy"]["values"] == pytest.approx([28 / 30, 3 / 30])
    assert 1 not in rows["accuracy"]["best"] and 1 not in rows["p50_latency_ms"]["best"]
    assert [r["over_error_budget"] for r in cmp["runs"]] == [False, True]
    assert [(c["run"], c["passed"]) for c in cmp["checks"]] == [("failed", False)]  # listed once exceeded
    failed_gate = next(g for g in cmp["gates"] if g["run"] == "failed")
    assert not failed_gate["passed"]
    assert cmp["exit_code"] == 3 and any("failed: error_rate=0.9 exceeds max_error_rate 0.05" in f
                                         for f in cmp["failures"])
    # paired statistics count the errors as wrong too: the failed run is significantly worse
    s = paired_stats(load_run(settings.runs_dir, good.id), load_run(settings.runs_dir, failed.id), LABELS)
    assert s["n_paired"] == 30 and s["significantly_worse"]

    r = cli("compare", good.id, failed.id, "--gate", "accuracy>=0.9")
    assert r.returncode == 3 and "error_rate=0.9 exceeds" in r.stderr + r.stdout
    assert "over error budget" in r.stdout


def test_the_compare_error_budget_is_configured(settings, cli, failed_and_good):
    good, failed = failed_and_good
    toml = settings.root / "smishctl.toml"
    toml.write_text(toml.read_text() + "\n[compare]\nmax_error_rate = 0.95\n")
    r = cli("compare", good.id, failed.id, "--json")
    assert r.returncode == 0, r.stderr
    assert [x["over_error_budget"] for x in json.loads(r.stdout)["runs"]] == [False, False]
    toml.write_text(toml.read_text().replace("max_error_rate = 0.95", "max_error_rate = 7"))
    r = cli("compare", good.id, failed.id)
    assert r.returncode == 2 and "[compare] max_error_rate" in r.stderr


def test_promotion_bounds_errors_by_default(settings, art):
    run = promotion_run(settings, art, errors=(0, 1, 3), run_id="run-errs")  # 3 of 30 failed, none smishing
    settings.raw["promotion"].pop("max_error_rate", None)
    with pytest.raises(PolicyError, match=r"max_error_rate: error_rate=0.1 > 0.05"):
        promote(settings, art.id, run=run.id, reason="x")


# -- B10: cached items win no speed star -------------------------------------------------------------

def test_a_partly_cached_run_is_marked_and_wins_no_speed_star(settings, cli):
    cfg = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", limit=20)
    called = record_run(settings, cfg, run_id="called", latency_ms=400.0)
    partly = record_run(settings, cfg, run_id="partly", latency_ms=1.0, cached=range(9))  # 9 answers from the cache
    cmp = compare_runs([load_run(settings.runs_dir, called.id), load_run(settings.runs_dir, partly.id)],
                       options=CompareOptions(gates=["p50_latency_ms<=50"])).to_dict()
    assert [r["cached"] for r in cmp["runs"]] == [False, True]
    rows = {r["key"]: r for r in cmp["rows"]}
    for key in ("p50_latency_ms", "p95_latency_ms", "tokens_per_msg", "cost_per_1k"):
        assert rows[key]["best"] == [] and rows[key]["cached"] == [1] and rows[key]["values"][1] is None, key
    gate = next(g for g in cmp["gates"] if g["run"] == "partly")
    assert not gate["passed"] and "withheld: 9 items were answered from the cache" in gate["message"]
    r = cli("compare", called.id, partly.id)
    assert r.returncode == 0, r.stderr
    assert "cached 9/20" in r.stdout
    p50 = next(line for line in r.stdout.splitlines() if line.strip().startswith("latency p50"))
    assert "*" not in p50 and "cached" in p50


# -- B12: labels come from the task ------------------------------------------------------------------

HAM_LOOKING = ["See you at lunch tomorrow", "Are we still on for tonight", "Call me when you land",
               "Thanks for dinner, great evening", "Running late, be there at 7", "Happy birthday, have fun"]


def test_a_single_label_file_never_narrows_what_the_model_may_answer(fake_model, fault, project, cli):
    f = project / "smishing-only.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows([(t, "smishing") for t in HAM_LOOKING])
    r = cli("evaluate", "--model", "fake", "--dataset", str(f), "--evaluation-only", "--no-cache", "--json",
            "--no-langfuse")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dataset"]["model_labels"] == list(LABELS)  # the record names the label set offered
    assert rec["dataset"]["labels"] == ["smishing"]          # scored on the labels the file has
    assert rec["metrics"]["accuracy"] == 0.0                 # the server answers ham: no free 1.000
    assert {row["pred"] for row in predictions(only_run(project))} == {"ham"}
    # the same answer with the labels named: the same run (identity), the same figure
    r = cli("evaluate", "--model", "fake", "--dataset", str(f), "--evaluation-only", "--labels", "ham,spam,smishing",
            "--no-cache", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metrics"]["accuracy"] == 0.0


def test_a_narrowed_label_set_is_another_run(fake_model, settings, tmp_path):
    f = tmp_path / "two.csv"
    f.write_text("text,label\nhello there,smishing\nsee you,smishing\n", encoding="utf-8")
    ds = load_dataset_splits(str(f), settings, evaluation_only=True)
    assert ds.labels == LABELS
    settings = load_settings(settings.root)  # with the alias
    wide = prepare(settings, EvalConfig(model=fake_model, dataset=str(f), evaluation_only=True)).record
    narrow = prepare(settings, EvalConfig(model=fake_model, dataset=str(f), evaluation_only=True,
                                          data_options={"labels": ("smishing",)})).record
    assert wide.config_hash != narrow.config_hash and narrow.identity["labels"] == ["smishing"]
    assert narrow.dataset["model_labels"] == narrow.dataset["labels"] == ["smishing"]  # named even when equal
    assert "labels" not in wide.identity  # the task's own labels: the identity runs always had
