"""The listings in a real 80x24 terminal (tmux, read back with capture-pane): identifiers are whole, nothing
is cut with '…', and a run reference copied from `runs list` works when pasted into `compare`."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from smishctl.store.runs import list_runs, short_refs

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (bin/test installs it with apt-get where it can)")
COLS, ROWS = 80, 24
RULE = re.compile(r"^\s*─{10,}")


class Terminal:
    """One tmux session of COLS x ROWS running bash in the project folder."""

    def __init__(self, folder: Path, env: dict):
        self.socket = str(folder.parent / "tmux.sock")
        self._n = itertools.count()
        env = {k: v for k, v in env.items() if k not in ("TMUX", "COLUMNS", "LINES")}
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
        env["PS1"] = "$ "
        subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", str(COLS),
                        "-y", str(ROWS), "-s", "t", "-c", str(folder), "bash --norc --noprofile"],
                       env=env, check=True)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def wait_for(self, pattern: str, timeout: float = 120) -> str:
        """The screen (with its scrollback) once the regular expression `pattern` is on it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.tmux("capture-pane", "-p", "-t", "t", "-S", "-200")
            if re.search(pattern, screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} on the screen:\n{screen}")

    def run(self, command: str, *, paste: list[str] = (), timeout: float = 300) -> tuple[int, str]:
        """Type `command` (each '{}' is filled by pasting the next of `paste` from a tmux buffer), run it,
        and return its exit code and what the screen and its scrollback show."""
        n = next(self._n)
        self.tmux("send-keys", "-t", "t", "clear", "Enter")
        time.sleep(0.3)
        self.tmux("clear-history", "-t", "t")
        parts = command.split("{}")
        for i, part in enumerate(parts):
            self.tmux("send-keys", "-t", "t", "-l", part)
            if i < len(parts) - 1:
                self.tmux("set-buffer", "--", paste[i])
                self.tmux("paste-buffer", "-t", "t")
        # The marker is split when typed, so only the command's completion prints it whole.
        self.tmux("send-keys", "-t", "t", "-l", f'; echo "__do""ne{n} $?"')
        self.tmux("send-keys", "-t", "t", "Enter")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.tmux("capture-pane", "-p", "-t", "t", "-S", "-500")
            m = re.search(rf"^__done{n} (\d+)$", screen, re.MULTILINE)
            if m:
                return int(m.group(1)), screen[:m.start()]
            time.sleep(0.3)
        raise AssertionError(f"timed out: {command}\n{self.tmux('capture-pane', '-p', '-t', 't', '-S', '-500')}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


@pytest.fixture()
def terminal(project):
    term = Terminal(project, dict(os.environ))
    yield term
    term.close()


def _table_rows(screen: str) -> list[str]:
    """The lines under the header rule of the first table on the screen."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if RULE.match(line)) + 1
    return list(itertools.takewhile(lambda line: line.strip() and not line.startswith("columns left out"),
                                    lines[start:]))


def _assert_nothing_cut(screen: str) -> None:
    assert "…" not in screen, screen
    assert all(len(line) <= COLS for line in screen.splitlines())


def test_runs_list_at_80_columns_and_a_pasted_reference_works_in_compare(project, terminal):
    for _ in range(3):
        res = run_cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "30", "--no-langfuse", cwd=project)
        assert res.returncode == 0, res.stderr
    ids = [r.id for r in list_runs(project / "runs")]
    refs = short_refs(ids)

    code, screen = terminal.run("smishctl runs list")
    assert code == 0, screen
    _assert_nothing_cut(screen)
    listed = [row.split()[0] for row in _table_rows(screen)]
    assert listed == [refs[i] for i in ids]
    assert all(row.split()[1] == "complete" for row in _table_rows(screen))

    code, screen = terminal.run("smishctl compare {} {}", paste=[listed[0], listed[2]])
    assert code == 0, screen
    _assert_nothing_cut(screen)
    assert f"compare {listed[0]} {listed[2]}" in screen  # what was pasted
    header = "\n".join(screen.splitlines()[:12])
    assert f"{listed[0]} (baseline)" in header and listed[2] in header
    assert re.search(r"^ *macro-F1 +\*?\d\.\d{3}", screen, re.MULTILINE)
    assert re.search(rf"^ *{re.escape(listed[2])} +30 ", screen, re.MULTILINE)  # the statistics row

    code, screen = terminal.run("smishctl compare latest~2 latest --wide")
    assert code == 0
    assert ids[0] in screen.replace("\n", "")  # whole ids (wrapped by the terminal, never cut)


@pytest.mark.model
def test_optimize_summary_and_prompts_list_at_80_columns(project, terminal):
    code, screen = terminal.run("smishctl optimize --optimizer zero-shot --dev-size 3 --no-langfuse", timeout=600)
    assert code == 0, screen
    _assert_nothing_cut(screen)
    artifact = "sms-phishing/qwen2.5-coder-0.5b/v0001"
    assert re.search(rf"^wrote {re.escape(artifact)}$", screen, re.MULTILINE), screen
    assert re.search(r"^next: smishctl evaluate --prompt v0001$", screen, re.MULTILINE), screen
    assert re.search(rf"^  in prompts/{re.escape(artifact)}$", screen, re.MULTILINE), screen
    assert re.search(r"^ *macro-F1 +\d\.\d{3} +\d\.\d{3} +[+-]\d\.\d{3}", screen, re.MULTILINE), screen

    code, screen = terminal.run("smishctl prompts list")
    assert code == 0
    _assert_nothing_cut(screen)
    (row,) = _table_rows(screen)
    assert row.split()[:2] == ["v0001", artifact]
    code, screen = terminal.run("smishctl prompts show {}", paste=["v0001"])
    assert code == 0 and artifact in screen
