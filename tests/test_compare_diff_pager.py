"""`compare --diff` gives the messages the whole width the other columns leave (no fixed cut), and goes
through the user's $PAGER on a terminal, never when stdout is a pipe or with --json."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
from factories import record_run

from smishctl.ops.evaluate import EvalConfig

CFG = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", split="test", limit=30, balanced=True)
A = "20261206-101010-classic-tfidf-svm-zero-shot-aa11"
B = "20261206-101011-classic-tfidf-svm-zero-shot-bb22"


@pytest.fixture()
def two_runs(settings):
    record_run(settings, CFG, wrong=range(10), run_id=A)
    record_run(settings, CFG, wrong=range(5, 15), run_id=B)


@pytest.fixture()
def pager(tmp_path):
    """A $PAGER that keeps what it is given in paged.txt (a real program, run by the real pager logic)."""
    script = tmp_path / "pager.sh"
    script.write_text('#!/bin/sh\ncat > "$(dirname "$0")/paged.txt"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _diff_rows(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "answered differently" in line)
    return [line for line in lines[start + 3:] if line.strip()][:10]


def test_without_a_terminal_the_text_takes_the_width_left_and_nothing_is_paged(cli, two_runs, pager):
    narrow = cli("compare", "aa11", "bb22", "--diff", env={"COLUMNS": "80", "PAGER": str(pager)})
    wide = cli("compare", "aa11", "bb22", "--diff", env={"COLUMNS": "160", "PAGER": str(pager)})
    assert narrow.returncode == wide.returncode == 0, wide.stderr
    assert not (pager.parent / "paged.txt").exists()  # stdout is a pipe: printed, not paged
    assert wide.stdout.splitlines()[0].startswith("bb22 vs aa11: no established difference")  # the verdict first
    rows = _diff_rows(wide.stdout)
    assert len(rows) == 10 and all(len(row) <= 160 for row in rows)
    # the messages fill the line: a cut one ends at the right edge, far past any fixed 20 characters
    assert max(len(row.rstrip()) for row in rows) >= 150, "\n".join(rows)
    assert max(len(r.rstrip()) for r in rows) - max(len(r.rstrip()) for r in _diff_rows(narrow.stdout)) >= 70
    as_json = cli("compare", "aa11", "bb22", "--diff", "--json", env={"PAGER": str(pager)})
    assert json.loads(as_json.stdout)["diff"]["n"] == 10  # items 0-4 and 10-14: one of the two runs is wrong
    assert not (pager.parent / "paged.txt").exists()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_on_a_terminal_the_diff_goes_through_the_users_pager(project, two_runs, pager):
    from test_terminal import Terminal

    paged = pager.parent / "paged.txt"
    term = Terminal(project, dict(os.environ))
    try:
        code, screen = term.run(f"PAGER={pager} smishctl compare aa11 bb22 --diff --no-langfuse")
        assert code == 0, screen
        text = paged.read_text()
        assert text.splitlines()[0].startswith("bb22 vs aa11: no established difference")
        assert "answered differently" in text
        assert "answered differently" not in screen  # the table went to the pager, not past the screen
        assert len(_diff_rows(text)) == 10
        paged.unlink()
        code, screen = term.run(f"PAGER={pager} smishctl compare aa11 bb22 --diff --json --no-langfuse")
        assert code == 0 and screen.rstrip().endswith('"exit_code": 0\n}'), screen[-300:]  # printed whole
        assert not paged.exists()  # --json is never paged
    finally:
        term.close()
