"""`smishctl promote ... --json` prints the same documents as before the door was typed: the scenario of
tests/promote_golden.py walked with this checkout, compared step by step with the goldens recorded by
the code of 958d7aa (regenerate with `python tests/promote_golden.py --code DIR`)."""

from __future__ import annotations

import json

import pytest
from promote_golden import GOLDEN, REPO, SCENARIO, walk_fresh


@pytest.fixture(scope="module")
def walked() -> list[dict]:
    return walk_fresh(REPO)


def test_the_goldens_cover_every_output():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [g["args"] for g in golden] == [" ".join(step) for step in SCENARIO]
    docs = [json.loads(g["stdout"]) for g in golden if g["exit"] == 0]
    assert {d.get("action") for d in docs} >= {"promote", "rollback"}
    assert any("would_evaluate" in d for d in docs) and any(d.get("in_production") is False for d in docs)
    assert any(d.get("forced") is True and d.get("release") for d in docs)
    assert [g["exit"] for g in golden if g["exit"]] == [2, 1]  # already in production; the policy refuses


@pytest.mark.parametrize("step", range(len(SCENARIO)), ids=[" ".join(s[1:3]) for s in SCENARIO])
def test_each_step_prints_what_it_printed_before(walked, step):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))[step]
    now = walked[step]
    assert (now["exit"], now["stderr"]) == (golden["exit"], golden["stderr"])
    assert now["stdout"] == golden["stdout"]  # byte for byte, after promote_golden.normalise
