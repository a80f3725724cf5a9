"""`push` shows the progress line of every long command (items, elapsed, ETA) in a terminal, fitting 80
columns, and stays quiet without one; the library reports each dataset item created and each trace built."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest
from langfuse_server import LangfuseServer
from test_langfuse import synthetic_run

from conftest import run_cli

N = 600  # three flushes of 200 items (smishctl.tracking.push.FLUSH_EVERY)


class SlowTraces(LangfuseServer):
    """The loopback Langfuse, taking half a second to accept each batch of spans: time to see the line."""

    def _route(self, method, path, query, body, headers):
        if path.endswith("/otel/v1/traces"):
            time.sleep(0.5)
        return super()._route(method, path, query, body, headers)


def _big_run(root):
    settings, run, rows = synthetic_run(root)
    more = [{**rows[i % len(rows)], "item_id": f"b{i:015d}", "text": f"message {i}"} for i in range(N - len(rows))]
    with run.predictions_path.open("a", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in more)
    return settings, run


def test_the_library_reports_every_item_traced(tmp_path, monkeypatch):
    from smishctl.tracking import push_run

    settings, run = _big_run(tmp_path / "p")
    srv = LangfuseServer().start()
    try:
        for k, v in srv.env().items():
            monkeypatch.setenv(k, v)
        seen = []
        status = push_run(settings, run, on_item=lambda step, done, total: seen.append((step, done, total)))
        again = []
        push_run(settings, run, on_item=lambda step, done, total: again.append((step, done, total)))
    finally:
        srv.stop()
    assert status.status == "pushed", status
    assert seen == [("dataset items", i, N) for i in range(1, N + 1)] + [("traces", i, N) for i in range(1, N + 1)]
    assert again == [("traces", i, N) for i in range(1, N + 1)]  # the items are there: none created again


def test_push_is_quiet_without_a_terminal(tmp_path):
    from smishctl.store.runs import short_ref

    root = tmp_path / "p"
    settings, run = _big_run(root)
    srv = LangfuseServer().start()
    try:
        r = run_cli("push", run.id, cwd=root, env={"SMISHCTL_HOME": str(root), **srv.env()})
    finally:
        srv.stop()
    assert r.returncode == 0, r.stderr
    url = json.loads(run.record_path.read_text())["langfuse"]["url"]
    assert r.stderr.splitlines() == [f"run {short_ref(settings.runs_dir, run.id)}: pushed to Langfuse — {url}"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "SMISHCTL_NO_PROGRESS"])
def test_push_progress_in_an_80x24_terminal(tmp_path, quiet):
    from test_terminal import COLS, Terminal

    from smishctl.store.runs import short_ref

    root = tmp_path / "p"
    settings, run = _big_run(root)
    srv = SlowTraces().start()
    env = {k: v for k, v in os.environ.items() if k != "SMISHCTL_NO_PROGRESS"}
    if quiet:
        env["SMISHCTL_NO_PROGRESS"] = "1"
    term = Terminal(root, {**env, "SMISHCTL_HOME": str(root), **srv.env()})
    bar = re.compile(rf"pushing 0001 .*\d+/{N} +0:00:\d\d +ETA +0:00:\d\d traces")
    try:
        term.tmux("send-keys", "-t", "t", "-l", "smishctl push --all; echo __do''ne$?")
        term.tmux("send-keys", "-t", "t", "Enter")
        seen, shown, screen, deadline = [], [], "", time.monotonic() + 120
        while time.monotonic() < deadline and not re.search(r"^__done\d", screen, re.MULTILINE):
            screen = term.tmux("capture-pane", "-p", "-t", "t")
            seen += [line for line in screen.splitlines() if bar.search(line)]
            shown += [line for line in screen.splitlines() if "pushing" in line or "ETA" in line]
            time.sleep(0.2)
    finally:
        term.close()
        srv.stop()
    assert re.search(r"^__done0$", screen, re.MULTILINE), screen
    assert f"run {short_ref(settings.runs_dir, run.id)}: pushed" in screen.replace("\n", "")
    if quiet:
        assert not shown, shown
        return
    assert seen and all(len(line) <= COLS for line in seen), seen
