"""Library hooks: the same Langfuse behaviour from Python as from the CLI, and a failing hook never
fails a run. Langfuse is the real SDK against tests/langfuse_server.py on loopback."""

from __future__ import annotations

import json

import dspy
import pytest
from factories import accept_small_promotions, make_artifact, promotion_run
from langfuse_server import LangfuseServer

from smishctl.core.hooks import RunHooks
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.ops.hooks import default_hooks, notify, safe_call
from smishctl.ops.optimize import search_trial
from smishctl.ops.promote import promote, rollback
from smishctl.solve.optimizers import exact_match
from smishctl.solve.trial_scores import Trial, TrialRecorder
from smishctl.tracking.hooks import LangfuseHooks, LangfuseOff
from smishctl.tracking.optimization import trial_trace_id


@pytest.fixture()
def server(monkeypatch):
    srv = LangfuseServer().start()
    for key, value in srv.env().items():
        monkeypatch.setenv(key, value)
    yield srv
    srv.stop()


class Broken(RunHooks):
    """Hooks whose every event fails."""

    name = "broken"

    def run_finished(self, record):
        raise RuntimeError("tracker down\nsecond line")

    def trial_scored(self, optimization_id, trial):
        raise ValueError("no trials today")

    def artifact_promoted(self, artifact_id):
        raise ConnectionError("label service gone")


def _arts(settings):
    """Two artifacts with synthetic test-split evaluations that pass the default policy."""
    accept_small_promotions(settings)
    good = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    ok = make_artifact(settings, instructions="Decide: ham, spam or smishing?")
    for art, run_id, wrong in ((good, "run-good", {1, 2}), (ok, "run-ok", {1, 2, 3, 4})):
        promotion_run(settings, art, wrong, run_id=run_id)
    return good, ok


def test_promote_from_python_moves_the_langfuse_label(settings, server):
    good, ok = _arts(settings)
    first = promote(settings, good.id)  # no CLI, no hooks argument: the project's default hooks
    assert first.langfuse["status"] == "pushed" and first.langfuse["version"] == 1, first.langfuse
    versions = server.prompts["smishctl-sms-classifier"]
    assert len(versions) == 1 and "production" in versions[0]["labels"]
    assert versions[0]["config"]["artifact_id"] == good.id

    assert promote(settings, ok.id).langfuse["version"] == 2
    assert "production" in versions[1]["labels"] and "production" not in versions[0]["labels"]

    back = rollback(settings)
    assert back.to.artifact == good.id and back.langfuse["status"] == "pushed"
    assert back.langfuse["version"] == 1 and not back.langfuse["created"]
    assert len(versions) == 2 and "production" in versions[0]["labels"] and "production" not in versions[1]["labels"]
    assert server.unknown == []


def test_dry_run_and_switched_off_hooks_leave_langfuse_alone(settings, server):
    good, _ = _arts(settings)
    assert "langfuse" not in promote(settings, good.id, dry_run=True).to_dict()
    res = promote(settings, good.id, hooks=default_hooks(settings, enabled=False))
    assert res.langfuse == {"status": "disabled", "reason": "--no-langfuse"}
    assert server.prompts == {} and server.requests == []


def test_default_hooks_follow_the_langfuse_configuration(settings, monkeypatch):
    off = default_hooks(settings)
    assert isinstance(off, LangfuseOff) and off.reason.startswith("not configured")
    assert default_hooks(settings, enabled=False).reason == "--no-langfuse"
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    assert isinstance(default_hooks(settings), LangfuseHooks)
    monkeypatch.setenv("LANGFUSE_BASE_URL", "localhost:3000")  # broken: reported by each event, never raised
    assert isinstance(default_hooks(settings), LangfuseHooks)
    monkeypatch.setenv("SMISHCTL_LANGFUSE", "off")
    assert default_hooks(settings).reason == "SMISHCTL_LANGFUSE=off"


def test_a_failing_hook_does_not_fail_evaluate(settings):
    warnings: list[str] = []
    record = evaluate(settings, EvalConfig(model="classic/tfidf-svm", limit=6, balanced=True), hooks=Broken(),
                      on_warning=warnings.append).to_dict()
    assert record["status"] == "complete" and record["metrics"]["n_items"] == 6
    stored = json.loads((settings.runs_dir / record["id"] / "run.json").read_text())
    assert stored["status"] == "complete" and "broken" not in stored and "broken" not in record
    assert warnings == ["Broken.run_finished failed: RuntimeError: tracker down"]


def test_a_failing_hook_does_not_fail_promote(settings):
    good, _ = _arts(settings)
    warnings: list[str] = []
    res = promote(settings, good.id, hooks=Broken(), on_warning=warnings.append)
    assert res.release == "r0001" and "broken" not in res.to_dict()
    assert warnings == ["Broken.artifact_promoted failed: ConnectionError: label service gone"]


def test_safe_call_logs_without_a_callback_and_skips_missing_events(caplog):
    class Partial:
        name = "partial"

        def run_finished(self, record):
            raise KeyError("sk-abcdefghijklmnopqrstuvwxyz")

    record: dict = {"id": "r"}
    assert notify(Partial(), "run_finished", record, into=record) is None and record == {"id": "r"}
    assert "Partial.run_finished failed: KeyError" in caplog.text
    assert "abcdefghijklmnopqrstuvwxyz" not in caplog.text  # a key quoted by a hook is masked
    assert safe_call(Partial(), "optimization_started", "opt-1", {}) is None  # not defined: nothing happens
    assert notify(RunHooks(), "run_finished", record, into=record) is None and record == {"id": "r"}


class AlwaysHam(dspy.Module):
    def forward(self, sms):
        return dspy.Prediction(label="ham")


def test_optimization_traces_are_the_trial_recorders_trials(settings, server):
    """What ops.optimize.optimize wires up: every trial TrialRecorder sees becomes one trace, numbered as recorded."""
    hooks = default_hooks(settings)
    oid = "optimize-20261126-hooks"
    hooks.optimization_started(oid, {"optimizer": "random-search", "model": "local/qwen2.5-coder-0.5b"})
    dev = [dspy.Example(sms=f"m{i}", label=lab).with_inputs("sms")
           for i, lab in enumerate(["ham", "spam", "ham", "smishing"])]
    rec = TrialRecorder(len(dev), on_scored=lambda n, t: safe_call(
        hooks, "trial_scored", oid, search_trial(n, t, "random-search", "local/qwen2.5-coder-0.5b")))
    with dspy.context(callbacks=[rec]):
        dspy.Evaluate(devset=dev[:1], metric=exact_match, display_progress=False)(AlwaysHam())  # a minibatch
        dspy.Evaluate(devset=dev, metric=exact_match, display_progress=False)(AlwaysHam())
    info = notify(hooks, "optimization_finished", oid, into=(manifest := {}))
    assert info["status"] == "pushed" and manifest["langfuse"] == info, info
    assert info["trace_ids"] == [trial_trace_id(oid, 1), trial_trace_id(oid, 2)]
    assert set(server.traces()) == set(info["trace_ids"])
    scores = {s["traceId"]: s["value"] for s in server.scores.values() if s["name"] == "trial_score"}
    assert [t.accuracy for t in rec.trials] == [1.0, 0.5]
    assert scores == {trial_trace_id(oid, 1): pytest.approx(1.0), trial_trace_id(oid, 2): pytest.approx(0.5)}
    root = next(s for s in server.traces()[trial_trace_id(oid, 2)] if s["name"] == "optimize-trial")
    assert json.loads(root["attributes"]["langfuse.observation.input"]) == {
        "optimizer": "random-search", "items": 4, "full_dev": True}
    assert hooks.optimization_finished(oid) is None  # the tracker was freed with the first finish


def test_a_failing_trial_hook_does_not_break_the_optimizers_evaluation():
    warnings: list[str] = []
    rec = TrialRecorder(1, on_scored=lambda n, t: safe_call(Broken(), "trial_scored", "opt", search_trial(n, t, "x", "m"),
                                                           on_warning=warnings.append))
    with dspy.context(callbacks=[rec]):
        result = dspy.Evaluate(devset=[dspy.Example(sms="x", label="ham").with_inputs("sms")], metric=exact_match,
                               display_progress=False)(AlwaysHam())
    assert result.score == 100.0 and rec.trials == [Trial(items=1, accuracy=1.0, full_dev=True)]
    assert warnings == ["Broken.trial_scored failed: ValueError: no trials today"]
