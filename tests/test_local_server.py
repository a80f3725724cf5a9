"""The embedded model's server (smishctl/models/local_server.py): a Ctrl-C while it starts is
raised once it is registered, no server dropped soon after its start hangs the process, and the
slot folders of killed processes do not pile up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SESSION_CACHE
from smishctl.models import local_server
from smishctl.models.weights import WEIGHTS, assemble

# Starts the server `rounds` times while another thread sends the process a Ctrl-C at a random
# moment of the start, as a terminal does while rich's refresh thread is alive; then `rounds` times
# more, dropping each server as soon as it is started. Prints how many starts were interrupted and
# which threads llama.cpp started without SIGINT blocked.
CHILD = """
import json, os, random, signal, sys, threading, time, traceback
from pathlib import Path
from smishctl.models import local_server

signal.signal(signal.SIGINT, signal.default_int_handler)  # a background parent may have ignored it
gguf, rounds = Path(sys.argv[1]), int(sys.argv[2])
random.seed(int(sys.argv[3]))
before = set(os.listdir("/proc/self/task"))
interrupted = held = 0
senders = set()  # this script's own threads: one may linger in /proc for a moment after its join
for _ in range(rounds):
    local_server._served.clear()  # the previous server stops, maybe a few milliseconds after its start
    go = threading.Event()

    def ctrl_c():
        senders.add(str(threading.get_native_id()))
        go.wait()
        time.sleep(random.uniform(0.15, 0.9))  # once the start has begun: it takes about 1 s
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=ctrl_c)
    sender.start()
    try:
        go.set()
        local_server.get_server(gguf)
        sender.join()  # a Ctrl-C sent after the start lands here
        time.sleep(0.2)
    except KeyboardInterrupt as exc:
        interrupted += 1
        frames = [f.name for f in traceback.extract_tb(exc.__traceback__)]
        held += "_ctrl_c_held" in frames  # raised by the hold, once the start was over
    sender.join()
served = len(local_server._served)
started, unmasked = set(os.listdir("/proc/self/task")) - before - senders, []  # the last server's threads
for tid in started:
    try:
        blocked = int(Path(f"/proc/self/task/{tid}/status").read_text().split("SigBlk:")[1].split()[0], 16)
        name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
    except FileNotFoundError:  # a thread that ended meanwhile (the one that built the server)
        continue
    if not blocked & (1 << (signal.SIGINT - 1)):
        unmasked.append(name)
for _ in range(rounds):
    local_server._served.clear()
    local_server.get_server(gguf)
    local_server._served.clear()  # at once: what an exit right after a start does
print(json.dumps({"interrupted": interrupted, "held": held, "served": served, "threads": len(started), "unmasked": unmasked}))
"""


@pytest.mark.model
def test_a_ctrl_c_while_the_server_starts_is_raised_and_never_hangs():
    gguf = assemble(WEIGHTS["qwen2.5-coder-0.5b"], SESSION_CACHE)
    rounds = 5
    try:
        r = subprocess.run([sys.executable, "-c", CHILD, str(gguf), str(rounds), "7"], capture_output=True, text=True,
                           timeout=180, env={**os.environ, "SMISHCTL_LOCAL_THREADS": "1"})
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung: a server was dropped before llama.cpp's loop had started")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["interrupted"] == rounds  # every Ctrl-C reached the main thread, none was lost
    assert out["held"] >= 1  # and at least one landed during a start, so the hold was exercised
    assert out["served"] == 1  # the last start was kept, not dropped by its KeyboardInterrupt
    assert out["threads"] >= 3 and out["unmasked"] == []  # llama.cpp's threads cannot take a Ctrl-C


def test_slot_folders_of_killed_processes_are_swept(tmp_path, monkeypatch):
    """A SIGKILL skips atexit: the next start removes a dead process's slot folder once it is a day old,
    and leaves a live process's folder, a recent one and a foreign name alone."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid is free now
    day_ago = time.time() - local_server.STALE_AFTER_S - 60

    def folder(name: str, old: bool) -> Path:
        f = tmp_path / name
        f.mkdir()
        (f / "half-saved.state").write_bytes(b"x" * 1024)
        if old:
            os.utime(f, (day_ago, day_ago))
        return f

    prefix = local_server.SLOT_PREFIX
    dead_old = folder(f"{prefix}{gone.pid}-abc123", old=True)
    kept = [folder(f"{prefix}{gone.pid}-def456", old=False), folder(f"{prefix}{os.getpid()}-ghi789", old=True),
            folder(f"{prefix}notapid-x", old=True), folder(f"{prefix}\u00b3-x", old=True),
            folder(f"{prefix}99999999999999999999-x", old=True), folder(f"{prefix}{gone.pid}-a-b", old=True)]
    if os.getuid() == 0:  # another user's folder, stale and of a dead pid: not ours to remove
        theirs = folder(f"{prefix}{gone.pid}-jkl012", old=True)
        os.chown(theirs, 4242, 4242)
        kept.append(theirs)
    target = folder("elsewhere", old=True)  # a link with a slot name must not lead the sweep elsewhere
    link = tmp_path / f"{prefix}{gone.pid}-lnk345"
    link.symlink_to(target)
    os.utime(link, (time.time() - local_server.STALE_AFTER_S - 60,) * 2, follow_symlinks=False)
    local_server._sweep_slot_dirs()
    assert not dead_old.exists()
    assert all(f.exists() for f in kept) and link.is_symlink() and (target / "half-saved.state").exists()
