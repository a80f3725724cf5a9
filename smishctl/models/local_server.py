"""The embedded model: llama.cpp (xllamacpp) in-process, one server per (GGUF file, LoRA adapter) per process."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.models.prompt_state import PromptStates, model_key

N_CTX = 8192  # room for a few dozen demonstrations
SLOT_PREFIX = "smishctl-slots-"  # + the owner's pid: a folder left by a killed process can be told apart
STALE_AFTER_S = 24 * 3600


@dataclass
class _Served:
    """A started server and what its saved prompt states need (prompt_state.py)."""

    server: object
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
            model = model_key(Path(gguf), adapter, params.n_ctx)
            params.endpoint_metrics = True  # loopback only, like the slots: the start check below
            with _ctrl_c_deferred():
                server = xllamacpp.Server(params)
                # A metrics request is answered by llama.cpp's loop: once it returns, the loop has set
                # `running`, and dropping the server later (at exit, say) can no longer hang.
                server.handle_metrics()
                served = _served[key] = _Served(server, slot_dir, model)
        return served


def _sweep_slot_dirs() -> None:
    """Remove slot folders whose process is gone (a SIGKILL skips atexit; a state being saved can be
    tens of MB). Only those untouched for a day: a pid of another PID namespace sharing /tmp looks dead."""
    now = time.time()
    for folder in Path(tempfile.gettempdir()).glob(f"{SLOT_PREFIX}*-*"):
        pid = folder.name[len(SLOT_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or int(pid) <= 0 or now - folder.stat().st_mtime < STALE_AFTER_S:
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # alive under another user (PermissionError), or gone meanwhile
            continue


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back while a server starts and is registered; it is raised when the block ends.

    A server dropped just after its constructor returns (what a KeyboardInterrupt at that point
    does) hangs the process for good: its destructor's terminate() can run before llama.cpp's loop
    thread has set `running`, and then waits on that loop forever (reproduced under load, and in
    about one start in seven when the server is dropped at once). Masking SIGINT alone would not do: with another thread alive (rich's refresh thread,
    say) the kernel hands the signal to that one and Python still raises in the main thread. The
    mask is kept because the threads llama.cpp starts inside the constructor inherit it, so a
    Ctrl-C never interrupts a system call of its HTTP or compute threads."""
    if threading.current_thread() is not threading.main_thread():
        yield  # KeyboardInterrupt is only ever raised in the main thread
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a held-back signal is delivered here...
        # ...to the recorder, or after this line to `previous` (None: a handler set outside Python)
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if pending:
            signal.raise_signal(signal.SIGINT)  # once, to whatever handled Ctrl-C before


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
