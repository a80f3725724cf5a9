"""The warm CLI server (tests/cli_server.py) that most tests start the CLI through must be
indistinguishable from `python -m smishctl` in a fresh interpreter: same exit code, stdout and stderr,
stdin passed through, the caller's working directory and environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import _cli_server, run_cli


def _fresh(*args: str, cwd, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, input=input)


@pytest.mark.parametrize("args", [
    ("--help",),
    ("evaluate", "--help"),
    ("evaluate", "-m", "no-such-model", "--limit", "2"),
    ("runs", "list", "--json"),
    ("compare",),
    ("promote", "no-such-version", "--dry-run"),
])
def test_a_served_call_is_a_fresh_interpreter_call(project, args):
    server = _cli_server()
    if server is None:
        pytest.skip("SMISHCTL_TEST_FRESH_CLI=1: every call already starts a fresh interpreter")
    assert server.why_not(dict(os.environ)) is None
    served, fresh = run_cli(*args, cwd=project), _fresh(*args, cwd=project)
    assert (served.returncode, served.stdout, served.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)


def test_stdin_cwd_and_environment_reach_the_served_process(project, tmp_path):
    """classify reads messages from stdin; SMISHCTL_HOME and the working directory pick the project."""
    text = "WINNER!! Claim your prize now at http://prize.example.top\nSee you at 6?\n"
    args = ("classify", "--model", "classic/tfidf-svm", "--json")
    served = run_cli(*args, cwd=project, input=text)
    fresh = _fresh(*args, cwd=project, input=text)
    assert served.returncode == fresh.returncode == 0, served.stderr
    assert [json.loads(x)["label"] for x in served.stdout.splitlines()] == \
        [json.loads(x)["label"] for x in fresh.stdout.splitlines()]
    assert len(served.stdout.splitlines()) == 2
    # another working directory without a project: the served process sees that folder, not the caller's
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    r = run_cli("runs", "list", cwd=elsewhere, env={"SMISHCTL_HOME": str(elsewhere)})
    f = subprocess.run([sys.executable, "-m", "smishctl", "runs", "list"], cwd=elsewhere, capture_output=True,
                       text=True, env={**os.environ, "SMISHCTL_HOME": str(elsewhere)})
    assert (r.returncode, r.stdout, r.stderr) == (f.returncode, f.stdout, f.stderr)


def test_an_import_time_variable_gets_a_fresh_interpreter(project):
    """A call that changes what a library reads when imported cannot use the warm imports."""
    server = _cli_server()
    if server is None:
        pytest.skip("SMISHCTL_TEST_FRESH_CLI=1")
    env = dict(os.environ)
    assert server.why_not(env) is None
    assert not server.serves({**env, "HF_HUB_OFFLINE": "0"})
    assert not server.serves({**env, "PYTHONWARNINGS": "error"})
    assert not server.serves({**env, "COLUMNS": "200"})  # the CLI's rich console was made at import
    assert server.serves({**env, "SMISHCTL_HOME": str(project)})
    assert server.serves({**env, "TORCHINDUCTOR_CACHE_DIR": "/elsewhere"})  # torch is not preloaded
    assert not server.serves({**env, "OPENAI_API_VERSION": "2024-01-01"})  # read by `import openai`
    assert server.serves({**env, "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9"})  # read per call
