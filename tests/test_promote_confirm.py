"""`promote` says how long its evaluation will take and, on a terminal, asks before one estimated over
10 minutes (never with --yes, in CI or without a terminal); it requires --reason unless the project says
otherwise, names its evidence run by short reference, and `--status` fits 80 columns."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest
from factories import accept_small_promotions, make_artifact, promotion_config, promotion_run, record_run
from faultutil import add_alias, fault_fixture  # noqa: F401
from test_terminal import COLS, Terminal

from smishctl.core.config import load_settings
from smishctl.store.runs import short_ref

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture()
def slow_fake(project, fault):
    """An artifact of alias `fake` (the loopback fault server) with no evidence yet, and an earlier
    12-item run of that model at 30 s per item: its 30-item evaluation is estimated at 15 min."""
    add_alias(project, "fake", fault.base_url)
    settings = load_settings(project)
    accept_small_promotions(settings)
    art = make_artifact(settings, model="fake", instructions="Label the SMS: ham, spam or smishing.")
    record_run(settings, promotion_config(art, n=12), run_id="run-slow", latency_ms=30_000)
    return art


def _runs(project) -> set[str]:
    return {d.name for d in (project / "runs").iterdir()}


@needs_tmux
def test_a_long_evaluation_is_confirmed_on_a_terminal(project, fault, slow_fake):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    term = Terminal(project, env)
    try:
        term.tmux("send-keys", "-t", "t", "-l", f"smishctl promote {slow_fake.id} -n 30 --balanced --reason test; echo __done$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        screen = _wait(term, "start this evaluation?")
        assert re.search(r"on 30 test items, about 15 min\s+\(30\.\d\d s per item in run slow\)", screen), screen
        assert all(len(line) <= COLS for line in screen.splitlines())
        term.tmux("send-keys", "-t", "t", "n", "Enter")
        screen = _wait(term, "__done")
        assert "not promoted: nothing was evaluated" in screen and "__done1" in screen, screen
    finally:
        term.close()
    assert _runs(project) == {"run-slow"} and fault.chat_requests() == []


@needs_tmux
def test_a_confirmed_evaluation_shows_the_progress_line_then_promotes(project, fault, slow_fake):
    """After 'y', promote's evaluation shows the shared progress line (count, elapsed, ETA), within 80
    columns, and the question is not drawn over."""
    fault.latency = 0.4  # 30 items: long enough to see the line
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SMISHCTL_NO_PROGRESS")}
    term = Terminal(project, env)
    try:
        term.tmux("send-keys", "-t", "t", "-l", f"smishctl promote {slow_fake.id} -n 30 --balanced --reason test; echo __done$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        _wait(term, "start this evaluation?")
        term.tmux("send-keys", "-t", "t", "y", "Enter")
        screen = term.wait_for(r"evaluating .* \d+/30 .*ETA")
        assert "start this evaluation? [y/N]: y" in screen, screen
        assert all(len(line) <= COLS for line in screen.splitlines())
        screen = _wait(term, "__done", timeout=180)
        assert "__done0" in screen and "promoted" in screen, screen
    finally:
        term.close()
    assert len(fault.chat_requests()) == 30


def _wait(term: Terminal, text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = term.tmux("capture-pane", "-p", "-t", "t", "-S", "-200")
        if re.search(rf"^{re.escape(text)}", screen, re.MULTILINE) or (text != "__done" and text in screen):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} on the screen:\n{screen}")


def test_without_a_terminal_or_in_ci_it_proceeds_and_says_how_long(cli, project, fault, slow_fake):
    r = cli("promote", slow_fake.id, "-n", "30", "--balanced", "--reason", "test", env={"CI": ""})  # the test's stdin is no terminal
    assert "about 15 min" in r.stderr and "start this evaluation?" not in r.stderr + r.stdout, r.stderr
    (new,) = _runs(project) - {"run-slow"}
    assert json.loads((project / "runs" / new / "run.json").read_text())["status"] == "complete"
    assert len(fault.chat_requests()) == 30


def test_reason_is_required_unless_the_project_waives_it(cli, settings, project):
    accept_small_promotions(settings)
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    promotion_run(settings, art, run_id="20261206-101010-qwen-v0001-c0de")
    r = cli("promote", art.id)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("error: promote needs --reason '...' (it is recorded in the history)")
    assert "require_reason = false" in r.stderr and not (project / "prompts" / "production").exists()
    assert cli("promote", art.id, "--dry-run").returncode == 0  # a dry run records nothing
    with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write("require_reason = false\n")  # the last section of the file is [promotion]
    r = cli("promote", art.id)
    assert r.returncode == 0, r.stderr
    assert "evidence: run c0de (existing)" in r.stdout


@needs_tmux
def test_status_fits_80_columns_with_short_references(cli, settings, project):
    accept_small_promotions(settings)
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    promotion_run(settings, art, run_id="20261206-101010-local-qwen2.5-coder-0.5b-v0001-c0de")
    assert cli("promote", art.id, "--reason", "a reason long enough to need more than one line at eighty "
               "columns, with words only").returncode == 0
    term = Terminal(project, dict(os.environ))
    try:
        code, screen = term.run("smishctl promote --status")
    finally:
        term.close()
    assert code == 0, screen
    lines = screen.splitlines()
    assert all(len(line) <= COLS for line in lines) and "…" not in screen, screen
    assert any(art.id in line for line in lines)  # the artifact id whole on one line
    assert short_ref(settings.runs_dir, "20261206-101010-local-qwen2.5-coder-0.5b-v0001-c0de") == "c0de"
    assert re.search(r"^evidence\s+run c0de: macro-F1", screen, re.MULTILINE), screen
    assert re.search(r"^folder\s+prompts/production/releases/r0001$", screen, re.MULTILINE), screen
    words = set(re.findall(r"\S+", "a reason long enough to need more than one line at eighty columns, with words only"))
    assert words <= set(re.findall(r"\S+", screen))  # wrapped between words, never inside one
