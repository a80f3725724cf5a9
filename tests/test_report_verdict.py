"""The Markdown and HTML reports say "no gates set" when nothing was checked, and "passed" only when
gates were set and passed."""

from __future__ import annotations

import os
import stat

from factories import items, predictions, write_run

from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.pairing import load_run
from smishctl.report.html import render_html
from smishctl.report.markdown import render_markdown


def _runs(settings):
    """run-a and run-b, written on first use (a run is recorded once, as evaluate records it)."""
    if not (settings.runs_dir / "run-a").is_dir():
        gold = items(30)
        write_run(settings.runs_dir, "run-a", predictions(gold, {1}))
        write_run(settings.runs_dir, "run-b", predictions(gold, {1, 2}))
    return [load_run(settings.runs_dir, r) for r in ("run-a", "run-b")]


def test_no_gates_is_not_a_pass(settings):
    cmp = compare_runs(_runs(settings), baseline_index=0)
    md, html = render_markdown(cmp), render_html(cmp)
    assert cmp.exit_code == 0
    assert md.splitlines()[0] == "## smishctl compare — no gates set" and "✅" not in md.splitlines()[0]
    assert '<span class="none">no gates set</span>' in html and '<span class="pass">' not in html


def test_a_passed_gate_says_passed(settings):
    cmp = compare_runs(_runs(settings), baseline_index=0, options=CompareOptions(gates=["macro_f1>=0.5"]))
    assert render_markdown(cmp).splitlines()[0] == "## smishctl compare — ✅ passed"
    assert '<span class="pass">passed</span>' in render_html(cmp)
    failed = compare_runs(_runs(settings), baseline_index=0, options=CompareOptions(gates=["macro_f1>=0.99"]))
    assert render_markdown(failed).splitlines()[0] == "## smishctl compare — ❌ quality gate failed"


def test_reports_are_announced_and_take_the_users_umask(settings, cli, project):
    _runs(settings)
    r = cli("compare", "run-a", "run-b", "--markdown", "report.md", "--html", "report.html")
    assert r.returncode == 0, r.stderr
    assert "wrote report.md" in r.stderr and "wrote report.html" in r.stderr
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("report.md", "report.html"):
        assert stat.S_IMODE((project / name).stat().st_mode) == 0o666 & ~umask
