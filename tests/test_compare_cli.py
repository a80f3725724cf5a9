"""compare on synthetic runs: table rows, pairing, gates, exit codes and report files (no model)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from factories import items, predictions, write_run

from smishctl.core.errors import ConfigError
from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.pairing import load_run

GOLD = items(30)


@pytest.fixture()
def runs(settings):
    """base: 20/30 right; good: 28/30 right; bad: 10/30 right; errs: 3 infrastructure errors."""
    d = settings.runs_dir
    write_run(d, "base", predictions(GOLD, set(range(0, 30, 3))), latency_ms=500, cost_usd=0.0002)
    write_run(d, "good", predictions(GOLD, {4, 5}), latency_ms=100, cost_usd=0.0001)
    write_run(d, "bad", predictions(GOLD, set(range(20))), latency_ms=50, cost_usd=0.00005)
    rows = predictions(GOLD, set())
    rows[:3] = [(i, g, None, "error") for i, g, _, _ in rows[:3]]
    write_run(d, "errs", rows)
    return d


def _load(settings, *ids):
    return [load_run(settings.runs_dir, i) for i in ids]


def test_rows_best_and_deltas(settings, runs):
    cmp = compare_runs(_load(settings, "base", "good", "bad")).to_dict()
    rows = {r["key"]: r for r in cmp["rows"]}
    acc = rows["accuracy"]
    assert acc["values"] == pytest.approx([20 / 30, 28 / 30, 10 / 30])
    assert acc["best"] == [1]
    assert acc["deltas"] == [None, pytest.approx(8 / 30), pytest.approx(-10 / 30)]
    assert rows["p95_latency_ms"]["best"] == [2]            # lower is better
    assert rows["cost_per_1k"]["values"] == pytest.approx([0.2, 0.1, 0.05])
    assert "recall[smishing]" in rows and "f1[ham]" in rows
    assert cmp["baseline"] == "base" and [r["role"] for r in cmp["runs"]] == ["baseline", "candidate", "candidate"]


def test_stats_are_paired_by_item_id(settings, runs):
    # shuffle the candidate's lines: pairing must follow item ids, not positions
    rows = predictions(GOLD, {4, 5})[::-1]
    write_run(settings.runs_dir, "good-rev", rows)
    cmp = compare_runs(_load(settings, "base", "good-rev")).to_dict()
    s = cmp["stats"][0]
    # base wrong on 0,3,...,27 (10 items); good wrong on 4,5 -> b = 2, c = 10
    assert (s["baseline_only_correct"], s["candidate_only_correct"]) == (2, 10)
    assert s["mcnemar_p"] == pytest.approx(158 / 4096)
    assert s["significant"] and not s["significantly_worse"]
    assert s["ci_low"] <= s["macro_f1_diff"] <= s["ci_high"]


def test_gates_exit_codes(settings, runs):
    ok = compare_runs(_load(settings, "base", "good"),
                      options=CompareOptions(gates=["macro_f1>=0.8", "recall[smishing]>=0.9", "cost_per_1k<=0.15"])).to_dict()
    assert ok["exit_code"] == 0 and ok["passed"]
    assert {g["run"] for g in ok["gates"]} == {"good"}       # the baseline is not gated
    failed = compare_runs(_load(settings, "base", "bad"), options=CompareOptions(gates=["macro_f1>=0.8"])).to_dict()
    assert failed["exit_code"] == 1
    assert any("bad: macro_f1=0.3" in f for f in failed["failures"])
    errs = compare_runs(_load(settings, "base", "errs"),
                        options=CompareOptions(gates=["macro_f1>=0.99"], max_error_rate=0.02)).to_dict()
    assert errs["exit_code"] == 3                           # infrastructure beats quality
    assert any("error_rate=0.1" in f for f in errs["failures"])


def test_no_regression(settings, runs):
    worse = compare_runs(_load(settings, "base", "bad"), options=CompareOptions(no_regression=True)).to_dict()
    assert worse["exit_code"] == 1 and "no_regression failed" in worse["failures"][0]
    better = compare_runs(_load(settings, "base", "good"), options=CompareOptions(no_regression=True)).to_dict()
    assert better["exit_code"] == 0
    with pytest.raises(ConfigError):
        compare_runs(_load(settings, "good"), options=CompareOptions(no_regression=True))


def test_different_items_warn_or_refuse(settings, runs):
    same = compare_runs(_load(settings, "base", "good")).to_dict()  # the same items: no warning, nothing left out
    assert not any("different items" in w for w in same["warnings"]) and not same["warnings"]
    write_run(settings.runs_dir, "part", predictions(GOLD[:20], set()))
    cmp = compare_runs(_load(settings, "base", "part")).to_dict()
    assert cmp["n_common_items"] == 20 and cmp["stats"][0]["n_paired"] == 20
    assert any("different items" in w for w in cmp["warnings"])
    with pytest.raises(ConfigError, match="different items"):
        compare_runs(_load(settings, "base", "part"), options=CompareOptions(strict_items=True))
    write_run(settings.runs_dir, "disjoint", [(f"x{k}", "ham", "ham", "ok") for k in range(5)])
    with pytest.raises(ConfigError, match="share no items"):
        compare_runs(_load(settings, "base", "disjoint"))


def test_different_datasets_refused(settings, runs):
    write_run(settings.runs_dir, "uci", predictions(GOLD, set()), dataset="uci-sms-spam")
    with pytest.raises(ConfigError, match="different datasets"):
        compare_runs(_load(settings, "base", "uci"))


def test_cli_exit_codes_and_messages(cli, runs):
    r = cli("compare", "base", "good", "--gate", "macro_f1>=0.8", "--gate", "p95_latency_ms<=800")
    assert r.returncode == 0, r.stderr
    assert "macro-F1" in r.stdout and "gates passed" in r.stderr
    r = cli("compare", "base", "bad", "--gate", "macro_f1>=0.80", "--gate", "cost_per_1k<=1")
    assert r.returncode == 1
    assert "FAIL bad: macro_f1=0.3" in r.stderr and "cost_per_1k" not in r.stderr.split("FAIL", 1)[1].split("\n")[0]
    r = cli("compare", "base", "errs", "--max-error-rate", "0.02")
    assert r.returncode == 3 and "error_rate=0.1" in r.stderr
    for args, message in [
        (("base", "good", "--gate", "macro_f1=>0.8"), "malformed gate"),
        (("base", "good", "--gate", "speed>=3"), "unknown metric 'speed'"),
        (("base", "nope"), "unknown run 'nope'"),
        (("base", "good", "--baseline", "production"), "nothing is in production"),
        ((), "nothing to compare"),
    ]:
        r = cli("compare", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cli_reports(cli, runs, project):
    r = cli("compare", "good", "bad", "--baseline", "base", "--gate", "macro_f1>=0.8", "--no-regression",
            "--markdown", "r.md", "--junit", "r.xml", "--json-file", "r.json", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["baseline"] == "base" and [x["id"] for x in doc["runs"]] == ["base", "good", "bad"]
    assert json.loads((project / "r.json").read_text())["exit_code"] == 1
    md = (project / "r.md").read_text()
    assert "| macro-F1 |" in md and "❌" in md and "McNemar" in md and "`macro_f1>=0.8`" in md
    suite = ET.parse(project / "r.xml").getroot()
    cases = suite.findall(".//testcase")
    # two gated candidates x one gate + two no_regression checks
    assert len(cases) == 4
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert sorted(failed) == ["macro_f1>=0.8 [bad]", "no_regression [bad]"]
    assert suite.get("failures") == "2"


def test_ci_example_uses_real_options():
    """docs/ci-example.yml stays in step with the CLI: every option it passes to compare exists."""
    import re

    import yaml

    from conftest import REPO, run_cli

    wf = yaml.safe_load((REPO / "docs" / "ci-example.yml").read_text())
    script = next(s["run"] for s in wf["jobs"]["compare"]["steps"] if s.get("id") == "compare")
    used = set(re.findall(r"(--[a-z][a-z0-9-]+)", script.split("smishctl compare", 1)[1]))
    assert {"--gate", "--markdown", "--junit", "--no-regression", "--baseline", "--max-error-rate"} <= used
    helptext = run_cli("compare", "--help", env={"COLUMNS": "200"}).stdout
    missing = {opt for opt in used if opt not in helptext}
    assert not missing, missing


def test_robustness_runs_show_the_attack_rate_next_to_the_ham_controls(settings, cli):
    golds = items(30)  # 10 ham controls, 20 attacks
    always_spam = [(i, g, "spam", "ok") for i, g in golds]  # never says ham: no attack gets through …
    honest = [(i, g, g if k % 10 else "ham", "ok") for k, (i, g) in enumerate(golds)]
    write_run(settings.runs_dir, "never-ham", always_spam, dataset="robustness")
    write_run(settings.runs_dir, "honest", honest, dataset="robustness")
    r = cli("compare", "never-ham", "honest", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in json.loads(r.stdout)["rows"]}
    assert rows["attack_success_rate"]["values"] == pytest.approx([0.0, 2 / 20])
    assert rows["control_ham_accuracy"]["values"] == pytest.approx([0.0, 1.0])  # … and keeps no ham
    r = cli("compare", "never-ham", "honest")
    assert "attack success rate" in r.stdout and "ham controls kept" in r.stdout
    r = cli("runs", "show", "never-ham")
    assert "ham controls kept" in r.stdout and "attack success rate" in r.stdout
    write_run(settings.runs_dir, "plain-a", predictions(golds, set()))
    write_run(settings.runs_dir, "plain-b", predictions(golds, {1}))
    cmp = compare_runs(_load(settings, "plain-a", "plain-b")).to_dict()  # other datasets: no robustness rows
    assert not {"attack_success_rate", "control_ham_accuracy"} & {row["key"] for row in cmp["rows"]}
