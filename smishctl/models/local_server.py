"""The embedded model: llama.cpp (xllamacpp) in-process, one server per GGUF file per process."""

from __future__ import annotations

import os
import threading
from pathlib import Path

_servers: dict[str, object] = {}
_lock = threading.Lock()

N_CTX = 8192  # room for a few dozen demonstrations


def get_server(gguf: Path):
    """Start (once) and return an xllamacpp Server for this file. Loopback only, quiet, one slot."""
    key = str(Path(gguf).resolve())
    with _lock:
        server = _servers.get(key)
        if server is None:
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = key
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


def chat(gguf: Path, request: dict) -> dict:
    """One OpenAI-style chat completion, in-process."""
    return get_server(gguf).handle_chat_completions(request)
