"""`finetune`'s progress in an 80x24 terminal: the events the trainer emits (smishctl.finetune.trainer:
phase, step, eval) shown as the progress line of every long command (steps done/total, elapsed, ETA, the
epoch, loss and best dev score as a note), each line within 80 columns; quiet without a terminal or with
SMISHCTL_NO_PROGRESS. The events are replayed by a small script, as the trainer sends them, so the
screen is checked without torch or a model (tests/test_finetune.py trains for real)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

SCRIPT = """
import time
from types import SimpleNamespace
from smishctl.cli.common import item_progress
from smishctl.cli.finetune_cmd import progress_events

progress = item_progress()
with progress:
    event = progress_events(progress, 2)
    event("phase", name="loading", total=None,
          detail="local/qwen2.5-coder-0.5b (qwen2.5-coder-0.5b-instruct-q4_k_m.gguf) on cpu")
    event("phase", name="dev baseline", total=None)
    event("eval", entry={"step": 0, "epoch": 0.0, "train_loss": None, "macro_f1": 0.3, "accuracy": 0.4}, best=None)
    event("phase", name="training", total=12)
    for step in range(1, 13):
        time.sleep(0.4)
        best = SimpleNamespace(dev={"macro_f1": 0.5}) if step > 6 else None
        event("step", step=step, total=12, loss=1 / step, seconds_left=(12 - step) * 0.4, best=best)
        if step == 6:
            event("eval", entry={"step": 6, "epoch": 1.0, "train_loss": 0.25, "macro_f1": 0.5, "accuracy": 0.6},
                  best=SimpleNamespace(dev={"macro_f1": 0.5}))
"""
LINE = re.compile(r"training .*\d+/12 +0:00:\d\d +ETA +0:00:\d\d +epoch [12]/2 · loss \d\.\d{3}")


def test_quiet_without_a_terminal(tmp_path):
    (tmp_path / "events.py").write_text(SCRIPT)
    r = subprocess.run([sys.executable, "events.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k != "SMISHCTL_NO_PROGRESS"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["dev baseline: dev macro-F1 0.300, accuracy 0.400",
                                     "step 6 (epoch 1.0): dev macro-F1 0.500, accuracy 0.600, train loss 0.250"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "SMISHCTL_NO_PROGRESS"])
def test_steps_epochs_and_eta_fit_80_columns(project, quiet):
    from test_terminal import COLS, Terminal

    (project / "events.py").write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "SMISHCTL_NO_PROGRESS"}
    if quiet:
        env["SMISHCTL_NO_PROGRESS"] = "1"
    term = Terminal(project, env)
    seen, screen = [], ""
    try:
        term.tmux("send-keys", "-t", "t", "-l", f"{sys.executable} events.py; echo __do''ne$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not re.search(r"^__done\d", screen, re.MULTILINE):
            screen = term.tmux("capture-pane", "-p", "-t", "t")
            seen += [line for line in screen.splitlines() if LINE.search(line)]
            time.sleep(0.2)
    finally:
        term.close()
    assert re.search(r"^__done0$", screen, re.MULTILINE), screen
    if quiet:
        assert not seen and "loading: " not in screen, seen
        return
    assert seen and all(len(line) <= COLS for line in seen), seen
    assert any(re.search(r"epoch 2/2 · loss 0\.\d{3} · b", line) for line in seen), seen  # the note, cut last
    shown = " ".join(screen.split())  # the details printed whole: wrapped between words only
    assert "loading: local/qwen2.5-coder-0.5b (qwen2.5-coder-0.5b-instruct-q4_k_m.gguf) on cpu" in shown
    assert "step 6 (epoch 1.0): dev macro-F1 0.500" in screen  # the dev scores stay above the line
