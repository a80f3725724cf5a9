"""The embedded model: llama.cpp (xllamacpp) in-process, one server per (GGUF file, LoRA adapter) per process."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smishctl.core.errors import ModelError
from smishctl.models.prompt_state import PromptStates, model_key

N_CTX = 8192  # room for a few dozen demonstrations
SLOT_PREFIX = "smishctl-slots-"  # + the owner's pid: a folder left by a killed process can be told apart
STALE_AFTER_S = 24 * 3600


@dataclass
class _Served:
    """A started server and what its saved prompt states need (prompt_state.py)."""

    server: Any  # an xllamacpp Server (xllamacpp ships no types)
    slot_dir: Path  # its slot_save_path: llama.cpp saves and restores bare file names inside it
    model: str  # model_key: weights, adapter, context size, llama.cpp build
    # One slot: restore, request and save must run in order, whichever project's folder asks.
    lock: threading.Lock = field(default_factory=threading.Lock)
    states: dict[Path, PromptStates] = field(default_factory=dict)  # project folder -> its states


_served: dict[str, _Served] = {}
_lock = threading.Lock()


def _start(gguf: Path, adapter: Path | None) -> _Served:
    key = str(Path(gguf).resolve()) + (f"+{Path(adapter).resolve()}" if adapter else "")
    with _lock:
        served = _served.get(key)
    if served is not None:
        return served
    with _ctrl_c_held(), _lock:  # a held Ctrl-C is raised after the lock is released (see _started)
        served = _served.get(key)
        if served is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(Path(gguf).resolve())
            if adapter:
                params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(Path(adapter).resolve()), 1.0)]
            params.n_parallel = 1  # one slot is faster than two on 2 cores (measured)
            params.n_ctx = int(os.environ.get("SMISHCTL_LOCAL_CTX", N_CTX))
            params.cache_prompt = True
            params.verbosity = -1
            params.hostnames = ["127.0.0.1"]
            params.port = 0
            params.cpuparams.n_threads = int(os.environ.get("SMISHCTL_LOCAL_THREADS", os.cpu_count() or 2))
            params.cpuparams_batch.n_threads = params.cpuparams.n_threads
            _sweep_slot_dirs()
            slot_dir = Path(tempfile.mkdtemp(prefix=f"{SLOT_PREFIX}{os.getpid()}-"))
            atexit.register(shutil.rmtree, slot_dir, True)
            params.slot_save_path = f"{slot_dir}{os.sep}"  # joined to a bare name: needs its separator
            params.endpoint_metrics = True  # loopback only, like the slots: _started's check
            model = model_key(Path(gguf), adapter, params.n_ctx)
            served = _served[key] = _Served(_started(params), slot_dir, model)
    return served


_unsafe_to_drop: list = []  # servers whose loop may not run: dropping one could hang the process


def _started(params):
    """A started xllamacpp.Server, built in a thread of its own while this one waits.

    A server dropped just after its constructor returns (what a KeyboardInterrupt there does) hangs
    the process for good: its destructor's terminate() can run before llama.cpp's loop thread has set
    `running`, and then waits on that loop forever (reproduced: one start in seven dropped at once,
    and Ctrl-C during the start under load). So the caller holds Ctrl-C back until the server is
    kept, and the builder waits for one metrics request, which that loop answers: from then on
    dropping the server is safe. The builder blocks SIGINT first: the threads it starts (llama.cpp's,
    and those they start) inherit the mask, so a Ctrl-C never interrupts their system calls."""
    import xllamacpp

    out: dict = {}
    done = threading.Event()

    def build() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        server = None
        try:
            server = xllamacpp.Server(params)
            if "llamacpp:" not in str(server.handle_metrics()):  # an error answer proves nothing
                raise ModelError("the embedded model's server did not answer its start check",
                                 hint="re-run; if it persists, re-download the weights")
            out["server"] = server
        except BaseException as exc:  # handed to the waiting thread, without the server in its frames
            if server is not None:
                _unsafe_to_drop.append(server)
            out["error"] = exc.with_traceback(None)
        finally:
            server = None
            done.set()

    threading.Thread(target=build, name="smishctl-llama-start", daemon=True).start()
    done.wait()
    if "error" in out:
        raise out["error"]
    return out["server"]


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """In the main thread: a first Ctrl-C during the block is held and raised when it ends; a second
    exits at once (130), so a start that never ends can still be left. Note that xllamacpp's
    constructor keeps the GIL for the whole load: two presses during it reach Python as one."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield  # KeyboardInterrupt is only raised in the main thread, and only by a Python handler
        return
    held: list[int] = []

    def hold(signum, frame):
        if held:
            os._exit(130)
        held.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)  # once, to whatever handled Ctrl-C before


_SLOT_NAME = re.compile(r"(\d{1,9})-[^-]+", re.ASCII)  # after SLOT_PREFIX: pid, mkdtemp's suffix


def _sweep_slot_dirs() -> None:
    """Remove our own slot folders whose process is gone (a SIGKILL skips atexit; a state being saved
    can be tens of MB). Only those untouched for a day: a pid of another PID namespace sharing /tmp
    looks dead. Anything else (other users', links, other names) is left alone."""
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(f"{SLOT_PREFIX}*-*"):
        m = _SLOT_NAME.fullmatch(folder.name[len(SLOT_PREFIX):])
        try:
            st = folder.lstat()
            if (not m or int(m[1]) <= 0 or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                    or now - st.st_mtime < STALE_AFTER_S):
                continue
            os.kill(int(m[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError, OverflowError):  # alive under another user, gone meanwhile, odd pid
            continue


def get_server(gguf: Path, adapter: Path | None = None):
    """Start (once) and return an xllamacpp Server for this file (and LoRA adapter). Loopback only,
    quiet, one slot."""
    return _start(gguf, adapter).server


def chat(gguf: Path, request: dict, adapter: Path | None = None, state_dir: Path | None = None) -> dict:
    """One OpenAI-style chat completion, in-process; with `state_dir`, the prompt's saved state is
    restored on its first use in this process and saved when no process has yet."""
    served = _start(gguf, adapter)
    with served.lock:
        if state_dir is None:
            return served.server.handle_chat_completions(request)
        folder = Path(state_dir).resolve()
        states = served.states.get(folder)
        if states is None:
            states = served.states[folder] = PromptStates(folder, served.slot_dir, served.server.listening_address,
                                                          served.model)
        keys = states.keys(request)
        states.before(keys)
        response = served.server.handle_chat_completions(request)
        if isinstance(response, dict) and response.get("choices"):
            states.after(keys, int((response.get("usage") or {}).get("prompt_tokens") or 0),
                         len(request.get("messages") or ()))
        return response
