"""`evaluate` shows the shared progress line (cli/common.item_progress: count, elapsed, ETA) on a
terminal within 80 columns, and nothing of it with SMISHCTL_NO_PROGRESS."""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest
from faultutil import add_alias, fault_fixture  # noqa: F401
from test_terminal import COLS, Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.mark.parametrize("quiet", [False, True])
def test_evaluate_shows_count_elapsed_and_eta_within_80_columns(project, fault, quiet):
    add_alias(project, "fake", fault.base_url)
    fault.latency = 0.3  # 20 items: long enough to see the line
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SMISHCTL_NO_PROGRESS")}
    if quiet:
        env["SMISHCTL_NO_PROGRESS"] = "1"
    term = Terminal(project, env)
    seen = []
    try:
        term.tmux("send-keys", "-t", "t", "-l", "smishctl evaluate -m fake --limit 20 --no-langfuse; echo __done$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            screen = term.tmux("capture-pane", "-p", "-t", "t", "-S", "-200")
            seen.append(screen)
            if re.search(r"^__done\d", screen, re.MULTILINE):
                break
            time.sleep(0.1)
        final = term.wait_for(r"(?m)^__done0")
    finally:
        term.close()
    line = re.compile(r"evaluating .*\d+/20 .*\d:\d\d:\d\d ETA")
    shown = [s for s in seen if line.search(s)]
    if quiet:
        assert not shown and not any("ETA" in s for s in seen)
    else:
        assert shown, seen[-1]
        assert all(len(row) <= COLS for s in shown for row in s.splitlines())
    assert "macro-F1" in final or "macro_f1" in final.lower(), final
