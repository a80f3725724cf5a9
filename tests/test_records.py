"""Typed, versioned run records: what earlier versions wrote keeps loading (a run written before records
carried a schema version is kept under tests/fixtures/records/v1), what this version writes is stamped,
and damaged or too-new records are refused with one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smishctl.core.errors import ConfigError, DataError
from smishctl.core.records import SCHEMA_VERSION, Prediction, RunRecord
from smishctl.score.metrics import run_metrics
from smishctl.store.runs import PredictionWriter, Run, find_run, list_runs

V1 = Path(__file__).parent / "fixtures" / "records" / "v1"
V1_RUN = "20261127-054936-tfidf-svm-zero-shot-a588"


@pytest.fixture
def runs_dir(tmp_path):
    shutil.copytree(V1, tmp_path / "runs")
    return tmp_path / "runs"


def test_a_run_written_before_schema_versions_loads_and_migrates(runs_dir):
    raw = json.loads((runs_dir / V1_RUN / "run.json").read_text())
    assert "schema_version" not in raw
    run = Run(runs_dir / V1_RUN)
    rec = run.record()
    assert rec.schema_version == SCHEMA_VERSION
    assert (rec.id, rec.model_name, rec.prompt_id, rec.split, rec.complete) == (
        V1_RUN, "classic/tfidf-svm", "zero-shot", "test", True)
    assert rec.labels == ("ham", "spam", "smishing")
    assert rec.extra["langfuse"] == raw["langfuse"]  # keys the record type does not name survive
    # Nothing is lost in the round trip: the stored dict is the old one plus the version.
    assert run.read() == {**raw, "schema_version": SCHEMA_VERSION}
    rows = run.predictions()
    assert len(rows) == rec.dataset["n_items"] == 12
    # The metrics recomputed from the migrated rows are those the old version stored.
    assert run_metrics(rows, run.read())["macro_f1"] == raw["metrics"]["macro_f1"]
    assert find_run(runs_dir, raw["config_hash"]).id == V1_RUN
    assert [r.id for r in list_runs(runs_dir)] == [V1_RUN]


def test_writing_stamps_the_current_version_and_keeps_the_record(runs_dir):
    run = Run(runs_dir / V1_RUN)
    before = run.read()
    run.write(json.loads((runs_dir / V1_RUN / "run.json").read_text()))
    stored = json.loads((runs_dir / V1_RUN / "run.json").read_text())
    assert stored["schema_version"] == SCHEMA_VERSION
    assert stored == before


def test_prediction_rows_from_before_label_probabilities_are_migrated():
    old = {"item_id": "a1", "index": 3, "gold": "spam", "pred": "spam", "status": "ok", "latency_ms": 2.5,
           "cost_usd": 0.0}
    p = Prediction.from_dict({**old, "schema_version": 1})
    assert (p.probs, p.usage, p.cache_hit, p.error, p.raw) == (None, {}, False, None, None)
    assert p.to_dict() == {**old, "probs": None, "usage": {}, "cache_hit": False, "error": None, "raw": None}


def test_prediction_rows_keep_unknown_fields_and_refuse_damage(tmp_path):
    row = {"item_id": "a1", "index": 0, "gold": "ham", "pred": "ham", "status": "ok", "latency_ms": 1.0,
           "decision": "bias"}
    assert Prediction.from_dict(row).to_dict()["decision"] == "bias"
    with pytest.raises(DataError, match="unknown status 'maybe'"):
        Prediction.from_dict({**row, "status": "maybe"})
    with pytest.raises(DataError, match="is ok but has no label"):
        Prediction.from_dict({**row, "pred": None})
    with pytest.raises(DataError, match="lacks gold"):
        PredictionWriter(tmp_path / "p.jsonl").write({"item_id": "x", "status": "ok", "pred": "ham"})


def test_damaged_or_newer_run_records_are_refused(runs_dir):
    path = runs_dir / V1_RUN / "run.json"
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(DataError, match="written by a newer smishctl"):
        Run(path.parent).record()
    path.write_text(json.dumps({k: v for k, v in raw.items() if k != "status"}))
    with pytest.raises(DataError, match="lacks status"):
        Run(path.parent).record()
    with pytest.raises(DataError, match="unknown status"):
        RunRecord.from_dict({**raw, "status": "done"})


PROMPTS = Path(__file__).parent / "fixtures" / "prompts"


def test_prompt_artifacts_written_by_this_format_keep_loading(tmp_path):
    """tests/fixtures/prompts holds two artifacts written by `smishctl optimize` (labeled, and the default
    kNN program with its SVM prior): their checksums verify, their programs load, and rendering them
    again gives exactly the stored prompt."""
    from smishctl.solve.knn import KNNClassifier
    from smishctl.store.artifacts import list_artifacts, resolve_artifact, verify_artifact
    from smishctl.store.programs import load_adapter_config, load_program, render_messages

    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts)
    arts = list_artifacts(prompts)
    assert [a.id for a in arts] == ["sms-phishing/qwen2.5-coder-0.5b/v0001", "sms-phishing/qwen2.5-coder-0.5b/v0002"]
    labels = ("ham", "spam", "smishing")
    labeled, knn = (resolve_artifact(prompts, ref) for ref in ("v0001", "v0002"))
    for art in (labeled, knn):
        verify_artifact(art)
        assert load_adapter_config(art).name == "score"
    program = load_program(labeled, labels)
    assert len(program.predictors()[0].demos) == 3
    stored = json.loads((labeled.dir / "prompt.json").read_text())["messages"]
    assert render_messages(program, labels, load_adapter_config(labeled)) == stored
    knn_program = load_program(knn, labels)
    assert isinstance(knn_program, KNNClassifier) and len(knn_program.pool) == 6
    assert knn_program.prior_weight == 0.5 and knn.manifest["search"]["chosen"]["prior"]["weight"] == 0.5
    assert set(knn_program.prior_probs("Your parcel fee is due, pay now")) == set(labels)
    # A damaged artifact is refused, not loaded.
    program_file = labeled.dir / "program.json"
    program_file.write_text(program_file.read_text().replace("ham", "spam", 1))
    with pytest.raises(ConfigError, match="program.json does not match its manifest checksum"):
        verify_artifact(resolve_artifact(prompts, "v0001"))
