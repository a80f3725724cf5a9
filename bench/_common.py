"""Shared helpers of the benchmarks: a loopback fault server in its own process, a throwaway project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()


@contextmanager
def fault_server(latency: float):
    """`tests/fault_server.py` in a separate process (so that it does not share the GIL with the client)."""
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fault_server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def project(api_base: str):
    """A temporary project whose model alias `fake` points at the server; DSPy cache off per call."""
    root = Path(tempfile.mkdtemp(prefix="smishctl-bench-"))
    try:
        shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
        with open(root / "smishctl.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[models.alias.fake]\nlitellm = "openai/fake"\napi_base = "{api_base}"\n')
        os.environ["SMISHCTL_HOME"] = str(root)
        os.environ["SMISHCTL_DATA_MIRROR"] = str(MIRROR)
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
            os.environ.pop(var, None)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
