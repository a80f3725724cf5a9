"""Ctrl-C that always stops long work at the next item, even when it lands inside a native call.

A SIGINT raised while llama.cpp or a network library is running can be swallowed on its way up
through third-party frames. The handler therefore also sets a flag that our own loops check
between items; a second Ctrl-C exits at once. Native code that a Ctrl-C can wedge for good runs
inside `native_section`: there, a watchdog exits the process if the signal finds it still inside
after a grace period (the Python handler cannot run while the main thread is stuck in native code).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

_requested = threading.Event()


def _handler(signum, frame):
    if _requested.is_set():
        os._exit(130)
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Called by long-running commands (main thread only)."""
    _requested.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed since install()."""
    if _requested.is_set():
        raise KeyboardInterrupt


GRACE_SECONDS = 5.0


@contextlib.contextmanager
def native_section(what: str) -> Iterator[None]:
    """Run native code that a Ctrl-C can leave waiting forever (llama.cpp's server start on a busy
    machine: seen hanging 4 times of 4). The C-level handler writes each signal to a wakeup pipe even
    while the main thread is stuck; a watchdog thread reads it and, when the section has not ended
    GRACE_SECONDS later, says so and exits 130. Outside the main thread: no watchdog."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    done = threading.Event()

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data or done.is_set():
                return
            if signal.SIGINT in data and not done.wait(GRACE_SECONDS):
                sys.stderr.write(f"interrupted while {what}\n")
                sys.stderr.flush()
                os._exit(130)

    watcher = threading.Thread(target=watch, name="ctrl-c-watchdog", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(previous)
        os.close(write_fd)  # the watchdog reads EOF and ends
        watcher.join(1)
        os.close(read_fd)
