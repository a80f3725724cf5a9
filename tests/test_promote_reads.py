"""promote reads each input once: the dataset is loaded once and each run.json parsed once per promote
(smishctl.ops.run_source), counted through the real loaders (wrapped, never replaced)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from factories import accept_small_promotions, make_artifact, promotion_run, record_run

from smishctl.data import prepare as data_prepare
from smishctl.ops import evaluate as evaluate_module
from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.promote import promote
from smishctl.store import runs as run_store

BIGGER = 40  # the candidate's items: not those of production's recorded run, so production's run on them is looked up


@pytest.fixture()
def counted(settings, monkeypatch):
    """Production (r0001) promoted on 30 items; a candidate evaluated on 40 others, production's run on those
    40 recorded too. Then every dataset load and every run.json read is counted."""
    accept_small_promotions(settings)
    good = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    cand = make_artifact(settings, instructions="Decide: ham, spam or smishing?")
    promotion_run(settings, good, {1}, run_id="run-good")
    promote(settings, good.id, reason="first")
    promotion_run(settings, cand, {1, 2}, run_id="run-cand", n=BIGGER)
    record_run(settings, EvalConfig(model="local/qwen2.5-coder-0.5b", prompt="production", dataset="sms-phishing",
                                    split="test", limit=BIGGER, balanced=True), wrong={1}, run_id="run-prod-40")
    loads: Counter = Counter()
    parsed: Counter = Counter()
    load, read_json = data_prepare.load_dataset_splits, run_store.read_json

    def counting_load(dataset, *args, **kw):
        loads[dataset] += 1
        return load(dataset, *args, **kw)

    def counting_read(path, *args, **kw):
        if Path(path).name == run_store.RUN_FILE:
            parsed[Path(path).parent.name] += 1
        return read_json(path, *args, **kw)

    monkeypatch.setattr(data_prepare, "load_dataset_splits", counting_load)
    # A module that imported the loader by name would load unseen: count there too (code before the run source).
    monkeypatch.setattr(evaluate_module, "load_dataset_splits", counting_load, raising=False)
    monkeypatch.setattr(run_store, "read_json", counting_read)
    return cand, loads, parsed


def test_promote_loads_the_dataset_once_and_parses_each_run_once(settings, counted):
    cand, loads, parsed = counted
    res = promote(settings, cand.id, reason="better")
    assert res.release == "r0002" and res.run == "run-cand"
    assert next(c for c in res.checks if c.name == "not_worse_than_production").production_run == "run-prod-40"
    assert dict(loads) == {"sms-phishing": 1}
    assert set(parsed) == {"run-good", "run-cand", "run-prod-40"} and set(parsed.values()) == {1}, parsed


def test_a_dry_run_reads_as_little(settings, counted):
    cand, loads, parsed = counted
    res = promote(settings, cand.id, dry_run=True)
    assert res.policy_passed and res.run == "run-cand"
    assert dict(loads) == {"sms-phishing": 1}
    assert set(parsed.values()) == {1}, parsed
