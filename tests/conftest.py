"""Shared fixtures. Tests use the real dataset mirror (../shared/datasets), the real embedded
model and real libraries; every project they touch is a temporary folder."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cli_server import CliServer

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
# One model/dataset cache for the whole session: the GGUF is assembled once (~0.5 GB).
SESSION_CACHE = REPO / ".cache" / "test-session"


# The slowest files (measured with --durations on two workers) are handed out first, longest first:
# with one file per worker at a time (--dist loadfile), a slow file started last would leave one
# worker busy while the other idles.
SLOWEST_FIRST = ("test_optimize.py", "test_finetune.py", "test_evaluate.py", "test_wheel.py", "test_langfuse.py",
                 "test_promote.py", "test_terminal.py", "test_feedback.py", "test_promote_real.py", "test_adapters.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


_SESSION_ENV: dict[str, str] = {}  # the environment every test starts from (the CLI server's)


@pytest.fixture(scope="session", autouse=True)
def _offline_env():
    os.environ["SMISHCTL_DATA_MIRROR"] = str(MIRROR)
    os.environ["SMISHCTL_NO_PROGRESS"] = "1"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    # What smishctl itself sets before it imports litellm (models/lm.py quiet_libraries): set from the
    # start, a library call made inside a test process does not change the environment later calls see.
    os.environ["LITELLM_LOG"] = "ERROR"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        os.environ.pop(var, None)
    # Parallel workers (pytest-xdist) share the cores: each model (llama.cpp, torch) gets its share
    # rather than every worker spinning threads on all of them.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = str(max(1, (os.cpu_count() or 2) // workers))
        os.environ.setdefault("SMISHCTL_LOCAL_THREADS", share)
        os.environ.setdefault("OMP_NUM_THREADS", share)
    _SESSION_ENV.update(os.environ)
    yield


def make_project(root: Path) -> Path:
    """The one project builder: a project folder (config copied from the repo) with its own runs/,
    prompts/ and DSPy cache, and the session's caches linked in (`link_session_cache`). The fixture
    `project` makes one per test; module-scoped fixtures call this with a folder of their own."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    return link_session_cache(root)


def link_session_cache(root: Path) -> Path:
    """Link the session's assembled weights, HF dataset cache, parsed rows, template groups and the
    embedded model's saved prompt states into `root`/.cache (one model server's memory, as it were);
    kept links stay."""
    cache = root / ".cache"
    cache.mkdir(exist_ok=True)
    for shared in ("models", "hf-datasets", "rows", "template-groups", "llama-state"):
        (SESSION_CACHE / shared).mkdir(parents=True, exist_ok=True)
        if not (cache / shared).exists():
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


_server: CliServer | None = None


def _cli_server() -> CliServer | None:
    """The warm CLI server of this test process (tests/cli_server.py), started on first use;
    None when SMISHCTL_TEST_FRESH_CLI=1 asks for a fresh interpreter per call."""
    global _server
    if os.environ.get("SMISHCTL_TEST_FRESH_CLI") == "1":
        return None
    if _server is None:
        _server = CliServer(Path(tempfile.mkdtemp(prefix="smishctl-cli-")), _SESSION_ENV or dict(os.environ))
        atexit.register(_server.close)
    return _server


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
    """The real CLI (`python -m smishctl`) in its own process: forked from the warm CLI server when
    the call's import-time environment matches it, else a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    server = _cli_server()
    if server is not None and server.serves(full_env):
        return server.run(list(args), cwd=str(cwd or Path.cwd()), env=full_env, timeout=timeout, input=input)
    return subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=input)


@pytest.fixture()
def cli(project):
    def _run(*args, **kw):
        return run_cli(*args, cwd=project, **kw)

    return _run
