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
            with _ctrl_c_held():  # raised once the server is kept (see _started)
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
                served = _served[key] = _Served(_started(params), slot_dir, model_key(Path(gguf), adapter,
                                                                                       params.n_ctx))
        return served


def _started(params):
    """A started xllamacpp.Server, built in a thread of its own while this one waits.

    A server dropped just after its constructor returns (what a KeyboardInterrupt there does) hangs
    the process for good: its destructor's terminate() can run before llama.cpp's loop thread has set
    `running`, and then waits on that loop forever (reproduced: one start in seven dropped at once,
    and Ctrl-C during the start under load). So the caller holds Ctrl-C back until the server is
    kept, and the builder waits for one metrics request, which that loop answers: from then on
    dropping the server is safe. The builder blocks SIGINT first: llama.cpp's threads, all started in
    the constructor, inherit the mask, so a Ctrl-C never interrupts their system calls."""
    import xllamacpp

    out: dict = {}
    done = threading.Event()

    def build() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            server = xllamacpp.Server(params)
            server.handle_metrics()
            out["server"] = server
        except BaseException as exc:  # handed to the waiting thread
            out["error"] = exc
        finally:
            done.set()

    threading.Thread(target=build, name="smishctl-llama-start", daemon=True).start()
    done.wait()
    if "error" in out:
        raise out["error"]
    return out["server"]


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """In the main thread: a Ctrl-C during the block is held and raised once when it ends. (xllamacpp's
    constructor keeps the GIL, so no Python handler could run during most of a start anyway.)"""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield  # KeyboardInterrupt is only ever raised in the main thread; an ignored Ctrl-C stays ignored
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        # None: a handler installed outside Python
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if held:
            signal.raise_signal(signal.SIGINT)  # once, to whatever handled Ctrl-C before


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
