"""`compare` puts its answer first (who beats whom on macro-F1, with the interval, or no established
difference), and `--diff` gives the messages the width the other columns leave."""

from __future__ import annotations

import re

from factories import record_run

from smishctl.ops.evaluate import EvalConfig

CFG = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", split="test", limit=30, balanced=True)
A = "20261206-101010-classic-tfidf-svm-zero-shot-aa11"
B = "20261206-101011-classic-tfidf-svm-zero-shot-bb22"
SCREEN = {"COLUMNS": "80"}


def test_the_verdict_comes_first(settings, cli):
    record_run(settings, CFG, wrong=range(15), run_id=A)
    record_run(settings, CFG, wrong=(), run_id=B)
    r = cli("compare", "aa11", "bb22", env=SCREEN)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert re.fullmatch(r"bb22 beats aa11 on macro-F1 by \+0\.\d{3} \[\+0\.\d{3}, \+0\.\d{3}\] "
                        r"\(McNemar p=6\.1e-05\)", first), r.stdout
    r = cli("compare", "bb22", "aa11", env=SCREEN)  # the same, read from the other side
    assert r.stdout.splitlines()[0].startswith("bb22 beats aa11 on macro-F1 by +0.")


def test_no_established_difference(settings, cli):
    record_run(settings, CFG, wrong={1, 2}, run_id=A)
    record_run(settings, CFG, wrong={2, 3}, run_id=B)
    r = cli("compare", "aa11", "bb22", env=SCREEN)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert re.fullmatch(r"bb22 vs aa11: no established difference; macro-F1 [+-]0\.\d{3} \[-0\.\d{3}, \+0\.\d{3}\], "
                        r"p=1", first), r.stdout
    assert len(first) <= 80


def test_diff_gives_the_text_the_width_left_over(settings, cli):
    record_run(settings, CFG, wrong=range(10), run_id=A)
    record_run(settings, CFG, wrong=range(5, 15), run_id=B)
    r = cli("compare", "aa11", "bb22", "--diff", env=SCREEN)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "answered differently" in line)
    rows = [line for line in lines[start + 3:] if line.strip() and not line.startswith("item ids")][:10]
    assert all(len(line) <= 80 for line in lines)
    assert max(len(line.rstrip()) for line in rows) >= 76  # a long message fills the line
    head = lines[start + 1].split()
    assert head[:4] == ["gold", "aa11", "bb22", "text"], lines[start + 1]
    assert "item ids: --wide or --json" in r.stdout
    r = cli("compare", "aa11", "bb22", "--diff", "--wide", env=SCREEN)
    assert "item" in r.stdout.splitlines()[next(i for i, x in enumerate(r.stdout.splitlines())
                                                if "answered differently" in x) + 1].split()


def test_a_difference_is_established_only_when_the_interval_agrees():
    from dataclasses import replace

    from smishctl.core.comparison import PairedStats
    from smishctl.report.verdict import paired_lines

    stat = PairedStats(run="b", baseline="a", n_paired=100, baseline_only_correct=3, candidate_only_correct=9,
                       mcnemar_p=0.03, macro_f1_diff=0.02, ci_low=-0.01, ci_high=0.05, confidence=0.95,
                       n_boot=1000, seed=0, significant=True, significantly_worse=False)
    assert paired_lines("a", [stat]) == [
        "b vs a: no established difference; macro-F1 +0.020 [-0.010, +0.050], p=0.03"]
    assert paired_lines("a", [replace(stat, ci_low=0.01)]) == [
        "b beats a on macro-F1 by +0.020 [+0.010, +0.050] (McNemar p=0.03)"]
    worse = replace(stat, macro_f1_diff=-0.02, ci_low=-0.05, ci_high=-0.01)
    assert paired_lines("a", [worse]) == [
        "a beats b on macro-F1 by +0.020 [+0.010, +0.050] (McNemar p=0.03)"]
