"""Evaluating a whole labelled file: label set not order, label subsets, --split all, evaluation-only
files, classic baselines trained on a named dataset (never on the evaluated file)."""

from __future__ import annotations

import csv
import json

import pytest
from factories import make_artifact

from smishctl.core.errors import ConfigError
from smishctl.data.prepare import load_dataset_splits
from smishctl.store.artifacts import artifact_labels
from smishctl.store.programs import load_program

ROWS = [
    ("Your parcel is held: pay the 1.99 fee at http://parcel-fee.top/pay", "smishing"),
    ("Bank alert: account locked, verify at http://secure-verify.co", "smishing"),
    ("Toll unpaid: 6.80 due, pay today at ezpass-tollpay.com to avoid a fine", "smishing"),
    ("HMRC refund of 326 GBP waiting, claim at hmrc-refund.site", "smishing"),
    ("are we still on for dinner tonight?", "ham"),
    ("Your verification code is 482913. Do not share it.", "ham"),
    ("Running 10 min late, save me a seat", "ham"),
    ("Reminder: dentist tomorrow at 3pm", "ham"),
    ("Happy birthday! see you at the weekend", "ham"),
    ("Can you grab milk on the way home?", "ham"),
]


def _write(path, rows, header=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_artifact_label_set_not_order_and_subsets(settings):
    art = make_artifact(settings)  # built for (ham, spam, smishing)
    assert artifact_labels(art, ("ham", "smishing", "spam")) == ("ham", "spam", "smishing")
    assert artifact_labels(art, ("smishing", "ham")) == ("ham", "spam", "smishing")
    program = load_program(art, ("ham", "smishing", "spam"))  # used to fail on the order
    assert program.signature.output_fields["label"].annotation.__args__ == ("ham", "spam", "smishing")
    with pytest.raises(ConfigError, match="also has fraud"):
        artifact_labels(art, ("ham", "fraud"))


def test_split_all_and_evaluation_only(settings, tmp_path):
    f = _write(tmp_path / "mine.csv", ROWS)
    ds = load_dataset_splits(str(f), settings)
    assert 0 < len(ds.split("test")) < len(ROWS)
    every = ds.split("all")
    assert sorted(e.id for e in every) == sorted(e.id for s in ds.splits.values() for e in s)
    assert len(every) == len(ROWS)
    whole = load_dataset_splits(str(f), settings, evaluation_only=True)
    assert len(whole.split("test")) == len(ROWS) and not whole.split("train") and not whole.split("dev")
    assert whole.provenance["evaluation_only"] is True
    # Files under datasets/golden and datasets/feedback, and [data].evaluation_only globs, are never split.
    golden = settings.datasets_dir / "golden"
    golden.mkdir(parents=True)
    g = _write(golden / "mine.csv", ROWS)
    assert len(load_dataset_splits(str(g), settings).split("test")) == len(ROWS)
    (settings.root / "evals").mkdir()
    e = _write(settings.root / "evals" / "x.csv", ROWS)
    text = (settings.root / "smishctl.toml").read_text().replace("[data]\n", '[data]\nevaluation_only = ["evals/*.csv"]\n')
    (settings.root / "smishctl.toml").write_text(text)
    from smishctl.core.config import load_settings

    s2 = load_settings(settings.root)
    assert len(load_dataset_splits(str(e), s2).split("test")) == len(ROWS)


def test_evaluate_subset_file_whole_with_classic_trained_elsewhere(cli, project):
    f = _write(project / "mine.csv", ROWS)
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", str(f), "--evaluation-only",
            "--labels", "ham,spam,smishing", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dataset"]["n_items"] == len(ROWS)                      # the whole file, not a fifth
    assert rec["dataset"]["labels"] == ["ham", "smishing"]              # scored on the labels present
    assert rec["dataset"]["model_labels"] == ["ham", "spam", "smishing"]
    assert set(rec["metrics"]["per_class"]) == {"ham", "smishing"}
    assert rec["dataset"]["train_dataset"]["dataset"] == "sms-phishing"  # never trained on the file itself
    assert rec["identity"]["train"]["dataset"] == "sms-phishing"
    # --split all on a file that is split: every item.
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", str(f), "--split", "all",
            "--train-dataset", "sms-phishing", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dataset"]["n_items"] == len(ROWS)


def test_compare_models_split_all_on_evaluation_only_file(cli, project):
    golden = project / "datasets" / "golden"
    golden.mkdir(parents=True)
    f = _write(golden / "mine.csv", ROWS)
    r = cli("compare", "--models", "classic/tfidf-svm", "--dataset", str(f), "--split", "all", "--json",
            "--no-langfuse")
    assert r.returncode == 0, r.stderr
    cmp = json.loads(r.stdout)
    assert cmp["runs"][0]["n_items"] == len(ROWS) and cmp["dataset"]["split"] == "all"


def test_a_label_the_model_cannot_predict_is_refused(cli, project):
    f = _write(project / "odd.csv", [*ROWS, ("Send me the gift card codes now", "fraud")])
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", str(f), "--evaluation-only")
    assert r.returncode == 2 and "also has fraud" in r.stderr
    assert not list((project / "runs").glob("*/run.json")) if (project / "runs").exists() else True
