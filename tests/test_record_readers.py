"""Readers of run records take the typed `RunRecord` (or the stored dict, read through it): metrics, the
Langfuse link, must-pass configs, merging and the run tables read the same fields either way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from smishctl.cli.render import confusion_table, metrics_table
from smishctl.core.errors import ConfigError, DataError
from smishctl.core.records import RunRecord
from smishctl.data.golden import GoldenSet
from smishctl.ops.merge import merge_runs
from smishctl.ops.must_pass import golden_config
from smishctl.score.metrics import run_metrics
from smishctl.score.must_pass import result
from smishctl.store.runs import Run
from smishctl.tracking.push import dataset_name, experiment_link, run_metadata, run_scores

V1 = Path(__file__).parent / "fixtures" / "records" / "v1"
V1_RUN = "20261127-054936-tfidf-svm-zero-shot-a588"


@pytest.fixture
def run(tmp_path) -> Run:
    shutil.copytree(V1, tmp_path / "runs")
    return Run(tmp_path / "runs" / V1_RUN)


def test_record_properties_read_the_fields_readers_need(run):
    rec = run.record()
    raw = run.read()
    assert RunRecord.of(rec) is rec and RunRecord.of(raw) == rec
    assert rec.langfuse == raw["langfuse"] and rec.langfuse["status"] == "disabled"
    assert rec.wall_seconds == raw["wall_seconds"] == 0.052
    assert rec.shard is None
    assert rec.provenance == raw["dataset"]["provenance"] and rec.provenance
    assert rec.model_labels == rec.labels == ("ham", "spam", "smishing")  # no model_labels: the scored ones
    subset = RunRecord.of({**raw, "dataset": {**raw["dataset"], "labels": ["ham", "smishing"],
                                              "model_labels": ["ham", "spam", "smishing"]}})
    assert (subset.labels, subset.model_labels) == (("ham", "smishing"), ("ham", "spam", "smishing"))
    with pytest.raises(DataError, match="lacks status"):
        RunRecord.of({"id": "x"})


def test_readers_give_the_same_answer_for_a_record_and_its_dict(run):
    rec, raw, rows = run.record(), run.read(), run.predictions()
    assert run_metrics(rows, rec) == run_metrics(rows, raw) == raw["metrics"]
    assert dataset_name(rec) == dataset_name(raw) == "sms-phishing-test"
    meta = run_metadata(rec)
    assert meta == run_metadata(raw)
    assert (meta["run_id"], meta["model"], meta["dataset_hash"], meta["config_hash"], meta["smishctl_version"]) == (
        V1_RUN, "classic/tfidf-svm", raw["dataset"]["items_hash"], raw["config_hash"], "0.1.0")
    assert {s["name"] for s in run_scores(rec, "exp-1")} >= {"accuracy", "macro_f1", "f1_smishing"}
    golden = GoldenSet(name="pins", path=run.dir / "pins.csv")
    assert golden_config(rec, golden) == golden_config(raw, golden)
    assert golden_config(rec, golden).model == "classic/tfidf-svm"
    res = result(golden, "cand", rec, rows)
    assert (res["golden_run"], res["model"], res["prompt"]) == (V1_RUN, "classic/tfidf-svm", "zero-shot")


def test_the_experiment_link_is_the_pushed_url_only(run):
    rec = run.record()
    assert experiment_link(rec) is None  # disabled
    rec.extra["langfuse"] = {"status": "pushed", "url": "http://lf/project/p/experiments"}
    assert experiment_link(rec) == experiment_link(rec.to_dict()) == "http://lf/project/p/experiments"


def test_run_tables_render_a_typed_record(run):
    console = Console(record=True, width=120)
    console.print(metrics_table(run.record()))
    console.print(confusion_table(run.record()))
    text = console.export_text()
    assert f"run {V1_RUN}" in text and "macro-F1" in text and "12 (12 scored)" in text
    assert "smishing" in text.split("confusion")[1]


def test_merging_refuses_a_run_that_is_not_a_shard(run):
    with pytest.raises(ConfigError, match="is not a shard run"):
        merge_runs(run.dir.parent, [V1_RUN])
