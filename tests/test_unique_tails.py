"""Short references: one shortest-unique-tail rule (util/tails.py) behind run and prompt references."""

from __future__ import annotations

from smishctl.cli.render import short_prompt_refs
from smishctl.store.runs import short_refs


def test_prompt_refs_are_the_shortest_tail_no_other_version_shares():
    ids = ["sms/local-qwen/v0001", "sms/local-qwen/v0002", "sms/gpt-4o/v0002", "modern/gpt-4o/v0003"]
    assert short_prompt_refs(ids + ids[:1]) == {  # duplicates count once
        "sms/local-qwen/v0001": "v0001",
        "sms/local-qwen/v0002": "local-qwen/v0002",
        "sms/gpt-4o/v0002": "gpt-4o/v0002",
        "modern/gpt-4o/v0003": "v0003",
    }


def test_run_refs_are_the_shortest_dash_tail_that_resolves_to_the_run_alone():
    ids = ["20261206-1200-local-qwen-a3f2", "20261206-1201-local-qwen-b7c1", "20261206-1202-gpt-x-a3f2"]
    refs = short_refs(ids)
    assert refs["20261206-1201-local-qwen-b7c1"] == "b7c1"
    # a3f2 ends two ids: each needs one more part
    assert refs["20261206-1200-local-qwen-a3f2"] == "qwen-a3f2"
    assert refs["20261206-1202-gpt-x-a3f2"] == "x-a3f2"
    # a tail that reads as `latest~N` would resolve elsewhere, so it is never a short reference
    assert short_refs(["run-latest"]) == {"run-latest": "run-latest"}
