"""Langfuse end to end: the real SDK against tests/langfuse_server.py on loopback.

Real runs come from the embedded model (one module-scoped project, evaluated once through the
library and once through the CLI); failure modes use small synthetic runs so they stay fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from langfuse_server import PROJECT_ID, PUBLIC_KEY, SECRET_KEY, LangfuseServer, SilentServer, refused_port

from conftest import make_project, run_cli

FAKE_PROVIDER_KEY = "sk-provider-abcdefghijklmnop123456"


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_run(tmp_path_factory):  # runs the embedded model: only tests marked `model` may use it
    """One real 4-item evaluation (embedded model) through the CLI while Langfuse is unreachable."""
    root = make_project(tmp_path_factory.mktemp("lf") / "proj")
    env = {"SMISHCTL_HOME": str(root), "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY,
           "LANGFUSE_TIMEOUT": "2", "LANGFUSE_BASE_URL": f"http://127.0.0.1:{refused_port()}",
           "OPENAI_API_KEY": FAKE_PROVIDER_KEY}
    res = run_cli("evaluate", "--limit", "4", "--balanced", "--json", cwd=root, env=env)
    return root, env, res


@pytest.fixture()
def server():
    srv = LangfuseServer().start()
    yield srv
    srv.stop()


@pytest.fixture()
def lf_env(monkeypatch):
    """Point the library at a Langfuse URL (keys of the test server); returns a setter."""
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_PROVIDER_KEY)

    def point(url: str, timeout: float = 5) -> None:
        monkeypatch.setenv("LANGFUSE_BASE_URL", url)
        monkeypatch.setenv("LANGFUSE_TIMEOUT", str(timeout))

    return point


def synthetic_run(root: Path, run_id: str = "20261126-100000-synthetic-zero-shot-0001") -> tuple:
    """A finished run with one correct, one wrong, one invalid and one errored item."""
    from factories import write_run

    from smishctl.core.config import load_settings
    from smishctl.core.records import Prediction
    from smishctl.store.runs import Run

    if not (root / "smishctl.toml").exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / "smishctl.toml").write_text("")
    rows = [
        {"item_id": "a000000000000001", "gold": "ham", "pred": "ham", "status": "ok", "error": None, "raw": None,
         "latency_ms": 250.0, "usage": {"prompt_tokens": 350, "completion_tokens": 11, "cached_tokens": 269},
         "cache_hit": False, "cost_usd": 0.00004, "text": "See you at 6, mum"},
        {"item_id": "a000000000000002", "gold": "spam", "pred": "smishing", "status": "ok", "error": None,
         "raw": None, "latency_ms": 1300.0, "usage": {"prompt_tokens": 360, "completion_tokens": 11,
                                                      "cached_tokens": 0},
         "cache_hit": False, "cost_usd": 0.00012, "text": "WIN a free cruise! Txt CRUISE to 80000"},
        {"item_id": "a000000000000003", "gold": "smishing", "pred": None, "status": "invalid", "error": None,
         "raw": "phishy", "latency_ms": 900.0, "usage": {"prompt_tokens": 355, "completion_tokens": 5,
                                                         "cached_tokens": 100},
         "cache_hit": False, "cost_usd": 0.00009, "text": "Your bank account is locked, verify at http://x.co"},
        {"item_id": "a000000000000004", "gold": "smishing", "pred": None, "status": "error",
         "error": f"AuthenticationError: bad key {FAKE_PROVIDER_KEY}", "raw": None, "latency_ms": 30.0,
         "usage": {}, "cache_hit": False, "cost_usd": 0.0, "text": "Parcel held: pay 1.99 at http://y.co"},
    ]
    write_run(root / "runs", run_id, [Prediction.from_dict({**row, "index": k}) for k, row in enumerate(rows)],
              model="local/qwen2.5-coder-0.5b", created_at="2026-11-26T10:00:00+0000")
    run = Run(root / "runs" / run_id)
    return load_settings(root), run, rows


def _bodies(server) -> bytes:
    return b"\n".join(server.bodies)


def _no_secrets(server):
    raw = _bodies(server)
    assert SECRET_KEY.encode() not in raw
    assert FAKE_PROVIDER_KEY.encode() not in raw


def _item_spans(server, trace_id):
    spans = {s["name"]: s for s in server.traces()[trace_id]}
    return spans["experiment-item-run"], spans["classify"]


# -- a real evaluation: recorded while Langfuse is down, pushed later, checked on arrival ------------
def _assert_experiment(server, settings, run, status):
    """Everything the issue asks Langfuse to hold for a run, checked against what arrived."""
    from smishctl.tracking import experiment_link
    from smishctl.tracking.push import dataset_item_id, item_trace_id

    run_id = run.id
    record, rows = run.read(), run.predictions()
    assert status["status"] == "pushed", status
    assert server.unknown == [] and server.auth_failures == 0
    headers = server.trace_headers[0]
    assert headers["content-encoding"] == "gzip" and headers["authorization"].startswith("Basic ")
    assert headers["content-type"] == "application/x-protobuf"
    # the dataset split, with stable item ids derived from our item ids
    ds = server.datasets["sms-phishing-test"]
    assert ds["metadata"]["split_hash"] == record["dataset"]["split_hash"]
    items = {i["id"]: i for i in server.items.values()}
    assert set(items) == {dataset_item_id(record, r["item_id"]) for r in rows}
    for r in rows:
        item = items[dataset_item_id(record, r["item_id"])]
        assert item["input"] == {"sms": r["text"]} and item["expectedOutput"] == {"label": r["gold"]}
    # one trace per item, linked to its dataset item and to the experiment named after the run
    assert len(server.traces()) == len(rows) == 4
    for r in rows:
        root_span, gen = _item_spans(server, item_trace_id(run_id, r["item_id"]))
        a = root_span["attributes"]
        assert root_span["parent_span_id"] is None and gen["parent_span_id"] == root_span["span_id"]
        assert a["langfuse.experiment.id"] == status["experiment_id"]
        assert a["langfuse.experiment.name"] == run_id
        assert a["langfuse.experiment.dataset.id"] == ds["id"]
        assert a["langfuse.experiment.item.id"] == dataset_item_id(record, r["item_id"])
        assert a["langfuse.experiment.item.root_observation_id"] == root_span["span_id"]
        assert json.loads(a["langfuse.experiment.item.expected_output"]) == {"label": r["gold"]}
        meta = json.loads(a["langfuse.experiment.metadata"])
        assert meta["artifact_id"] == "zero-shot" and meta["model"] == record["model"]["name"]
        assert meta["dataset_hash"] == record["dataset"]["items_hash"] and meta["smishctl_version"]
        assert a["langfuse.environment"] == "sdk-experiment"
        # the generation: model, the messages sent, output, usage (incl. cached), cost, latency
        g = gen["attributes"]
        assert g["langfuse.observation.type"] == "generation"
        assert g["langfuse.observation.model.name"] == record["model"]["litellm_model"]
        messages = json.loads(g["langfuse.observation.input"])
        assert [m["role"] for m in messages] == ["system", "user"]
        assert r["text"] in messages[1]["content"] and "{{sms}}" not in messages[1]["content"]
        u = r["usage"]
        assert json.loads(g["langfuse.observation.usage_details"]) == {
            "input": u["prompt_tokens"] - u["cached_tokens"], "input_cached_tokens": u["cached_tokens"],
            "output": u["completion_tokens"], "total": u["prompt_tokens"] + u["completion_tokens"]}
        assert json.loads(g["langfuse.observation.cost_details"]) == {"total": pytest.approx(r["cost_usd"])}
        assert (gen["end_ns"] - gen["start_ns"]) / 1e6 == pytest.approx(r["latency_ms"], abs=0.01)
        if r["status"] == "ok":
            assert json.loads(g["langfuse.observation.output"]) == {"label": r["pred"]}
    # item scores and run-level scores
    by = {}
    for sc in server.scores.values():
        by.setdefault((sc.get("traceId") or sc.get("datasetRunId"), sc["name"]), sc)
    for r in rows:
        tid = item_trace_id(run_id, r["item_id"])
        assert by[(tid, "predicted")]["value"] == (r["pred"] or "<invalid>")
        assert by[(tid, "predicted")]["dataType"] == "CATEGORICAL"
        assert by[(tid, "correct")]["value"] == float(r["pred"] == r["gold"])
        assert by[(tid, "error")]["value"] == 0.0
    m = record["metrics"]
    exp = status["experiment_id"]
    assert by[(exp, "accuracy")]["value"] == pytest.approx(m["accuracy"])
    assert by[(exp, "macro_f1")]["value"] == pytest.approx(m["macro_f1"])
    assert by[(exp, "error_rate")]["value"] == pytest.approx(m["error_rate"])
    for label, pc in m["per_class"].items():
        assert by[(exp, f"f1_{label}")]["value"] == pytest.approx(pc["f1"])
    # run.json records the link; the local predictions are untouched; no secret was sent
    stored = run.read()["langfuse"]
    assert stored["status"] == "pushed" and exp in stored["url"] and PROJECT_ID in stored["url"]
    assert experiment_link(run.read()) == stored["url"]
    assert SECRET_KEY not in run.record_path.read_text()
    _no_secrets(server)



@pytest.mark.model
def test_evaluate_while_langfuse_is_down_then_push(real_run):
    from smishctl.core.config import load_settings
    from smishctl.store.runs import open_run, short_ref

    root, env, res = real_run
    # the evaluation succeeded, with one warning line, and the run is marked pending
    assert res.returncode == 0, res.stderr
    record = json.loads(res.stdout)
    assert record["status"] == "complete" and record["langfuse"]["status"] == "pending"
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"smishctl push {record['id']}" in warnings[0]
    settings = load_settings(root)
    run = open_run(settings.runs_dir, record["id"])
    assert run.read()["langfuse"]["status"] == "pending" and run.read()["status"] == "complete"
    rows = run.predictions()
    assert len(rows) == 4
    before = run.predictions_path.read_bytes()

    srv = LangfuseServer().start()
    try:
        up = {**env, "LANGFUSE_BASE_URL": srv.url}
        out = run_cli("push", cwd=root, env=up)  # every pending run
        assert out.returncode == 0, out.stderr
        assert f"run {short_ref(settings.runs_dir, run.id)}: pushed" in out.stderr
        status = run.read()["langfuse"]
        _assert_experiment(srv, settings, run, status)
        assert run.predictions_path.read_bytes() == before

        # a re-push updates the same objects: nothing is duplicated, no item is re-posted
        n = (len(srv.spans), len(srv.scores), len(srv.items), srv.item_posts)
        out = run_cli("push", run.id, "--json", cwd=root, env=up)
        assert out.returncode == 0, out.stderr
        again = json.loads(out.stdout)[0]
        assert again["status"] == "pushed" and again["experiment_id"] == status["experiment_id"]
        assert (len(srv.spans), len(srv.scores), len(srv.items), srv.item_posts) == n
        assert len(srv.span_posts) == 2 * n[0]  # sent twice, with the same ids
        assert len(srv.datasets) == 1
        assert run_cli("push", cwd=root, env=up).stdout.strip() == "nothing to push (no pending runs)"

        # --no-langfuse: nothing is sent (same items: answered from the DSPy cache)
        out = run_cli("evaluate", "--limit", "4", "--balanced", "--no-langfuse", "--json", cwd=root, env=up)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["langfuse"] == {"status": "disabled", "reason": "--no-langfuse"}
        assert len(srv.traces()) == 4
    finally:
        srv.stop()


def test_push_without_configuration_is_a_clear_error(tmp_path):
    res = run_cli("push", cwd=tmp_path, env={"SMISHCTL_HOME": str(tmp_path)})
    assert res.returncode == 2
    assert "Langfuse is not configured" in res.stderr and "Traceback" not in res.stderr


# -- synthetic runs: errors, secrets, failures -----------------------------------------------------
def test_errored_and_invalid_items_are_recorded_and_scored(tmp_path, server, lf_env):
    from smishctl.tracking import push_run
    from smishctl.tracking.push import item_trace_id

    settings, run, _ = synthetic_run(tmp_path / "p")
    lf_env(server.url)
    status = push_run(settings, run)
    assert status.status == "pushed", status
    assert len(server.traces()) == 4 and len(server.items) == 4
    err = item_trace_id(run.id, "a000000000000004")
    root_span, gen = _item_spans(server, err)
    assert root_span["attributes"]["langfuse.observation.level"] == "ERROR"
    assert "AuthenticationError" in gen["attributes"]["langfuse.observation.status_message"]
    scores = {(s["traceId"], s["name"]): s for s in server.scores.values() if s.get("traceId")}
    assert scores[(err, "error")]["value"] == 1.0 and scores[(err, "predicted")]["value"] == "<error>"
    assert scores[(err, "correct")]["value"] == 0.0  # an error is a wrong answer, as in the local metrics
    inv = item_trace_id(run.id, "a000000000000003")
    assert scores[(inv, "predicted")]["value"] == "<invalid>" and scores[(inv, "correct")]["value"] == 0.0
    run_level = {s["name"]: s["value"] for s in server.scores.values() if s.get("datasetRunId")}
    assert run_level["error_rate"] == pytest.approx(0.25)
    assert run_level["accuracy"] == pytest.approx(1 / 4)  # the errored item counts as wrong
    # the provider key echoed in the error never reaches Langfuse
    _no_secrets(server)
    assert b"[redacted]" in _bodies(server) or b"***" in _bodies(server)


@pytest.mark.parametrize("kind", ["refused", "silent", "rejecting"])
def test_unreachable_langfuse_leaves_run_pending_then_push_succeeds(tmp_path, lf_env, kind):
    from smishctl.tracking import pending_runs, push_run, track_run

    settings, run, _ = synthetic_run(tmp_path / "p")
    before = run.predictions_path.read_bytes()
    silent = bad = None
    if kind == "refused":
        lf_env(f"http://127.0.0.1:{refused_port()}", timeout=1)
    elif kind == "silent":
        silent = SilentServer()
        lf_env(silent.url, timeout=1)
    else:  # answers, but refuses the traces
        bad = LangfuseServer().start()
        bad.fail_next["/api/public/otel"] = 100
        lf_env(bad.url, timeout=1)
    t0 = time.monotonic()
    status = track_run(settings, run.id)
    elapsed = time.monotonic() - t0
    assert status.status == "pending" and status.error, status
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert run.read()["langfuse"]["status"] == "pending" and run.read()["status"] == "complete"
    assert run.predictions_path.read_bytes() == before
    assert [r.id for r in pending_runs(settings)] == [run.id]
    for s in (silent, bad):
        if s:
            s.stop()

    srv = LangfuseServer().start()
    try:
        lf_env(srv.url)
        assert push_run(settings, run).status == "pushed"
        assert pending_runs(settings) == []
        spans, scores = len(srv.spans), len(srv.scores)
        assert push_run(settings, run).status == "pushed"
        assert (len(srv.spans), len(srv.scores), len(srv.items)) == (spans, scores, 4)
    finally:
        srv.stop()


def test_scores_rejected_in_part_leave_the_run_pending(tmp_path, server, lf_env):
    """Langfuse answers a score batch with 207 and a count of rejected scores: the run is not pushed."""
    from smishctl.tracking import pending_runs, push_run, track_run

    settings, run, _ = synthetic_run(tmp_path / "p")
    lf_env(server.url)
    server.reject_scores = {"predicted"}
    status = track_run(settings, run.id)
    assert status.status == "pending", status
    assert status.error and "rejected 4 of" in status.error and "'predicted' refused" in status.error
    assert run.read()["langfuse"]["status"] == "pending" and [r.id for r in pending_runs(settings)] == [run.id]
    assert server.scores and not any(sc["name"] == "predicted" for sc in server.scores.values())
    server.reject_scores = set()  # Langfuse takes them now: the push completes
    assert push_run(settings, run).status == "pushed" and pending_runs(settings) == []
    assert sum(sc["name"] == "predicted" for sc in server.scores.values()) == 4


def test_wrong_keys_leave_run_pending(tmp_path, server, lf_env, monkeypatch):
    from smishctl.tracking import push_run

    settings, run, _ = synthetic_run(tmp_path / "p")
    lf_env(server.url)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-wrong-0000000000")
    status = push_run(settings, run)
    assert status.status == "pending" and status.error and "401" in status.error
    assert "sk-lf-wrong" not in json.dumps(run.read())


def test_not_configured_or_switched_off_marks_disabled(tmp_path, monkeypatch):
    from smishctl.tracking import langfuse_settings, pending_runs, track_run

    settings, run, _ = synthetic_run(tmp_path / "p")
    assert track_run(settings, run).status == "disabled"
    assert pending_runs(settings) == [] and [r.id for r in pending_runs(settings, include_unpushed=True)] == [run.id]
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET_KEY)
    assert langfuse_settings(settings).base_url == "https://cloud.langfuse.com"
    assert track_run(settings, run, enabled=False).to_dict() == {"status": "disabled", "reason": "--no-langfuse"}
    monkeypatch.setenv("SMISHCTL_LANGFUSE", "off")
    assert langfuse_settings(settings) is None


def test_settings_from_project_config(tmp_path, monkeypatch):
    from smishctl.core.config import load_settings
    from smishctl.tracking import langfuse_settings

    (tmp_path / "smishctl.toml").write_text(
        '[langfuse]\nbase_url = "http://localhost:3000/"\npublic_key = "pk-lf-1"\nsecret_key = "sk-lf-1"\n'
        'timeout = 2\npush_timeout = 7\nprompt_name = "my-prompt"\n')
    lf = langfuse_settings(load_settings(tmp_path))
    assert (lf.base_url, lf.public_key, lf.timeout, lf.push_timeout, lf.prompt_name) == \
        ("http://localhost:3000", "pk-lf-1", 2.0, 7.0, "my-prompt")
    assert "sk-lf-1" not in repr(lf)
    monkeypatch.setenv("LANGFUSE_HOST", "http://lf.example:3000")
    assert langfuse_settings(load_settings(tmp_path)).base_url == "http://lf.example:3000"
    (tmp_path / "smishctl.toml").write_text('[langfuse]\nenabled = false\npublic_key = "a"\nsecret_key = "b"\n')
    assert langfuse_settings(load_settings(tmp_path)) is None


# -- prompts (promote) --------------------------------------------------------------------------
def _artifact(root: Path, version: str, instructions: str, model: str = "local/qwen2.5-coder-0.5b"):
    """A real artifact (tests/factories.py); versions are numbered in the order they are made."""
    from factories import make_artifact

    from smishctl.core.config import load_settings

    art = make_artifact(load_settings(root), instructions=instructions, model=model)
    assert art.id.endswith(version)
    return art


def test_promote_publishes_prompt_versions_and_moves_production_label(tmp_path, server, lf_env):
    from smishctl.core.config import load_settings
    from smishctl.tracking import publish_prompt, rollback_prompt

    (tmp_path / "smishctl.toml").write_text("")
    settings = load_settings(tmp_path)
    lf_env(server.url)
    a1 = _artifact(tmp_path, "v0001", "Classify the SMS (first).")
    a2 = _artifact(tmp_path, "v0002", "Classify the SMS (second).")

    first = publish_prompt(settings, a1)
    assert first["status"] == "pushed" and first["version"] == 1 and first["created"], first
    versions = server.prompts["smishctl-sms-classifier"]
    v1 = versions[0]
    stored = json.loads((a1.dir / "prompt.json").read_text())["messages"]
    assert v1["type"] == "chat" and v1["prompt"] == [{"role": m["role"], "content": m["content"]} for m in stored]
    assert "{{sms}}" in v1["prompt"][1]["content"] and "Classify the SMS (first)." in v1["prompt"][0]["content"]
    assert v1["config"]["artifact_id"] == a1.id and v1["config"]["model"] == "local/qwen2.5-coder-0.5b"
    assert "production" in v1["labels"]

    second = publish_prompt(settings, a2.id)
    assert second["version"] == 2 and second["created"]
    assert "production" in versions[1]["labels"] and "production" not in versions[0]["labels"]

    back = rollback_prompt(settings, a1)
    assert back["status"] == "pushed" and back["version"] == 1 and not back["created"]
    assert len(versions) == 2  # moved back, no new version
    assert "production" in versions[0]["labels"] and "production" not in versions[1]["labels"]
    assert publish_prompt(settings, a1)["version"] == 1 and len(versions) == 2  # idempotent
    assert ("PATCH", "/api/public/v2/prompts/smishctl-sms-classifier/versions/1") in server.requests
    assert server.unknown == []
    _no_secrets(server)


def test_promote_with_langfuse_down_is_pending_not_an_error(tmp_path, lf_env):
    from smishctl.core.config import load_settings
    from smishctl.tracking import publish_prompt

    (tmp_path / "smishctl.toml").write_text("")
    lf_env(f"http://127.0.0.1:{refused_port()}", timeout=1)
    out = publish_prompt(load_settings(tmp_path), _artifact(tmp_path, "v0001", "x"))
    assert out["status"] == "pending" and "refused" in out["error"].lower()


# -- optimization trials ------------------------------------------------------------------------
def test_optimization_trials_are_traced(tmp_path, server, lf_env):
    from smishctl.core.config import load_settings
    from smishctl.tracking import start_optimization

    (tmp_path / "smishctl.toml").write_text("")
    settings = load_settings(tmp_path)
    lf_env(server.url)
    tracker = start_optimization(settings, "opt-20261126-1", metadata={"optimizer": "random-search"})
    ids = [tracker.trace_trial(trial=i, score=0.3 + i / 10, candidate={"instructions": f"try {i}", "n_demos": i},
                               metrics={"accuracy": 0.5}, duration_s=1.5,
                               usage={"prompt_tokens": 1000, "completion_tokens": 40, "cached_tokens": 600},
                               cost_usd=0.001, model="local/qwen2.5-coder-0.5b") for i in range(3)]
    info = tracker.finish()
    assert info["status"] == "pushed", info
    assert info["trace_ids"] == ids and info["session_id"] == "opt-20261126-1"
    assert info["url"].endswith("/sessions/opt-20261126-1")
    traces = server.traces()
    assert set(traces) == set(ids)
    for i, tid in enumerate(ids):
        root_span = next(s for s in traces[tid] if s["name"] == "optimize-trial")
        assert root_span["attributes"]["session.id"] == "opt-20261126-1"
        assert json.loads(root_span["attributes"]["langfuse.observation.input"])["instructions"] == f"try {i}"
        gen = next(s for s in traces[tid] if s["name"] == "candidate-evaluation")
        assert json.loads(gen["attributes"]["langfuse.observation.usage_details"])["input_cached_tokens"] == 600
    trial_scores = sorted(s["value"] for s in server.scores.values() if s["name"] == "trial_score")
    assert trial_scores == pytest.approx([0.3, 0.4, 0.5])
    assert tracker.finish()["status"] == "pushed" and len(server.spans) == 6  # re-finish: same ids

    off = start_optimization(settings, "opt-2", enabled=False)
    assert off.trace_trial(trial=0, score=1.0) is None
    assert off.finish()["status"] == "disabled"


def test_no_langfuse_import_on_help_path():
    res = run_cli("push", "--help", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert res.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if "|" in line]
    assert "typer" in imported and not [m for m in imported if m.startswith(("langfuse", "opentelemetry"))]


def test_cli_promote_and_rollback_move_the_langfuse_production_label(settings, project, server):
    """The real promote command (synthetic evaluations of real artifacts, as in test_promote.py)."""
    from factories import accept_small_promotions, make_artifact, promotion_run

    accept_small_promotions(settings)
    good = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    ok = make_artifact(settings, instructions="Decide: ham, spam or smishing?")
    for art, run_id, wrong in ((good, "run-good", {1, 2}), (ok, "run-ok", {1, 2, 3, 4})):
        promotion_run(settings, art, wrong, run_id=run_id)
    env = {"SMISHCTL_HOME": str(project), **server.env()}

    def cli(*args):
        res = run_cli(*args, cwd=project, env=env)
        assert res.returncode == 0, res.stderr
        return res

    assert "labelled production" in cli("promote", good.id, "--reason", "test").stderr
    versions = server.prompts["smishctl-sms-classifier"]
    assert len(versions) == 1 and "production" in versions[0]["labels"]
    assert versions[0]["config"]["artifact_id"] == good.id and versions[0]["type"] == "chat"
    assert any("{{sms}}" in m["content"] for m in versions[0]["prompt"])
    cli("promote", ok.id, "--reason", "shorter prompt")
    assert len(versions) == 2 and "production" in versions[1]["labels"] and "production" not in versions[0]["labels"]
    res = json.loads(cli("promote", "--rollback", "--json").stdout)
    assert res["langfuse"]["status"] == "pushed" and res["langfuse"]["version"] == 1
    assert len(versions) == 2 and "production" in versions[0]["labels"] and "production" not in versions[1]["labels"]
    out = json.loads(cli("push", "--production", "--json").stdout)
    assert out[0]["status"] == "pushed" and out[0]["version"] == 1 and len(versions) == 2
    assert server.unknown == []


@pytest.mark.model
def test_real_optimize_traces_trials_and_records_ids_in_manifest(settings, server, lf_env):
    from smishctl.ops.optimize import OptimizeConfig, optimize
    from smishctl.store.artifacts import resolve_artifact

    lf_env(server.url)
    s = optimize(settings, OptimizeConfig(optimizer="labeled", train_size=6, dev_size=3, params={"k": "2"})).to_dict()
    lf = resolve_artifact(settings.prompts_dir, s["artifact"]).manifest["langfuse"]
    assert lf["status"] == "pushed" and len(lf["trace_ids"]) == 2  # zero-shot baseline and the result
    assert set(server.traces()) == set(lf["trace_ids"])
    scores = sorted(x["value"] for x in server.scores.values() if x["name"] == "trial_score")
    dev = s["dev_metrics"]
    assert scores == pytest.approx(sorted([dev["baseline"]["accuracy"], dev["optimized"]["accuracy"]]))


def test_compare_prints_experiment_links_of_pushed_runs(tmp_path, server, lf_env):
    from smishctl.tracking import push_run

    lf_env(server.url)
    root = tmp_path / "cmp"
    settings, run_a, _ = synthetic_run(root)
    _, run_b, _ = synthetic_run(root, "20261126-100001-synthetic-zero-shot-0002")
    status = push_run(settings, run_a)
    assert status.status == "pushed" and status.url
    res = run_cli("compare", run_a.id, run_b.id, "--no-langfuse", "--max-error-rate", "0.5", cwd=root,
                  env={"SMISHCTL_HOME": str(root), "LANGFUSE_BASE_URL": server.url})
    assert res.returncode == 0, res.stderr
    assert "Langfuse: " in res.stderr and status.url in res.stderr
    # run_b was never sent: with --no-langfuse compare marks it disabled instead of pushing it.
    assert json.loads((run_b.dir / "run.json").read_text())["langfuse"]["status"] == "disabled"
