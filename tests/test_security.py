"""Secrets never reach artifacts, run records or output; ids cannot escape their folders; artifacts are
never unpickled; oversized dataset files are refused."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faultutil import add_alias, fake_model_fixture, fault_fixture, predictions  # noqa: F401

PLANTED = "sk-planted-7f3c9e1d2b4a6f8e0c1d3b5a7f9e2c4d"
REAL_OPENAI = "sk-real-openai-key-should-never-leave-9d8c7b6a"
REPO = Path(__file__).resolve().parents[1]


def _grep_tree(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_planted_key_never_appears_in_any_output(cli, project, fault):
    add_alias(project, "keyed", fault.base_url, api_key_env="SMISHCTL_TEST_KEY")
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits

    items = load_dataset_splits("sms-phishing", load_settings(project)).split("test")[:12]
    for ex in items[:3]:
        fault.on_keyword(ex.text, "echo-key")  # the server quotes the key back in its error message
    env = {"SMISHCTL_TEST_KEY": PLANTED, "OPENAI_API_KEY": REAL_OPENAI}
    outputs = []
    r = cli("evaluate", "-m", "keyed", "-n", "12", "--retries", "0", "--json", "--debug", "--no-langfuse", env=env)
    assert r.returncode == 2, r.stderr  # a refused key (401) stops the run at its first call …
    outputs += [r.stdout, r.stderr]
    assert "Incorrect API key" in r.stderr  # … quoting the provider, whose echo of the key is masked
    # … and the key really was sent to the endpoint, so the test would catch a leak
    assert {q.authorization for q in fault.chat_requests()} == {f"Bearer {PLANTED}"}
    (run,) = [d for d in (project / "runs").iterdir() if (d / "run.json").is_file()]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "aborted"
    assert record["model"]["api_key_env"] == "SMISHCTL_TEST_KEY"  # the variable's name only

    r = cli("runs", "show", record["id"], "--json", env=env)
    assert r.returncode == 0, r.stderr
    outputs += [r.stdout, r.stderr]

    for secret in (PLANTED, REAL_OPENAI, PLANTED[10:30]):
        assert not any(secret in text for text in outputs), secret
        assert _grep_tree(project, secret.encode()) == []


def _assert_no_secret(project: Path, outputs: list[str], secrets: tuple[str, ...]) -> None:
    """Nowhere: not in what was printed, not in any text file of runs/, prompts/, .cache/ or the project."""
    for secret in secrets:
        assert not any(secret in text for text in outputs), secret
        assert _grep_tree(project, secret.encode()) == [], secret


def test_key_echoed_during_optimize_is_redacted_in_dspy_logs(cli, project, fault):
    """DSPy's bootstrap and parallelizer log failed calls at ERROR level with the provider's error text."""
    add_alias(project, "keyed", fault.base_url, api_key_env="SMISHCTL_TEST_KEY", num_retries=0)
    fault.on_keyword("", "echo-key-500")  # every call fails, quoting the key
    other = "tok-unaliased-9a8b7c6d5e4f3a2b"  # a secret-looking variable no alias names
    env = {"SMISHCTL_TEST_KEY": PLANTED, "OPENAI_API_KEY": REAL_OPENAI, "SOME_SERVICE_TOKEN": other}
    r = cli("optimize", "-m", "keyed", "-o", "bootstrap", "--train-size", "6", "--dev-size", "3",
            "--param", "max_bootstrapped_demos=2", "--no-langfuse", env=env)
    assert {q.authorization for q in fault.chat_requests()} == {f"Bearer {PLANTED}"}  # the key was sent
    assert "upstream refused key" in r.stderr + r.stdout  # and the echo reached the terminal, masked
    _assert_no_secret(project, [r.stdout, r.stderr], (PLANTED, REAL_OPENAI, PLANTED[10:30]))


def test_debug_traceback_is_redacted(cli, project, fault):
    add_alias(project, "keyed", fault.base_url, api_key_env="SMISHCTL_TEST_KEY", num_retries=0)
    fault.on_keyword("", "echo-key-500")
    env = {"SMISHCTL_TEST_KEY": PLANTED}
    r = cli("evaluate", "-m", "keyed", "-n", "4", "--max-errors", "2", "--retries", "0", "--debug", "--no-langfuse",
            env=env)
    assert r.returncode == 3, r.stderr
    assert "Traceback (most recent call last)" in r.stderr  # --debug still shows the traceback …
    _assert_no_secret(project, [r.stdout, r.stderr], (PLANTED, PLANTED[10:30]))  # … without the key
    from smishctl.util.redact import MASK

    assert MASK in r.stderr


def test_debug_traceback_of_an_unexpected_error_is_redacted(capsys, monkeypatch):
    """An exception that quotes the key raw (a library's own message) keeps its traceback under --debug,
    with the key masked in the message and in the chained cause."""
    import typer

    from smishctl.cli.common import handled

    monkeypatch.setenv("SMISHCTL_TEST_KEY", PLANTED)

    def provider_call():
        raise ValueError(f"auth rejected for {PLANTED}")

    try:
        with handled(debug=True):
            try:
                provider_call()
            except ValueError as exc:
                raise RuntimeError(f"request failed with key {PLANTED}") from exc
    except typer.Exit as exc:
        assert exc.exit_code == 1
    else:
        raise AssertionError("handled() did not exit")
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "provider_call" in err and "auth rejected for ***" in err
    assert PLANTED not in err and PLANTED[10:30] not in err


def test_secret_looking_environment_variables_are_registered():
    from smishctl.util.redact import redact, register_env_secrets

    register_env_secrets({"ACME_API_KEY": "acme-0123456789", "DEPLOY_TOKEN": "dtok-abcdefghij",
                          "DB_PASSWORD": "correct-horse-battery", "HOME": "/home/someone-long-path"})
    out = redact("acme-0123456789 dtok-abcdefghij correct-horse-battery /home/someone-long-path")
    assert out == "*** *** *** /home/someone-long-path"


def test_recorded_api_base_has_no_credentials(project):
    from smishctl.core.config import load_settings
    from smishctl.models.registry import resolve_model

    with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[models.alias.creds]\nlitellm = "openai/fake"\n'
                 'api_base = "https://bob:s3cr3t-pw@llm.example:8443/v1?api-key=q-secret-123#frag"\n')
    spec = resolve_model("creds", load_settings(project))
    assert spec.public()["api_base"] == "https://llm.example:8443/v1"
    assert spec.api_base.startswith("https://bob:")  # the call itself still uses the full URL


def test_endpoint_tags_do_not_let_a_run_file_confirm_a_password(project, monkeypatch):
    """The 12-hex endpoint tag lands in run files: for a URL with credentials it goes through scrypt, not
    a fast hash (which would confirm a guessed password in nanoseconds); it still tells two keys apart
    and is the same in another process. A URL without credentials keeps the tag earlier versions gave it,
    exactly as written."""
    import hashlib

    from smishctl.models.fleet import fleet_tag
    from smishctl.models.registry import ModelSpec
    from smishctl.util.urls import endpoint_text

    def tag(url):
        return ModelSpec(name="x", litellm_model="openai/fake", api_base=url).endpoint_tag

    def old_tag(url):
        return hashlib.sha256(url.encode()).hexdigest()[:12]

    for plain in ("http://127.0.0.1:8000/v1", "HTTP://[::1]:8000/v1/", "http://h/v1?", "http://h/v1#"):
        assert tag(plain) == old_tag(plain), plain  # cache entries and runs stay valid
    secret = "https://bob:hunter2@llm.example/v1?api-key=q-secret"
    endpoint_text.cache_clear()
    derived = []
    real_scrypt = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: derived.append(a) or real_scrypt(*a, **kw))
    hidden = tag(secret)
    assert len(derived) == 1 and derived[0][0] == secret.encode()  # the memory-hard digest made it
    assert "hunter2" not in endpoint_text(secret) and "q-secret" not in endpoint_text(secret)
    other_key = tag("https://bob:hunter3@llm.example/v1?api-key=q-secret")
    assert len({hidden, other_key, tag("https://llm.example/v1"), old_tag(secret)}) == 4
    monkeypatch.undo()
    code = ("from smishctl.models.registry import ModelSpec; "
            f"print(ModelSpec(name='x', litellm_model='openai/fake', api_base={secret!r}).endpoint_tag)")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert other.stdout.strip() == hidden, other.stderr  # no per-process salt: runs compare across machines
    # A fleet's tag is recorded as its api_base: the same rule for each deployment's URL.
    deps = [{"litellm": "openai/fake", "api_base": secret}]
    fast = json.dumps({"api_base": secret, "litellm": "openai/fake"}, sort_keys=True)
    assert fleet_tag(deps) != "fleet:" + hashlib.sha256(fast.encode()).hexdigest()[:16]
    assert fleet_tag(deps) != fleet_tag([{"litellm": "openai/fake", "api_base": secret.replace("hunter2", "x")}])
    for base in ("http://127.0.0.1:8000/v1", "", None):
        open_fleet = json.dumps({"api_base": base, "litellm": "openai/fake"}, sort_keys=True)
        assert fleet_tag([{"litellm": "openai/fake", "api_base": base}]) == (
            "fleet:" + hashlib.sha256(open_fleet.encode()).hexdigest()[:16]), base


def test_redact_masks_known_and_key_shaped_secrets():
    from smishctl.util.redact import redact, register_secret

    register_secret("hunter2-project-secret")
    text = ("auth failed for hunter2-project-secret; Incorrect API key provided: Bearer sk-abc123def456ghi; "
            "api_key=gsk_live_0123456789 and sk-proj-ABCDEFGH12345678")
    out = redact(text)
    for secret in ("hunter2-project-secret", "sk-abc123def456ghi", "gsk_live_0123456789", "ABCDEFGH12345678"):
        assert secret not in out
    assert redact("Your parcel is held, call 0800 123 456") == "Your parcel is held, call 0800 123 456"


def test_run_and_artifact_ids_cannot_escape(cli, project, tmp_path):
    outside = tmp_path / "outside"  # beside the project: `../outside/v0001` from its folder exists
    (outside / "v0001").mkdir(parents=True)
    (outside / "v0001" / "manifest.json").write_text("{}")
    (project / "runs").mkdir(exist_ok=True)
    assert (project / "../outside/v0001/manifest.json").is_file()
    cases = [
        ("runs", "show", ".."),
        ("runs", "show", "../../outside"),
        ("runs", "show", "..%2F..%2Fetc"),
        ("runs", "merge", "..", "../x"),
        ("evaluate", "--resume", "../../etc", "--no-langfuse"),
        ("evaluate", "--prompt", "../../outside/v0001", "-n", "1", "--no-langfuse"),
        ("evaluate", "--prompt", "a/../../outside", "-n", "1", "--no-langfuse"),
    ]
    for args in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and re.search(r"outside|invalid|unknown", r.stderr), (args, r.stderr)
    # An existing folder by path is refused because its manifest does not verify, not because it is missing.
    r = cli("evaluate", "--prompt", "../outside/v0001", "-m", "openai/none", "-n", "1", "--no-langfuse")
    assert r.returncode == 2 and "does not checksum program.json" in r.stderr, r.stderr
    assert not (project / "runs" / ".." / ".." / "outside" / "run.json").exists()


def _artifact(prompts_dir: Path):
    """A real artifact (zero-shot program state), written by the store itself."""
    from dspy.utils.saving import get_dependency_versions

    from smishctl.solve.signature import make_program
    from smishctl.store.artifacts import save_artifact

    labels = ("ham", "spam", "smishing")
    state = {**make_program(labels).dump_state(), "metadata": {"dependency_versions": get_dependency_versions()}}
    return save_artifact(prompts_dir, "sms-phishing", "m", program_state=state,
                         messages=[], manifest={"labels": list(labels), "dataset": {"name": "sms-phishing"}}, card="c")


def test_an_artifact_by_path_is_used_only_when_it_verifies(project, tmp_path):
    from smishctl.core.errors import ConfigError
    from smishctl.store.artifacts import PROGRAM, resolve_artifact
    from smishctl.store.programs import load_program

    art = _artifact(project / "prompts")
    copy = tmp_path / "shipped" / "v0001"
    shutil.copytree(art.dir, copy)
    found = resolve_artifact(project / "prompts", str(copy))  # documented: a verified copy may be used by path
    assert found.id == art.id and load_program(found, ("ham", "spam", "smishing")) is not None
    (copy / PROGRAM).write_text((copy / PROGRAM).read_text() + " ")
    try:
        resolve_artifact(project / "prompts", str(copy))
    except ConfigError as exc:
        assert "does not match its manifest checksum" in str(exc)
    else:
        raise AssertionError("a modified artifact was accepted by path")


def test_merge_refuses_a_run_id_outside_runs(project):
    from smishctl.core.errors import ConfigError
    from smishctl.store.runs import run_dir

    for bad in ("..", "../evil", "/tmp/evil", "a/../../evil"):
        try:
            run_dir(project / "runs", bad)
        except ConfigError:
            continue
        raise AssertionError(f"{bad!r} accepted")


class _Payload:
    """Unpickling this creates `marker`: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickled_program_beside_the_manifest_is_refused_unloaded(cli, project, tmp_path):
    """A verified artifact with a program.pkl planted beside it: the loader refuses the artifact, and the
    payload never runs (DSPy would unpickle a .pkl given allow_pickle=True)."""
    marker = tmp_path / "pwned"
    art = _artifact(project / "prompts")
    (art.dir / "program.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    r = cli("evaluate", "--prompt", art.id, "-m", "openai/none", "-n", "1", "--no-langfuse")
    assert r.returncode == 2 and "contains program.pkl: pickled programs are never loaded" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not marker.exists()
    # The payload is live: loading it the unsafe way does run it.
    pickle.loads((art.dir / "program.pkl").read_bytes())
    assert marker.exists()
    # and nothing in the package can unpickle
    pattern = re.compile(r"pickle\.loads?\(|allow_pickle\s*=\s*True|joblib\.load|cloudpickle|dill\.load")
    offenders = [p for p in (REPO / "smishctl").rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_a_planted_dspy_cache_entry_does_not_run(cli, project, fake_model, fault, tmp_path):
    """A poisoned .cache/dspy (e.g. a restored CI cache) is a cache miss, never code execution."""
    from diskcache import Cache

    r = cli("evaluate", "-m", fake_model, "-n", "3", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    calls = len(fault.chat_requests())
    assert calls == 3
    marker = tmp_path / "pwned"
    planted = 0
    for shard in sorted((project / ".cache" / "dspy").iterdir()):  # diskcache's FanoutCache: one Cache a shard
        if shard.is_dir():
            with Cache(str(shard)) as cache:
                for key in list(cache.iterkeys()):  # each cached answer is replaced by a payload, same key
                    cache.set(key, _Payload(marker))
                    planted += 1
    assert planted >= 3
    r = cli("evaluate", "-m", fake_model, "-n", "3", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert not marker.exists()
    assert len(fault.chat_requests()) == calls + 3  # the entries were refused and the model asked again
    assert json.loads(r.stdout)["metrics"]["n_errors"] == 0


def test_oversized_dataset_files_are_refused(cli, project):
    big = project / "big.jsonl"
    line = json.dumps({"text": "hello there " * 40, "label": "ham"}) + "\n"
    big.write_text(line * (int(1.2 * 2**20) // len(line) + 1))
    r = cli("data", str(big), env={"SMISHCTL_MAX_FILE_MIB": "1"})
    assert r.returncode == 2 and "above the 1 MiB limit" in r.stderr and "max_file_mib" in r.stderr, r.stderr
    with open(project / "smishctl.toml", encoding="utf-8") as fh:
        toml = fh.read()
    (project / "smishctl.toml").write_text(toml.replace("max_file_mib = 200", "max_file_mib = 0.5"))
    from smishctl.core.config import load_settings
    from smishctl.core.errors import DataError
    from smishctl.data import load_dataset_splits

    try:
        load_dataset_splits(str(big), load_settings(project))
    except DataError as exc:
        assert "MiB limit" in str(exc)
    else:
        raise AssertionError("a 1.2 MiB file passed a 0.5 MiB limit")


def test_custom_endpoint_never_gets_the_providers_default_key(project, fault, monkeypatch):
    add_alias(project, "nokey", fault.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", REAL_OPENAI)
    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, evaluate

    evaluate(load_settings(project), EvalConfig(model="nokey", limit=2, cache=False))
    assert {q.authorization for q in fault.chat_requests()} == {"Bearer no-key"}


def test_a_swapped_label_column_is_refused(cli, project):
    import csv

    from smishctl.core.config import load_settings
    from smishctl.core.errors import DataError
    from smishctl.data import load_dataset_splits

    small = project / "small.csv"
    with open(small, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "sms"])
        for i in range(12):
            w.writerow(["ham" if i % 2 else "spam", f"Message number {i}: see you at the station later today"])
    r = cli("data", str(small), "--text-column", "label", "--label-column", "sms")
    assert r.returncode == 2 and "does not look like a label column" in r.stderr and "--label-column" in r.stderr, \
        r.stderr
    big = project / "big.csv"
    with open(big, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["label", "id", "sms"])
        for i in range(300):
            w.writerow(["ham" if i % 2 else "spam", f"id{i}", f"hello {i}"])
    try:
        load_dataset_splits(str(big), load_settings(project), text_column="sms", label_column="id")
    except DataError as exc:
        assert "300 distinct values" in str(exc)
    else:
        raise AssertionError("a 300-value id column was taken as labels")
    r = cli("data", str(big), "--text-column", "sms")  # the right column still loads
    assert r.returncode == 0, r.stderr


def test_an_oversized_file_is_refused_before_it_is_read(cli, project):
    import time

    huge = project / "huge.jsonl"
    with open(huge, "wb") as fh:  # sparse: 32 GiB of size, no disk used; hashing it would take minutes
        fh.truncate(32 * 2**30)
    started = time.monotonic()
    r = cli("data", str(huge))
    assert r.returncode == 2 and "above the 200 MiB limit" in r.stderr, r.stderr
    assert time.monotonic() - started < 20  # the CLI start-up, not a read of 32 GiB


def test_parquet_is_bounded_by_rows_and_expanded_size(project, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from smishctl.core.config import load_settings
    from smishctl.core.errors import DataError
    from smishctl.data import load_dataset_splits

    path = project / "packed.parquet"
    n = 4000
    text = "Your parcel is waiting, reply to rebook. " * 25  # ~1 KB, compresses to almost nothing
    pq.write_table(pa.table({"text": [f"{text}{i}" for i in range(n)],
                             "label": ["ham" if i % 2 else "spam" for i in range(n)]}), path, compression="zstd")
    assert path.stat().st_size < 2**20 // 4
    settings = load_settings(project)
    monkeypatch.setenv("SMISHCTL_MAX_FILE_MIB", "1")  # the file fits; the ~4 MiB it expands to does not
    with pytest.raises(DataError, match="expands to more than 1 MiB when loaded"):
        load_dataset_splits(str(path), load_settings(project))
    monkeypatch.delenv("SMISHCTL_MAX_FILE_MIB")
    monkeypatch.setenv("SMISHCTL_MAX_ROWS", "1000")
    with pytest.raises(DataError, match="4,000 rows, above the 1,000 row limit"):
        load_dataset_splits(str(path), settings)
    monkeypatch.delenv("SMISHCTL_MAX_ROWS")
    assert len(load_dataset_splits(str(path), settings).labels) == 2


def test_a_manifest_cannot_point_outside_its_artifact(project):
    from smishctl.core.errors import ConfigError
    from smishctl.store.artifacts import MANIFEST, verify_artifact

    art = _artifact(project / "prompts")
    manifest = json.loads((art.dir / MANIFEST).read_text())
    manifest["files"]["../../../smishctl.toml"] = "0" * 64
    (art.dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="lists a file outside its folder"):
        verify_artifact(art)
