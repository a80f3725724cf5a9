"""`smishctl review`: order, the interactive screen in a real terminal (tmux), resume and undo,
and the spreadsheet round trip."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from smishctl.ops.review import review_order

ROWS = [
    {"item_id": "a", "gold": "ham", "pred": "ham", "status": "ok", "probs": {"ham": 0.55, "spam": 0.4, "smishing": 0.05}},
    {"item_id": "b", "gold": "ham", "pred": "spam", "status": "ok", "probs": {"ham": 0.1, "spam": 0.9, "smishing": 0.0}},
    {"item_id": "c", "gold": "spam", "pred": "spam", "status": "ok", "probs": {"ham": 0.01, "spam": 0.98, "smishing": 0.01}},
    {"item_id": "d", "gold": "smishing", "pred": "ham", "status": "ok", "probs": {"ham": 0.5, "spam": 0.05, "smishing": 0.45}},
    {"item_id": "e", "gold": "smishing", "pred": None, "status": "invalid", "probs": None},
]


def test_wrong_first_then_least_confident_and_fallback_without_probs():
    assert [it.item_id for it in review_order(ROWS)] == ["d", "b", "e", "a", "c"]
    bare = [{k: v for k, v in r.items() if k != "probs"} for r in ROWS]
    assert [it.item_id for it in review_order(bare)] == ["b", "d", "e", "a", "c"]  # run order within groups


@pytest.fixture()
def run_id(cli):
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "6", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["id"]


class Terminal:
    """A real terminal: the command runs in a detached tmux session; keys in, screen out."""

    def __init__(self, project, *args):
        self.name = "review"
        # A server of its own per terminal: on the shared default server, a new session started just
        # after the last one was killed can reach the exiting server and fail.
        self.socket = Path(tempfile.gettempdir()) / f"smishctl-review-{time.monotonic_ns()}"  # short: AF_UNIX
        self.tmux = ["tmux", "-S", str(self.socket), "-f", "/dev/null"]
        env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ("SMISHCTL_DATA_MIRROR", "PATH") if k in os.environ)
        cmd = f"cd {shlex.quote(str(project))} && env SMISHCTL_HOME={shlex.quote(str(project))} {env} " \
              f"{shlex.quote(sys.executable)} -m smishctl {' '.join(map(shlex.quote, args))}; sleep 60"
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", "150", "-y", "50", cmd], check=True)

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def wait_for(self, text: str, timeout: float = 90) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for k in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", self.name, k], check=True)
            time.sleep(0.3)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)
        self.socket.unlink(missing_ok=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bin/test installs it)")
def test_interactive_relabel_must_pass_quit_resume_undo(project, run_id):
    corrections = project / "datasets" / "corrections" / "sms-phishing.jsonl"
    golden = project / "datasets" / "golden" / "reviewed.csv"
    state = project / "runs" / run_id / "review.json"
    t = Terminal(project, "review", run_id)
    try:
        s = t.wait_for("accept gold")
        assert "item 1/6" in s and "nearest training messages" in s
        gold = s.split("gold ", 1)[1].split(" ", 1)[0]
        t.keys("r")
        t.wait_for("relabel to:")
        t.keys("1")
        t.wait_for("item 2/6")
        t.keys("m")
        t.wait_for("pinned to must-pass set reviewed")
        t.keys("q")
        t.wait_for("resume with: smishctl review")
    finally:
        t.close()
    fix = [json.loads(line) for line in corrections.read_text().splitlines()]
    assert len(fix) == 1 and fix[0]["old_label"] == gold and fix[0]["new_label"] != gold
    assert len(list(csv.DictReader(golden.open()))) == 1
    assert [d["action"] for d in json.loads(state.read_text())["decisions"]] == ["relabel", "must-pass"]

    t = Terminal(project, "review", run_id)  # resume: nothing lost, the two decided items are not asked again
    try:
        s = t.wait_for("accept gold")
        assert "item 1/4" in s and "1 relabelled" in s and "1 pinned" in s
        t.keys("u")  # undo takes back the must-pass addition
        t.wait_for("undid must-pass")
        t.keys("q")
        t.wait_for("resume with")
    finally:
        t.close()
    assert not golden.exists()
    assert len(corrections.read_text().splitlines()) == 1
    assert [d["action"] for d in json.loads(state.read_text())["decisions"]] == ["relabel"]


def test_export_import_round_trip_without_a_terminal(cli, project, run_id):
    sheet = project / "review.csv"
    r = cli("review", run_id, "--export", str(sheet))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert len(rows) == 6 and all(row["nearest"] for row in rows)
    other = next(lab for lab in ("ham", "spam", "smishing") if lab != rows[0]["gold"])
    rows[0].update(decision="relabel", new_label=other)
    rows[1].update(decision="must-pass")
    bad = project / "bad.csv"
    _write(bad, [*rows[:2], {**rows[2], "decision": "maybe"}])
    r = cli("review", run_id, "--import", str(bad))
    assert r.returncode == 2 and "unknown decision 'maybe'" in r.stderr
    assert not (project / "datasets" / "corrections").exists()           # nothing half-written
    _write(sheet, rows)
    r = cli("review", run_id, "--import", str(sheet), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["applied"] == 2
    r = cli("review", run_id, "--import", str(sheet), "--json")         # again: no duplicates
    assert json.loads(r.stdout)["applied"] == 0
    assert len((project / "datasets" / "corrections" / "sms-phishing.jsonl").read_text().splitlines()) == 1
    assert len(list(csv.DictReader((project / "datasets" / "golden" / "reviewed.csv").open()))) == 1
    r = cli("review", run_id)                                          # no terminal: a clear refusal
    assert r.returncode == 2 and "needs a terminal" in r.stderr


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_screen_shows_probabilities_and_margin(settings):
    from factories import write_run
    from rich.console import Console

    from smishctl.cli.review_cmd import _show
    from smishctl.ops.review import ReviewSession

    write_run(settings.runs_dir, "run-probs", [("x1", "smishing", "ham", "ok"), ("x2", "ham", "ham", "ok")],
              probs={"x1": {"ham": 0.55, "spam": 0.05, "smishing": 0.40}})
    session = ReviewSession(settings, "run-probs")
    screen = Console(record=True, width=140)
    _show(screen, session, session.pending()[0], 1, 2, "")
    text = screen.export_text()
    assert "gold smishing · predicted ham wrong" in text
    assert "ham 0.55 smishing 0.40 spam 0.05 (margin 0.15)" in text
    # at 80 columns nothing of the title or the probabilities is cut
    narrow = Console(record=True, width=80)
    _show(narrow, session, session.pending()[0], 1, 2, "")
    shown = narrow.export_text()
    assert "gold smishing · predicted ham wrong" in shown and "(margin 0.15)" in shown
    assert [line for line in shown.splitlines() if len(line) > 80] == []
    assert "nearest training messages" in text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (bin/test installs it)")
def test_exit_line_names_the_run_by_its_short_reference_at_80_columns(project, run_id):
    """The hint to resume is typed back: the run's short reference, never a long id cut mid-word."""
    from test_terminal import COLS
    from test_terminal import Terminal as Tty

    from smishctl.store.runs import short_ref

    ref = short_ref(project / "runs", run_id)
    assert len(ref) < len(run_id)
    term = Tty(project, dict(os.environ))
    try:
        term.tmux("send-keys", "-t", "t", "-l", f"smishctl review {run_id}")
        term.tmux("send-keys", "-t", "t", "Enter")
        deadline = time.monotonic() + 90
        while "accept gold" not in term.tmux("capture-pane", "-p", "-t", "t") and time.monotonic() < deadline:
            time.sleep(0.3)
        screen = term.tmux("capture-pane", "-p", "-t", "t")
        term.tmux("send-keys", "-t", "t", "q")
        while "resume with" not in screen and time.monotonic() < deadline:
            time.sleep(0.3)
            screen = term.tmux("capture-pane", "-p", "-t", "t")
    finally:
        term.close()
    # up to the shell's next prompt, which may follow on the next line with no blank line between
    lines = [line for line in screen[screen.index("review of "):].split("\n\n")[0].splitlines()
             if not re.match(r"(\$|bash-[\d.]+[#$])\s*$", line)]
    assert all(len(line) <= COLS for line in lines), lines
    assert " ".join(lines).endswith(f"resume with: smishctl review {ref}"), lines
    assert run_id not in screen.replace("\n", "")


def test_export_hint_and_a_run_outside_the_project(cli, project, run_id, settings, tmp_path):
    from rich.console import Console

    from smishctl.cli.review_cmd import _show
    from smishctl.ops.review import ReviewSession
    from smishctl.store.runs import short_ref

    ref = short_ref(project / "runs", run_id)
    r = cli("review", run_id, "--export", "r.csv")
    assert r.returncode == 0, r.stderr
    assert f"then smishctl review {ref} --import r.csv" in " ".join(r.stderr.split())
    session = ReviewSession(settings, run_id)
    assert session.ref == ref
    screen = Console(record=True, width=80)
    _show(screen, session, session.pending()[0], 1, 6, "")
    assert screen.export_text().startswith(f"review {ref} · item 1/6\n")  # the screen's title line too
    elsewhere = tmp_path / "downloaded" / run_id
    shutil.copytree(project / "runs" / run_id, elsewhere)
    assert ReviewSession(settings, str(elsewhere)).ref == str(elsewhere)  # by path: its folder


def test_a_folder_that_is_no_run_is_refused_in_one_line(cli, tmp_path):
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    r = cli("review", str(folder), "--export", "r.csv")
    assert r.returncode == 2
    assert f"unknown run {str(folder)!r}: the folder has no run.json" in r.stderr
    assert "Traceback" not in r.stderr
