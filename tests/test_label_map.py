"""`--label-map phishing=smishing,legit=ham`: a file labelled in its own words is scored on the task's
labels by evaluate (and compare --models), and the run record keeps the map."""

from __future__ import annotations

import csv
import json

import pytest

MAP = {"phishing": "smishing", "legit": "ham"}


@pytest.fixture()
def own_words(settings, project):
    """20 test-split messages of sms-phishing (never trained on), labelled phishing/legit in a CSV."""
    from smishctl.data.prepare import load_dataset_splits

    test = load_dataset_splits("sms-phishing", settings).split("test")
    rows = [e for e in test if e.label == "smishing"][:10] + [e for e in test if e.label == "ham"][:10]
    path = project / "own.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for e in rows:
            w.writerow([e.text, {v: k for k, v in MAP.items()}[e.label]])
    return path


def _evaluate(cli, path, *extra):
    return cli("evaluate", "-m", "classic/tfidf-svm", "-d", str(path), "--evaluation-only",
               "--train-dataset", "sms-phishing", "--json", "--no-langfuse", *extra)


def test_evaluate_reads_the_file_on_the_task_labels_and_records_the_map(cli, own_words, project):
    r = _evaluate(cli, own_words, "--label-map", "Phishing=smishing, legit=ham")
    assert r.returncode == 0, r.stderr
    record = json.loads((project / "runs" / json.loads(r.stdout)["id"] / "run.json").read_text())
    assert set(record["dataset"]["labels"]) <= {"ham", "spam", "smishing"}
    assert record["dataset"]["provenance"]["label_map"] == MAP
    assert record["config"]["data_options"]["label_map"] == MAP
    golds = {json.loads(line)["gold"] for line in (project / "runs" / record["id"] / "predictions.jsonl").open()}
    assert golds == {"smishing", "ham"}
    assert record["metrics"]["macro_f1"] is not None
    # without the map the file's own words are its labels, which the model cannot answer
    r = _evaluate(cli, own_words)
    assert r.returncode == 2 and "also has legit, phishing" in r.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("phishing", "--label-map: 'phishing' is not FROM=TO"),
    ("phishing=smishing,phishing=ham", "--label-map names 'phishing' twice"),
    ("fraud=smishing", "--label-map: no row of"),
])
def test_a_bad_label_map_is_one_line(cli, own_words, text, message):
    r = _evaluate(cli, own_words, "--label-map", text)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr


def test_compare_evaluates_with_the_map(cli, own_words, project):
    r = cli("compare", "--models", "classic/tfidf-svm", "-d", str(own_words), "--evaluation-only",
            "--train-dataset", "sms-phishing", "--label-map", "phishing=smishing,legit=ham", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    (run,) = [d for d in (project / "runs").iterdir() if (d / "run.json").is_file()]
    assert json.loads((run / "run.json").read_text())["dataset"]["provenance"]["label_map"] == MAP
    r = cli("compare", run.name, run.name, "--label-map", "phishing=smishing")
    assert r.returncode == 2 and "--label-map needs --models" in r.stderr
