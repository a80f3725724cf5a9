"""Ctrl-C that always stops long work at the next item, even when it lands inside a native call.

A SIGINT raised while llama.cpp or a network library is running can be swallowed on its way up
through third-party frames. The handler therefore also sets a flag that our own loops check
between items; a second Ctrl-C exits at once.
"""

from __future__ import annotations

import os
import signal
import threading

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
