"""`--shard K/N` splits a run deterministically; `runs merge` rebuilds the unsharded run exactly."""

from __future__ import annotations

import json

import pytest
from faultutil import fake_model_fixture, fault_fixture, predictions  # noqa: F401

from smishctl.core.errors import ConfigError
from smishctl.data.shards import parse_shard, shard_of
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.ops.merge import merge_runs
from smishctl.store.runs import Run

QUALITY = ("n_items", "n_scored", "n_correct", "n_errors", "n_invalid", "error_rate", "invalid_rate", "accuracy",
           "macro_f1", "per_class", "confusion", "tokens")


def test_shard_assignment_is_deterministic_and_a_partition():
    ids = [f"{i:016x}" for i in range(1000)]
    for n in (1, 2, 3, 7):
        shards = [shard_of(i, n) for i in ids]
        assert shards == [shard_of(i, n) for i in ids]
        assert set(shards) == set(range(1, n + 1))
    counts = [sum(shard_of(i, 4) == k for i in ids) for k in range(1, 5)]
    assert min(counts) > 200  # roughly balanced


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1-3", "a/b", "", "3"])
def test_bad_shard_specs_are_refused(bad):
    with pytest.raises(ConfigError):
        parse_shard(bad)


def test_merged_shards_equal_the_unsharded_run(fake_model, fault, settings, cli):
    from smishctl.data.prepare import load_dataset_splits

    for ex in load_dataset_splits("sms-phishing", settings).split("test")[5:40:12]:
        fault.on_keyword(ex.text, "invalid")  # some invalid outputs, so counting survives the merge too
    cfg = {"model": "fake", "dataset": "sms-phishing", "limit": 40, "cache": False, "num_retries": 0, "threads": 4}
    full = evaluate(settings, EvalConfig(**cfg)).to_dict()
    shards = [evaluate(settings, EvalConfig(**cfg, shard=f"{k}/3")).to_dict() for k in (1, 2, 3)]
    assert sum(s["dataset"]["n_items"] for s in shards) == 40
    assert full["metrics"]["n_invalid"] == 3
    assert all(s["shard"]["full_items_hash"] == full["dataset"]["items_hash"] for s in shards)
    assert len({s["config_hash"] for s in shards}) == 3  # each shard is its own (partial) run

    # a missing shard is refused, with the command that fixes it
    with pytest.raises(ConfigError, match="2/3"):
        merge_runs(settings.runs_dir, [shards[0]["id"], shards[2]["id"]])

    for s in shards:  # each shard pushed to Langfuse: those experiments are not the merged run's
        run = Run(settings.runs_dir / s["id"])
        rec = run.record()
        rec.extra["langfuse"] = {"status": "pushed", "url": f"http://127.0.0.1:3000/{s['id']}"}
        run.write(rec)
    r = cli("runs", "merge", *(s["id"] for s in reversed(shards)), "--json")
    assert r.returncode == 0, r.stderr
    merged = json.loads(r.stdout)
    assert merged["status"] == "complete" and "langfuse" not in merged
    assert merged["dataset"]["items_hash"] == full["dataset"]["items_hash"]
    assert merged["config_hash"] == full["config_hash"]
    for key in QUALITY:
        assert merged["metrics"][key] == full["metrics"][key], key
    got = predictions(settings.runs_dir / merged["id"])
    want = sorted(predictions(settings.runs_dir / full["id"]), key=lambda r: r["index"])  # threads: any order
    assert [(r["index"], r["item_id"], r["status"], r["pred"]) for r in got] == \
        [(r["index"], r["item_id"], r["status"], r["pred"]) for r in want]

    # merging the same shard twice, or shards with an unsharded run, is refused
    with pytest.raises(ConfigError):
        merge_runs(settings.runs_dir, [shards[0]["id"], shards[0]["id"], shards[1]["id"]])
    with pytest.raises(ConfigError, match="not a shard"):
        merge_runs(settings.runs_dir, [full["id"], shards[1]["id"]])
