"""Secrets never reach artifacts, run records or output; ids cannot escape their folders; artifacts are
never unpickled; oversized dataset files are refused."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

from faultutil import add_alias, fault_fixture, predictions  # noqa: F401

PLANTED = "sk-planted-7f3c9e1d2b4a6f8e0c1d3b5a7f9e2c4d"
REAL_OPENAI = "sk-real-openai-key-should-never-leave-9d8c7b6a"
REPO = Path(__file__).resolve().parents[1]


def _grep_tree(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_planted_key_never_appears_in_any_output(cli, project, fault):
    add_alias(project, "keyed", fault.base_url, api_key_env="SMISHCTL_TEST_KEY")
    from smishctl.config import load_settings
    from smishctl.data.prepare import load_dataset_splits

    items = load_dataset_splits("sms-phishing", load_settings(project)).split("test")[:12]
    for ex in items[:3]:
        fault.on_keyword(ex.text, "echo-key")  # the server quotes the key back in its error message
    env = {"SMISHCTL_TEST_KEY": PLANTED, "OPENAI_API_KEY": REAL_OPENAI}
    outputs = []
    r = cli("evaluate", "-m", "keyed", "-n", "12", "--retries", "0", "--json", "--debug", "--no-langfuse", env=env)
    assert r.returncode == 0, r.stderr
    outputs += [r.stdout, r.stderr]
    record = json.loads(r.stdout)
    assert record["metrics"]["n_errors"] == 3  # the echoing calls failed (401) …
    # … and the key really was sent to the endpoint, so the test would catch a leak
    assert {q.authorization for q in fault.chat_requests()} == {f"Bearer {PLANTED}"}
    rows = predictions(project / "runs" / record["id"])
    assert any("Incorrect API key" in (x["error"] or "") for x in rows)
    assert record["model"]["api_key_env"] == "SMISHCTL_TEST_KEY"  # the variable's name only

    r = cli("runs", "show", record["id"], "--json", env=env)
    assert r.returncode == 0, r.stderr
    outputs += [r.stdout, r.stderr]

    for secret in (PLANTED, REAL_OPENAI, PLANTED[10:30]):
        assert not any(secret in text for text in outputs), secret
        assert _grep_tree(project, secret.encode()) == []


def test_redact_masks_known_and_key_shaped_secrets():
    from smishctl.redact import redact, register_secret

    register_secret("hunter2-project-secret")
    text = ("auth failed for hunter2-project-secret; Incorrect API key provided: Bearer sk-abc123def456ghi; "
            "api_key=gsk_live_0123456789 and sk-proj-ABCDEFGH12345678")
    out = redact(text)
    for secret in ("hunter2-project-secret", "sk-abc123def456ghi", "gsk_live_0123456789", "ABCDEFGH12345678"):
        assert secret not in out
    assert redact("Your parcel is held, call 0800 123 456") == "Your parcel is held, call 0800 123 456"


def test_run_and_artifact_ids_cannot_escape(cli, project, tmp_path):
    outside = tmp_path / "outside"
    (outside / "v0001").mkdir(parents=True)
    (outside / "v0001" / "manifest.json").write_text("{}")
    (project / "runs").mkdir(exist_ok=True)
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
    assert not (project / "runs" / ".." / ".." / "outside" / "run.json").exists()


def test_merge_refuses_a_run_id_outside_runs(project):
    from smishctl.errors import ConfigError
    from smishctl.runs import run_dir

    for bad in ("..", "../evil", "/tmp/evil", "a/../../evil"):
        try:
            run_dir(project / "runs", bad)
        except ConfigError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_artifacts_are_never_unpickled(cli, project, tmp_path):
    """A program.json holding a pickle that would run code: evaluating it must fail without running it."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    art = project / "prompts" / "sms-phishing" / "evil" / "v0001"
    art.mkdir(parents=True)
    blob = pickle.dumps(Payload())
    (art / "program.json").write_bytes(blob)
    (art / "program.pkl").write_bytes(blob)
    import hashlib

    (art / "manifest.json").write_text(json.dumps({
        "id": "sms-phishing/evil/v0001", "labels": ["ham", "spam", "smishing"],
        "files": {"program.json": hashlib.sha256(blob).hexdigest()}}))
    r = cli("evaluate", "--prompt", "sms-phishing/evil/v0001", "-m", "openai/none", "-n", "1", "--no-langfuse")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert not marker.exists()
    # and nothing in the package can unpickle
    pattern = re.compile(r"pickle\.loads?\(|allow_pickle\s*=\s*True|joblib\.load|cloudpickle|dill\.load")
    offenders = [p for p in (REPO / "smishctl").rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_oversized_dataset_files_are_refused(cli, project):
    big = project / "big.jsonl"
    line = json.dumps({"text": "hello there " * 40, "label": "ham"}) + "\n"
    big.write_text(line * (int(1.2 * 2**20) // len(line) + 1))
    r = cli("data", str(big), env={"SMISHCTL_MAX_FILE_MIB": "1"})
    assert r.returncode == 2 and "above the 1 MiB limit" in r.stderr and "max_file_mib" in r.stderr, r.stderr
    with open(project / "smishctl.toml", encoding="utf-8") as fh:
        toml = fh.read()
    (project / "smishctl.toml").write_text(toml.replace("max_file_mib = 200", "max_file_mib = 0.5"))
    from smishctl.config import load_settings
    from smishctl.data import load_dataset_splits
    from smishctl.errors import DataError

    try:
        load_dataset_splits(str(big), load_settings(project))
    except DataError as exc:
        assert "MiB limit" in str(exc)
    else:
        raise AssertionError("a 1.2 MiB file passed a 0.5 MiB limit")


def test_custom_endpoint_never_gets_the_providers_default_key(project, fault, monkeypatch):
    add_alias(project, "nokey", fault.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", REAL_OPENAI)
    from smishctl.config import load_settings
    from smishctl.evaluate import EvalConfig, evaluate

    evaluate(load_settings(project), EvalConfig(model="nokey", limit=2, cache=False))
    assert {q.authorization for q in fault.chat_requests()} == {"Bearer no-key"}
