"""`optimize` shows each candidate's progress on one line that fits 80 columns: candidate i/n, items
done, elapsed time and an ETA; the candidate's settings are printed whole above it."""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest
from faultutil import fake_model_fixture, fault_fixture  # noqa: F401
from test_terminal import COLS, Terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
BAR = re.compile(r"candidate 1/2 .*\d+/10 +0:00:\d\d +ETA +(?:0:00:\d\d|-:--:--)")


def test_candidate_progress_fits_80_columns(project, fake_model, fault):
    fault.latency = 0.4  # ten dev items a candidate: seconds to see the bar
    env = {k: v for k, v in os.environ.items() if k != "SMISHCTL_NO_PROGRESS"}
    term = Terminal(project, env)
    try:
        term.tmux("send-keys", "-t", "t", "-l", "smishctl optimize -m fake --optimizer knn --train-size 12 "
                  "--dev-size 10 --no-langfuse; echo __done$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        seen, deadline = None, time.monotonic() + 240
        while time.monotonic() < deadline and seen is None:
            screen = term.tmux("capture-pane", "-p", "-t", "t")
            if BAR.search(screen) and re.search(r"ETA +0:00:\d\d", screen):
                seen = screen
            elif "__done" in screen.split("echo __done$?")[-1]:
                break
            time.sleep(0.2)
        assert seen, screen
        assert all(len(line) <= COLS for line in seen.splitlines()), seen
        assert re.search(r"^candidate 1/2: k=\d+, order=", seen, re.MULTILINE), seen  # the settings, whole
        bar = next(line for line in seen.splitlines() if BAR.search(line))
        assert "k=" not in bar
        while time.monotonic() < deadline and not re.search(r"^__done\d", screen, re.MULTILINE):
            time.sleep(0.5)  # let it finish: the fault server's clients are not cut off mid-request
            screen = term.tmux("capture-pane", "-p", "-t", "t", "-S", "-200")
        assert re.search(r"^__done0$", screen, re.MULTILINE), screen
    finally:
        term.close()


def test_no_progress_without_a_terminal(cli, fake_model, fault):
    r = cli("optimize", "-m", "fake", "--optimizer", "knn", "--train-size", "12", "--dev-size", "4", "--no-langfuse",
            env={"SMISHCTL_NO_PROGRESS": ""})
    assert r.returncode == 0, r.stderr
    assert "ETA" not in r.stderr and "candidate 1/" not in r.stderr + r.stdout
