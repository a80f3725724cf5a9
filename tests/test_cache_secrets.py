"""Endpoint credentials never reach a file smishctl writes, DSPy's disk cache included (the README suggests
restoring `.cache/dspy` in CI): litellm keeps the URL it called, `user:password@` and `?api-key=` included,
in every response, and DSPy pickles the response. The cache stays useful: a second identical run is served
from it, and each endpoint keeps its own entries."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from faultutil import add_alias, fault_fixture  # noqa: F401

# Distinct enough that no other text matches them (run.json names the LANGFUSE_SECRET_KEY variable).
PASSWORD = "PASSWORD-q7Xv2Lm9"
SECRET = "SECRET-z4Rk8Wp1"
KEY = "sk-alias-key-0b6d2f8e4a1c3e5d"


def _files(root: Path) -> list[Path]:
    """Every file smishctl may have written under the project (links to the shared model folder skipped;
    smishctl.toml is the user's own file)."""
    out = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
        out += [Path(folder) / f for f in files if f != "smishctl.toml" or Path(folder) != root]
    return out


def _leaks(root: Path) -> list[str]:
    return [f"{p.relative_to(root)}: {s}" for p in _files(root) for s in (PASSWORD, SECRET, KEY)
            if s.encode() in p.read_bytes()]


def test_credentials_in_api_base_never_reach_the_cache(cli, project, fault):
    host = fault.base_url.split("//", 1)[1]
    add_alias(project, "guarded", f"http://user:{PASSWORD}@{host}?api-key={SECRET}", api_key_env="SMISHCTL_TEST_KEY")
    env = {"SMISHCTL_TEST_KEY": KEY}
    args = ("evaluate", "-m", "guarded", "-n", "6", "--retries", "0", "--json", "--no-langfuse")
    r = cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    assert first["metrics"]["n_scored"] == 6 and first["metrics"]["cache_hits"] == 0
    # The credentials really travelled to the endpoint, so a copy of them on disk would be found.
    assert all(f"api-key={SECRET}" in q.path for q in fault.chat_requests())
    # (the client turns user:password@ into Basic auth, which then takes the place of the bearer key)
    sent = {base64.b64decode(q.authorization.split()[-1]).decode() for q in fault.chat_requests()}
    assert sent == {f"user:{PASSWORD}"}
    assert len(fault.chat_requests()) == 6

    r = cli(*args, env=env)  # the same run again: every answer from the disk cache
    assert r.returncode == 0, r.stderr
    second = json.loads(r.stdout)
    assert second["metrics"]["cache_hits"] == 6 and len(fault.chat_requests()) == 6
    assert second["metrics"]["n_correct"] == first["metrics"]["n_correct"]

    cached = [p for p in _files(project) if "dspy" in p.parts and p.name.startswith("cache.db")]
    assert cached and sum(p.stat().st_size for p in cached) > 0  # the cache was written, and is read below
    assert _leaks(project) == []
    assert PASSWORD not in r.stdout + r.stderr and SECRET not in r.stdout + r.stderr


def test_each_endpoint_keeps_its_own_cache_entries(cli, project, fault):
    """Two aliases differing only in their credentials are two endpoints: neither answers from the other's
    cache (the endpoint tag still tells them apart once the stored URL is stripped)."""
    host = fault.base_url.split("//", 1)[1]
    add_alias(project, "one", f"http://user:{PASSWORD}@{host}?api-key={SECRET}")
    add_alias(project, "two", f"http://user:{PASSWORD}@{host}?api-key={SECRET}-other")
    for name in ("one", "two"):
        r = cli("evaluate", "-m", name, "-n", "3", "--retries", "0", "--json", "--no-langfuse")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["metrics"]["cache_hits"] == 0
    assert len(fault.chat_requests()) == 6
    assert _leaks(project) == []
