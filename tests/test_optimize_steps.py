"""`optimize`'s steps one at a time: the plan (options and data, before any model call), the dev scorer and
the search (against the loopback fault server's deterministic answers), and the decision on dev."""

from __future__ import annotations

import pytest
from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError
from smishctl.core.hooks import RunHooks
from smishctl.ops.optimize import (
    DevScorer,
    OptimizeConfig,
    OptimizeEvents,
    build_models,
    decide,
    plan_optimize,
    program_files,
    score_baseline,
    search,
)
from smishctl.solve.optimizers import Candidate

LABELS = ("ham", "spam", "smishing")


def test_the_plan_samples_balanced_sets_and_refuses_bad_options_before_any_model_call(settings, tmp_path):
    plan = plan_optimize(settings, OptimizeConfig(optimizer="labeled", train_size=6, dev_size=3))
    assert plan.labels == LABELS and plan.optimizer == "labeled" and plan.params == {"k": 12}
    assert len(plan.train) == 6 and len(plan.dev) == 3 and plan.start is None and plan.feedback is None
    assert sorted(e.label for e in plan.dev) == sorted(LABELS)  # balanced: one of each
    assert not {e.id for e in plan.train} & {e.id for e in plan.dev}
    # the same seed, the same sample; another seed, another
    assert [e.id for e in plan_optimize(settings, OptimizeConfig(optimizer="labeled", train_size=6,
                                                                 dev_size=3)).dev] == [e.id for e in plan.dev]
    assert [e.id for e in plan_optimize(settings, OptimizeConfig(optimizer="labeled", train_size=6, dev_size=3,
                                                                 seed=5)).dev] != [e.id for e in plan.dev]
    # kNN given starting instructions searches under them ("start"), unless told otherwise
    f = tmp_path / "instructions.txt"
    f.write_text("Label the SMS as ham, spam or smishing.", encoding="utf-8")
    knn = plan_optimize(settings, OptimizeConfig(optimizer="knn", train_size=6, dev_size=3, instructions=str(f)))
    assert knn.params["instructions"] == "start" and knn.start_instructions == f.read_text(encoding="utf-8")
    for cfg, message in [
        (OptimizeConfig(calibrate="sometimes"), "--calibrate 'sometimes' is not auto, on or off"),
        (OptimizeConfig(dev_size=0), "must be positive"),
        (OptimizeConfig(recall_target="fraud=0.9"), "--recall-target names 'fraud'"),
        (OptimizeConfig(optimizer="random-search", train_size=3), "needs at least 6 training messages"),
        (OptimizeConfig(optimizer="knn", params={"k": "0"}), "knn parameter k='0'"),
    ]:
        with pytest.raises(ConfigError, match=message):
            plan_optimize(settings, cfg)


def test_the_search_scores_its_candidates_on_dev_and_counts_its_own_calls(project, fake_model, fault):
    settings = load_settings(project)  # with the fake model's alias
    cfg = OptimizeConfig(model=fake_model, optimizer="knn", train_size=9, dev_size=3,
                         params={"k": "2,3", "prior": "off"})
    plan = plan_optimize(settings, cfg)
    events, seen = OptimizeEvents(RunHooks()), []
    events.on_event = lambda kind, **kw: seen.append((kind, kw.get("name")))
    scorer = DevScorer(plan, build_models(settings, cfg, on_call=lambda m: None), events)
    meter = scorer.models.meter

    baseline = score_baseline(plan, scorer)
    assert baseline.n_items == 3 and meter.calls == len(fault.chat_requests()) >= 3
    assert ("phase", "baseline") in seen and seen.count(("item", None)) == 3

    before = meter.calls
    found = search(plan, cfg, scorer)
    # kNN scores each of its two candidates on the three dev messages through the same scorer: those
    # calls are the search's, and its returned program is not scored again
    assert [c.settings["k"] for c in found.candidates] == [2, 3]
    assert all(isinstance(c, Candidate) and c.dev_macro_f1 is not None for c in found.candidates)
    assert found.calls == meter.calls - before >= 6 and len(found.rows) == 3
    assert [n for kind, n in seen if kind == "phase"][1:] == ["candidate 1/2: k=2, order=nearest-last, dedup=False, "
                                                              "instructions=knn, words=labels, max_demo_chars=320, "
                                                              "signals=False",
                                                              "candidate 2/2: k=3, order=nearest-last, dedup=False, "
                                                              "instructions=knn, words=labels, max_demo_chars=320, "
                                                              "signals=False"]
    assert found.program.k == max(found.candidates, key=lambda c: (c.dev_macro_f1, -c.settings["k"])).settings["k"]

    # decide: three dev messages are too few to cross-validate a bias, so none is kept; the metrics are
    # the rows' own
    decided, metrics = decide(plan, cfg, found)
    assert decided.calibration["kept"] is False and decided.decision is None and decided.adapter.bias == {}
    assert metrics.n_items == 3
    files = program_files(plan, found.program, decided.adapter)
    assert files.state["kind"] == "knn" and files.state["adapter"] == decided.adapter.to_dict()
    assert files.demos == f"per message: the {found.program.k} most similar of 9 training messages"


class _TrialsDown(RunHooks):
    name = "trials-down"

    def trial_scored(self, optimization_id, trial):
        raise ValueError("no trials today")

    def optimization_finished(self, optimization_id):
        return {"status": "closed", "id": optimization_id}


def test_the_events_warn_once_per_failing_hook_and_record_what_the_finishing_hook_returns():
    heard: list[tuple[str, str]] = []
    events = OptimizeEvents(_TrialsDown(), on_event=lambda kind, **kw: heard.append((kind, kw["message"])))
    for n in range(3):
        events.trial({"trial": n, "score": 0.5})
    assert heard == [("warning", "_TrialsDown.trial_scored failed: ValueError: no trials today")]
    manifest: dict = {}
    events.finished(manifest)
    assert manifest == {"trials-down": {"status": "closed", "id": events.optimization_id}}
    assert events.optimization_id.startswith("optimize-")
