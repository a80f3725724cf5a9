"""Shared fixtures. Tests use the real dataset mirror (../shared/datasets), the real embedded
model and real libraries; every project they touch is a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
# One model/dataset cache for the whole session: the GGUF is assembled once (~0.5 GB).
SESSION_CACHE = REPO / ".cache" / "test-session"


@pytest.fixture(scope="session", autouse=True)
def _offline_env():
    os.environ["SMISHCTL_DATA_MIRROR"] = str(MIRROR)
    os.environ["SMISHCTL_NO_PROGRESS"] = "1"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        os.environ.pop(var, None)
    yield


def make_project(root: Path) -> Path:
    """A project folder (config copied from the repo) with its own runs/, prompts/ and DSPy cache;
    the assembled weights and the HF dataset cache are shared by the whole session."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    cache = root / ".cache"
    cache.mkdir()
    SESSION_CACHE.mkdir(parents=True, exist_ok=True)
    for shared in ("models", "hf-datasets"):
        (SESSION_CACHE / shared).mkdir(exist_ok=True)
        (cache / shared).symlink_to(SESSION_CACHE / shared)
    return root


@pytest.fixture()
def project(tmp_path, monkeypatch) -> Path:
    """A fresh project, made the current one (SMISHCTL_HOME and the working directory)."""
    root = make_project(tmp_path / "proj")
    monkeypatch.setenv("SMISHCTL_HOME", str(root))
    monkeypatch.chdir(root)
    return root


@pytest.fixture()
def settings(project):
    from smishctl.core.config import load_settings

    return load_settings(project)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (console script entry point through `python -m`)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=input)


@pytest.fixture()
def cli(project):
    def _run(*args, **kw):
        return run_cli(*args, cwd=project, **kw)

    return _run
