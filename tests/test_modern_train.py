"""The modern training pool (`modern-train`, smishctl/bundled/modern/modern_train.csv): it loads through
the registry, trains a classic model as --train-dataset and as reports, and stays apart from the
evaluation set `modern` by the check its authors ran (datasets/modern/check_train.py), and from the
public default dataset it must not copy."""

from __future__ import annotations

import csv
import importlib.util
import json
from collections import Counter

import pytest

from conftest import REPO
from smishctl.data.fetch import BUNDLED_DIR
from smishctl.data.leaks import near_copies
from smishctl.data.prepare import load_dataset_splits

TRAIN, EVAL = BUNDLED_DIR / "modern" / "modern_train.csv", BUNDLED_DIR / "modern" / "modern_sms.csv"


def _check():
    spec = importlib.util.spec_from_file_location("check_train", REPO / "datasets" / "modern" / "check_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check():
    return _check()


def test_it_loads_through_the_registry_as_a_training_dataset(settings):
    ds = load_dataset_splits("modern-train", settings)
    assert not ds.provenance.get("evaluation_only") and ds.split("train") and ds.split("test")
    items = [ex for split in ds.splits.values() for ex in split]
    counts = Counter(ex.label for ex in items)
    assert len(items) >= 600 and set(counts) == set(ds.labels) == {"ham", "spam", "smishing"}, counts
    assert min(counts.values()) >= 180, counts  # roughly balanced: about 200 a label


def test_the_authors_check_passes_on_the_shipped_file(check):
    columns, rows = check.read(TRAIN)
    _, evaluation = check.read(EVAL)
    assert check.problems(rows, columns, evaluation) == []
    assert len(rows) >= 600


def test_the_check_catches_a_variant_of_an_evaluation_row_a_mixed_template_and_a_shared_campaign(check):
    columns, rows = check.read(TRAIN)
    _, evaluation = check.read(EVAL)
    source = next(r for r in evaluation if r["template"] == "sm-toll-services")
    # the same script with another amount, date and domain: a near-copy by the template rule
    variant = {**rows[0], "text": source["text"].replace("4.35", "6.10").replace("11/14", "12/02")
               .replace("tollcenter-pay.top", "toll-settle.icu"), "template": "sm-fresh-variant"}
    found = check.problems(rows + [variant], columns, evaluation)
    assert len(found) >= 1 and all("evaluation" in p for p in found), found
    mixed = {**rows[-1], "text": "a fresh text nobody wrote before", "template": rows[0]["template"]}
    assert any(rows[0]["template"] in p for p in check.problems(rows + [mixed], columns, evaluation))
    evaluation_with_campaigns = [{**r, "campaign": rows[0]["campaign"]} for r in evaluation]
    assert any("campaigns also in the evaluation" in p for p in check.problems(rows, columns, evaluation_with_campaigns))


def test_no_row_copies_the_public_default_dataset(settings):
    with open(TRAIN, encoding="utf-8", newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    public = [ex.text for split in load_dataset_splits("sms-phishing", settings).splits.values() for ex in split]
    assert near_copies(texts, public).n_learned == 0


def test_a_classic_model_trains_on_it_as_train_dataset_and_as_reports(cli):
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", "modern", "--train-dataset", "modern-train",
            "--limit", "30", "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["dataset"]["train_dataset"]["dataset"] == "modern-train"
    r = cli("feedback", "import", str(TRAIN), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == len(_check().read(TRAIN)[1])
