"""`evaluate --with-feedback`: a classic/* baseline also learns from the user reports of
datasets/feedback/ (as `optimize --with-feedback` does), never scores one of them, and records them."""

from __future__ import annotations

import csv
import json

import pytest

from smishctl.core.errors import ConfigError
from smishctl.data.feedback import add_reports
from smishctl.data.prepare import load_dataset_splits
from smishctl.ops.evaluate import EvalConfig, prepare

# Words no training message has: only the reports can teach the model what they mean.
PROBE = "glorbix vantu plemmo quarvex"
REPORTS = [f"glorbix vantu plemmo {w} quarvex" for w in ("tiralo", "busken", "frinnak", "dolvaro", "skemmit",
                                                          "yurtanko", "pazzelo", "wemblix")]


def _probe_file(project, texts_labels) -> str:
    path = project / "probe.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(texts_labels)
    return str(path)


def _evaluate(cli, data: str, *extra: str) -> dict:
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", data, "--evaluation-only", "--no-langfuse",
            "--json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_classic_model_learns_from_the_reports_and_records_them(cli, settings, project):
    data = _probe_file(project, [(PROBE, "ham"), ("see you at 6 at the station", "ham")])
    plain = _evaluate(cli, data)
    before = {r["item_id"]: r["pred"] for r in map(json.loads, open(settings.runs_dir / plain["id"] / "predictions.jsonl"))}
    ds = load_dataset_splits(None, settings)
    probe_id = next(ex.id for ex in load_dataset_splits(data, settings, evaluation_only=True).split("test")
                    if ex.text == PROBE)
    # the label the plain model does not give the probe: the reports must be what moves it there
    target = next(lab for lab in ds.labels if lab != before[probe_id])
    add_reports(settings, ds, [{"text": t, "label": target} for t in REPORTS], source="test")

    taught = _evaluate(cli, data, "--with-feedback")
    after = {r["item_id"]: r["pred"] for r in map(json.loads, open(settings.runs_dir / taught["id"] / "predictions.jsonl"))}
    assert after[probe_id] == target != before[probe_id]
    info = taught["dataset"]["train_dataset"]["feedback"]
    assert info["used"] == len(REPORTS) and info["sha256"]
    assert taught["config_hash"] != plain["config_hash"]       # never mistaken for the plain model's run
    assert taught["identity"]["feedback"] == info["items_hash"]


def test_a_report_is_never_scored_and_prompts_take_no_feedback(settings, project):
    ds = load_dataset_splits(None, settings)
    add_reports(settings, ds, [{"text": REPORTS[0], "label": "spam"}], source="test")
    data = _probe_file(project, [(REPORTS[0], "spam"), (PROBE, "ham")])
    cfg = EvalConfig(model="classic/tfidf-svm", dataset=data, evaluation_only=True)
    assert prepare(settings, cfg).record.dataset["n_items"] == 2           # without the reports: allowed
    cfg.with_feedback = True
    with pytest.raises(ConfigError, match="would score 1 of 2 messages it trains on .*or the feedback"):
        prepare(settings, cfg)
    with pytest.raises(ConfigError, match="classic/\\* models only"):
        prepare(settings, EvalConfig(dataset=data, evaluation_only=True, with_feedback=True))


def test_with_feedback_and_no_reports_says_it_added_nothing(cli, project):
    data = _probe_file(project, [(PROBE, "ham"), ("see you at 6 at the station", "ham")])
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", data, "--evaluation-only", "--no-langfuse",
            "--json", "--with-feedback")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dataset"]["train_dataset"]["feedback"]["used"] == 0  # stdout stays JSON
    [line] = [x for x in r.stderr.splitlines() if "--with-feedback" in x]
    assert line.startswith("warning: --with-feedback added nothing:") and "holds no reports" in line, r.stderr
    quiet = _evaluate(cli, data)
    assert quiet["dataset"]["train_dataset"].get("feedback") is None  # without the flag: no warning to give


def test_reports_that_near_copy_the_test_split_never_train_the_model(cli, settings, project):
    """Issue 30 B2: every test message imported as a report with its punctuation changed (all accepted),
    then `evaluate --with-feedback` scored the test split at 1.000. They are kept (and counted) at import,
    and left out of training: the run is the plain model's, on the same predictions."""
    ds = load_dataset_splits(None, settings)
    test = ds.split("test")
    reports = project / "reports.csv"
    with open(reports, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows((ex.text.replace(".", "!").replace(",", ";") + " ..", ex.label) for ex in test)
    r = cli("feedback", "import", str(reports), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    added = res["added"]
    assert added + res["duplicates"] == len(test) and added > 1100 and res["held_out_copies"] == added
    [line] = [x for x in r.stderr.splitlines() if "near-copy" in x]
    assert line.startswith(f"warning: {added} new report(s) near-copy dev/test messages of sms-phishing")

    plain = _evaluate_test(cli, settings)
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "60", "--balanced", "--with-feedback",
            "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    info = record["dataset"]["train_dataset"]["feedback"]
    assert info["used"] == 0 and info["held_out_copies"] == added, info
    [line] = [x for x in r.stderr.splitlines() if "--with-feedback" in x]
    assert line.startswith(f"warning: --with-feedback added nothing: none of the {added} report(s)")
    assert line.endswith(f"can train ({added} near-copies of dev/test messages, which training must never see)")
    assert _preds(settings, record) == _preds(settings, plain) and record["metrics"]["macro_f1"] < 0.99
    # With one report that may train, the others are still left out, and said so on one line.
    add_reports(settings, ds, [{"text": REPORTS[0], "label": "spam"}], source="test")
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "6", "--with-feedback", "--no-langfuse", "--json")
    assert json.loads(r.stdout)["dataset"]["train_dataset"]["feedback"]["used"] == 1
    [line] = [x for x in r.stderr.splitlines() if "--with-feedback" in x]
    assert line.startswith(f"warning: --with-feedback left out {added} report(s) in ") and "near-copies" in line


def _evaluate_test(cli, settings) -> dict:
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "60", "--balanced", "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _preds(settings, record) -> dict:
    return {r["item_id"]: r["pred"] for r in map(json.loads, open(settings.runs_dir / record["id"] / "predictions.jsonl"))}
