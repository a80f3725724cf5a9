"""A run's identity: what it evaluated stays what it says it evaluated (resume, weights, damaged stores)."""

from __future__ import annotations

import json
import shutil

import pytest
from fault_server import FaultServer
from faultutil import fake_model_fixture, fault_fixture, only_run, predictions  # noqa: F401


def _aborted_run(cli, project, fault):
    """A run of alias `fake` stopped by the error budget: resumable."""
    fault.on_keyword("", "500")
    r = cli("evaluate", "-m", "fake", "-n", "10", "--retries", "0", "--max-errors", "3", "--no-cache",
            "--no-langfuse")
    assert r.returncode == 3, r.stderr
    fault.reset()
    return only_run(project)


def test_resume_refuses_when_the_model_now_resolves_elsewhere(cli, project, fake_model, fault):
    run = _aborted_run(cli, project, fault)
    before = json.loads((run / "run.json").read_text())
    with FaultServer() as other:  # the alias now points at another endpoint
        toml = (project / "smishctl.toml").read_text()
        (project / "smishctl.toml").write_text(toml.replace(fault.base_url, other.base_url))
        r = cli("evaluate", "--resume", run.name, "--no-langfuse")
        assert r.returncode == 2, r.stderr
        assert "cannot be resumed: endpoint changed" in r.stderr and "start a new run" in r.stderr
        assert other.chat_requests() == []
    assert json.loads((run / "run.json").read_text()) == before  # nothing written
    (project / "smishctl.toml").write_text(toml)  # back to the run's endpoint: the resume goes through
    r = cli("evaluate", "--resume", run.name, "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "complete" and len(predictions(run)) == 10


def test_resume_writes_only_inside_runs(cli, project, fake_model, fault, tmp_path):
    run = _aborted_run(cli, project, fault)
    outside = tmp_path / "elsewhere" / run.name
    shutil.copytree(run, outside)
    before = (outside / "predictions.jsonl").read_bytes()
    r = cli("evaluate", "--resume", str(outside), "--no-langfuse")
    assert r.returncode == 2 and "outside" in r.stderr and "only runs in the project's store" in r.stderr, r.stderr
    assert (outside / "predictions.jsonl").read_bytes() == before and fault.chat_requests() == []
    r = cli("runs", "show", str(outside), "--json")  # reading a run folder by path stays allowed
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == run.name, r.stderr


def test_one_corrupt_run_does_not_break_the_store(cli, project, fake_model, fault):
    r = cli("evaluate", "-m", "fake", "-n", "4", "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    good = json.loads(r.stdout)["id"]
    bad = project / "runs" / "20990101-000000-broken"
    bad.mkdir()
    (bad / "run.json").write_text('{"id": "20990101-000000-broken", "created_at": ')  # torn by a disk error
    r = cli("runs", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)] == [good]
    assert "skipping run 20990101-000000-broken" in r.stderr
    r = cli("runs", "show", "latest", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == good, r.stderr
    r = cli("evaluate", "-m", "fake", "-n", "4", "--json", "--no-langfuse")  # reuse scans the store
    assert r.returncode == 0, r.stderr


def test_two_gguf_files_with_one_name_get_distinct_identities(settings, tmp_path):
    from smishctl.models.registry import resolve_model

    paths = []
    for folder, body in (("a", b"GGUF" + b"\x01" * 3_000_000), ("b", b"GGUF" + b"\x02" * 3_000_000),
                         ("c", b"GGUF" + b"\x01" * 3_000_000)):
        p = tmp_path / folder / "model-q4.gguf"
        p.parent.mkdir()
        p.write_bytes(body)
        paths.append(p)
    a, b, c = (resolve_model(str(p), settings) for p in paths)
    assert a.litellm_model == b.litellm_model == "local/model-q4"  # the same name …
    assert a.endpoint_tag != b.endpoint_tag  # … but not the same cache entries or run identity
    assert a.endpoint_tag == c.endpoint_tag  # identical bytes elsewhere: the same model
    assert a.public()["weights_fingerprint"] != b.public()["weights_fingerprint"]
    tail = tmp_path / "d" / "model-q4.gguf"  # differs only after the first MiB
    tail.parent.mkdir()
    tail.write_bytes(b"GGUF" + b"\x01" * 2_999_999 + b"\x03")
    assert resolve_model(str(tail), settings).endpoint_tag != a.endpoint_tag


def test_a_runs_identity_is_known_without_building_its_model(settings, monkeypatch):
    """Finding a reusable run (compare, promote, must-pass) needs the config hash only: no LM client and
    no classic model is built for it. The builders are replaced by tripwires after a real evaluation."""
    import smishctl.ops.evaluate as ev
    from smishctl.ops.run_source import RunSource

    cfg = ev.EvalConfig(model="classic/tfidf-svm", limit=12)
    first = ev.evaluate(settings, cfg)
    assert first.status == "complete"

    def tripwire(*_a, **_k):
        raise AssertionError("a solver was built")

    monkeypatch.setattr(ev, "build_classic_solver", tripwire)
    monkeypatch.setattr(ev, "build_lm", tripwire)
    plan = ev.prepare(settings, cfg)
    assert plan.record.config_hash == first.config_hash
    got = RunSource(settings).obtain(cfg)
    assert got.reused and got.record is not None and got.record.id == first.id
    # An LLM configuration too: its identity (and so the search for a run) needs no LM.
    llm = ev.prepare(settings, ev.EvalConfig(limit=12))
    assert llm.record.identity["model"].startswith("local/") and len(llm.record.config_hash) == 16
    with pytest.raises(AssertionError, match="a solver was built"):
        llm.solver  # noqa: B018 - only using the solver builds it
