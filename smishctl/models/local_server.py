"""The embedded model: llama.cpp (xllamacpp) in-process, one server per (GGUF file, LoRA adapter) per process."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from smishctl.models.prompt_state import PromptStates, model_key

_servers: dict[str, object] = {}
_slot_dirs: dict[str, tuple[Path, str]] = {}  # server key -> (its slot folder, its model key)
# server key -> lock: restore, request and save must see one slot in order, whichever project asks
_slot_locks: dict[str, threading.Lock] = {}
_states: dict[str, PromptStates] = {}
_lock = threading.Lock()

N_CTX = 8192  # room for a few dozen demonstrations


def _key(gguf: Path, adapter: Path | None) -> str:
    path = str(Path(gguf).resolve())
    return f"{path}+{Path(adapter).resolve()}" if adapter else path


def get_server(gguf: Path, adapter: Path | None = None):
    """Start (once) and return an xllamacpp Server for this file (and LoRA adapter). Loopback only,
    quiet, one slot."""
    key = _key(gguf, adapter)
    with _lock:
        server = _servers.get(key)
        if server is None:
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
            # The slot save/restore folder of this server (prompt_state.py): llama.cpp joins it to a
            # bare file name, so it needs its trailing separator.
            slot_dir = Path(tempfile.mkdtemp(prefix="smishctl-slots-"))
            atexit.register(shutil.rmtree, slot_dir, True)
            params.slot_save_path = f"{slot_dir}{os.sep}"
            server = xllamacpp.Server(params)
            _servers[key] = server
            _slot_dirs[key] = (slot_dir, model_key(Path(gguf), adapter, params.n_ctx))
            _slot_locks[key] = threading.Lock()
        return server


def _states_for(gguf: Path, adapter: Path | None, folder: Path) -> PromptStates:
    server = get_server(gguf, adapter)
    key = f"{_key(gguf, adapter)}@{Path(folder).resolve()}"
    with _lock:
        states = _states.get(key)
        if states is None:
            slot_dir, model = _slot_dirs[_key(gguf, adapter)]
            states = PromptStates(folder, slot_dir, server.listening_address, model)
            _states[key] = states
        return states


def chat(gguf: Path, request: dict, adapter: Path | None = None, state_dir: Path | None = None) -> dict:
    """One OpenAI-style chat completion, in-process; with `state_dir`, the prompt's saved state is
    restored on its first use in this process and saved when no process has yet."""
    if state_dir is None:
        return get_server(gguf, adapter).handle_chat_completions(request)
    states = _states_for(gguf, adapter, state_dir)
    keys = states.keys(request)
    with _slot_locks[_key(gguf, adapter)]:
        states.before(keys)
        response = get_server(gguf, adapter).handle_chat_completions(request)
        if isinstance(response, dict) and response.get("choices"):
            states.after(keys, int((response.get("usage") or {}).get("prompt_tokens") or 0),
                         len(request.get("messages") or ()))
        return response
