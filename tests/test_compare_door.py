"""The compare door, `ops.compare.compare(settings, CompareRequest) -> Comparison`: typed all the way,
its document the golden one, and a run without metrics named by the reference `runs list` shows."""

from __future__ import annotations

import json

import pytest
from compare_golden import SCENARIOS, copy_project, golden, normalise, run_ids
from factories import items, predictions, write_run

from smishctl.core.comparison import Comparison, MustPassResult, PairedStats
from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.ops.compare import CompareRequest, compare
from smishctl.ops.pairing import load_run
from smishctl.store.runs import Run, run_dir


def _dumped(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"  # as --json prints it


@pytest.mark.parametrize("name", sorted(n for n in SCENARIOS if n.endswith("-json")))
def test_every_golden_document_reads_back_typed_and_writes_out_byte_identical(name):
    text = golden(name)["stdout"]
    typed = Comparison.from_dict(json.loads(text))
    assert _dumped(typed.to_dict()) == text
    assert all(isinstance(s, PairedStats) for s in typed.stats)
    assert all(isinstance(m, MustPassResult) for m in typed.must_pass)


def test_the_door_returns_the_typed_comparison_of_the_golden_scenario(tmp_path, monkeypatch):
    project = copy_project(tmp_path / "proj")
    monkeypatch.setenv("SMISHCTL_HOME", str(project))
    ids = run_ids()
    events: list[str] = []
    req = CompareRequest(runs=[ids["svm"], ids["knn"], ids["signals"]], gates=["macro_f1>=0.8", "recall[smishing]>=0.9"],
                         no_regression=True, max_error_rate=0.1, must_pass=["pins"], langfuse=False)
    from smishctl.ops.compare import CompareEvents

    cmp = compare(load_settings(project), req, CompareEvents(on_start=lambda plan: events.append("evaluated")))
    assert isinstance(cmp, Comparison) and cmp.exit_code == 1 and not cmp.passed
    assert events == []  # the must-pass runs were recorded: found, not evaluated again
    assert [r.role for r in cmp.runs] == ["baseline", "candidate", "candidate"]
    assert [(m.run, m.n_passed, m.n) for m in cmp.must_pass] == [(ids["knn"], 8, 13), (ids["signals"], 12, 13)]
    assert normalise(_dumped(cmp.to_dict()), project) == golden("gated-json")["stdout"]


def test_the_door_refuses_a_bad_request_before_any_work(tmp_path, monkeypatch):
    project = copy_project(tmp_path / "proj")
    monkeypatch.setenv("SMISHCTL_HOME", str(project))
    settings = load_settings(project)
    for req, message in [(CompareRequest(runs=["no-such-run"], gates=["macro_f1>>1"]), "gate"),
                         (CompareRequest(models=["classic/tfidf-svm"], prompt="a", prompts=["b"]), "not both"),
                         (CompareRequest(runs=[run_ids()["svm"]], label_map="a=b"), "--label-map needs --models"),
                         (CompareRequest(n_boot=10), "at least 100"),
                         (CompareRequest(), "nothing to compare")]:
        with pytest.raises(ConfigError, match=message):
            compare(settings, req)
    assert sorted(p.name for p in settings.runs_dir.iterdir()) == sorted(
        p.name for p in (project / "runs").iterdir())  # nothing was evaluated


def test_a_run_without_metrics_is_named_by_its_short_reference(settings):
    rec = write_run(settings.runs_dir, "20261206-101010-classic-tfidf-svm-zero-shot-aa11", predictions(items(6), set()))
    run = Run(run_dir(settings.runs_dir, rec.id))
    unfinished = run.record()
    unfinished.status, unfinished.metrics = "aborted", None
    run.write(unfinished)
    with pytest.raises(ConfigError) as exc:
        load_run(settings.runs_dir, rec.id)  # named by its whole id, shown by its short reference
    assert exc.value.hint == "finish it with: smishctl evaluate --resume aa11"
    assert "run aa11 has no metrics (status aborted)" in str(exc.value)


class _Recorder:
    """Hooks of their own name: what run_finished returns is recorded under that name."""

    name = "langfuse"

    def __init__(self):
        self.seen: list[str] = []

    def run_finished(self, record: dict) -> dict:
        self.seen.append(record["id"])
        return {"status": "pending", "error": "offline"}


def test_new_runs_go_to_the_hooks_once_and_their_answer_is_kept_typed(settings):
    from smishctl.ops.compare import report_new_runs

    rec = write_run(settings.runs_dir, "20261206-101010-classic-tfidf-svm-zero-shot-aa11", predictions(items(6), set()))
    data = [load_run(settings.runs_dir, rec.id)]
    assert data[0].record.langfuse == {}  # not reported yet
    hooks = _Recorder()
    assert [d.id for d in report_new_runs(settings, data, hooks=hooks)] == [rec.id]
    assert hooks.seen == [rec.id]
    assert data[0].record.langfuse == {"status": "pending", "error": "offline"}  # the hook's answer, typed
    assert report_new_runs(settings, data, hooks=hooks) == [] and hooks.seen == [rec.id]  # reported once
