"""`smishctl compare` prints and writes exactly what it did before its result was typed: the exit code,
stdout (tables or --json), stderr and every report file (--markdown, --html, --junit, --json-file) of
each scenario equal the goldens recorded by the code of commit 958d7aa on the same recorded runs
(tests/compare_golden.py: scenarios, normalisation of volatile fields, and how to regenerate)."""

from __future__ import annotations

import json

import pytest
from compare_golden import SCENARIOS, copy_project, golden, outputs, run_ids


@pytest.fixture(scope="module")
def fixed_project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("golden") / "proj")


def test_the_recorded_runs_are_all_there():
    assert sorted(run_ids()) == ["knn", "signals", "svm"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_compare_outputs_equal_the_goldens(fixed_project, name):
    want = golden(name)
    got = outputs(name, fixed_project)
    assert sorted(got) == sorted(want)  # the same report files were written
    for key in want:
        assert got[key] == want[key], f"{name}/{key} differs from its golden"


def test_the_goldens_hold_what_they_claim():
    """The goldens are not empty shells: the gated scenario fails gates and must-pass sets, and the
    JSON document is the compare schema with every run and the must-pass results."""
    doc = json.loads(golden("gated-json")["stdout"])
    assert doc["schema"] == "smishctl.compare/1" and doc["exit_code"] == 1 and len(doc["runs"]) == 3
    assert doc["must_pass"] and doc["stats"] and doc["gates"] and doc["checks"] and doc["diff"]["items"]
    assert golden("gated-json")["cmp.json"] == golden("gated-json")["stdout"]
    assert "<testsuites" in golden("gated-json")["gates.xml"] and "<svg" in golden("gated-json")["report.html"]
