"""The embedded model: llama.cpp (xllamacpp) in-process, one server per (GGUF file, LoRA adapter) per process."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_servers: dict[str, object] = {}
_lock = threading.Lock()

N_CTX = 8192  # room for a few dozen demonstrations


def get_server(gguf: Path, adapter: Path | None = None):
    """Start (once) and return an xllamacpp Server for this file (and LoRA adapter). Loopback only,
    quiet, one slot."""
    path = str(Path(gguf).resolve())
    key = f"{path}+{Path(adapter).resolve()}" if adapter else path
    with _lock:
        server = _servers.get(key)
        if server is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = path
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
            server = xllamacpp.Server(params)
            _servers[key] = server
        return server


def chat(gguf: Path, request: dict, adapter: Path | None = None) -> dict:
    """One OpenAI-style chat completion, in-process."""
    return get_server(gguf, adapter).handle_chat_completions(request)
