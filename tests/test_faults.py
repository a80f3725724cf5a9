"""Faulty endpoints: retries that honour Retry-After, per-call timeouts, the run-level error budget,
errors counted apart from invalid outputs, nothing lost or counted twice, and --resume.

Everything runs against the loopback fault server (tests/fault_server.py); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest
from faultutil import expected_label, fake_model_fixture, fault_fixture, only_run, predictions  # noqa: F401

from smishctl.ops.evaluate import EvalConfig, evaluate


def _cfg(**kw) -> EvalConfig:
    base = {"model": "fake", "dataset": "sms-phishing", "limit": 30, "cache": False, "num_retries": 0}
    return EvalConfig(**{**base, **kw})


def _items(settings, n=30):
    from smishctl.data.prepare import load_dataset_splits

    return load_dataset_splits("sms-phishing", settings).split("test")[:n]


def test_quality_is_the_servers_rules_and_every_item_once(fake_model, fault, settings):
    record = evaluate(settings, _cfg(threads=4)).to_dict()
    rows = predictions(settings.runs_dir / record["id"])
    items = _items(settings)
    assert [r["item_id"] for r in sorted(rows, key=lambda r: r["index"])] == [ex.id for ex in items]
    by_id = {ex.id: ex for ex in items}
    for r in rows:
        assert r["status"] == "ok"
        assert r["pred"] == expected_label(by_id[r["item_id"]].text)
    m = record["metrics"]
    correct = sum(expected_label(ex.text) == ex.label for ex in items)
    assert m["n_items"] == 30 and m["n_errors"] == 0 and m["n_invalid"] == 0
    assert m["n_correct"] == correct
    assert len(fault.chat_requests()) == 30  # one call per item: no hidden retries, no cache
    # the custom endpoint got a placeholder key, never a provider variable
    assert {r.authorization for r in fault.chat_requests()} == {"Bearer no-key"}


def test_retry_after_is_honoured(fake_model, fault, settings):
    fault.retry_after = 1.5  # DSPy's own first backoff would be 1 s
    fault.fail_next("429", 2)
    record = evaluate(settings, _cfg(limit=1, num_retries=3)).to_dict()
    assert record["metrics"]["n_errors"] == 0 and record["metrics"]["n_scored"] == 1
    times = [r.t for r in fault.chat_requests()]
    assert [r.fault for r in fault.chat_requests()] == ["429", "429", None]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 1.45 for g in gaps), gaps  # waited what the server asked, each time


def test_backoff_without_retry_after_then_gives_up(fake_model, fault, settings):
    from smishctl.core.errors import SmishError

    fault.retry_after = None
    fault.fail_next("500", 10)
    with pytest.raises(SmishError, match="no item was scored"):  # its one item an error: aborted
        evaluate(settings, _cfg(limit=1, num_retries=2, max_errors=5))
    reqs = fault.chat_requests()
    assert len(reqs) == 3  # first attempt + 2 retries, then the item is an error
    gaps = [b.t - a.t for a, b in itertools.pairwise(reqs)]
    assert gaps[1] > gaps[0] * 1.5, gaps  # exponential
    record = json.loads((only_run(settings.root) / "run.json").read_text())
    assert record["metrics"]["n_errors"] == 1 and record["status"] == "aborted"
    row = predictions(settings.runs_dir / record["id"])[0]
    assert row["status"] == "error" and "500" in row["error"] or "Server" in row["error"]


def test_transient_faults_recover_without_double_counting(fake_model, fault, settings, monkeypatch):
    from dspy.clients import execution

    monkeypatch.setattr(execution, "_delay", lambda exc, attempt: 0.01)  # keep the test fast
    for kind in ("429", "500", "drop", "malformed"):
        fault.fail_next(kind, 2)
    record = evaluate(settings, _cfg(num_retries=3, threads=4)).to_dict()
    rows = predictions(settings.runs_dir / record["id"])
    assert len(rows) == 30 and len({r["item_id"] for r in rows}) == 30
    assert all(r["status"] == "ok" for r in rows)
    assert len(fault.chat_requests()) == 30 + 8
    assert record["metrics"]["n_errors"] == 0


def test_per_call_timeout(fake_model, fault, settings):
    fault.slow_seconds = 3.0
    fault.fail_next("slow", 1)
    record = evaluate(settings, _cfg(limit=2, timeout=0.5)).to_dict()
    rows = sorted(predictions(settings.runs_dir / record["id"]), key=lambda r: r["index"])
    assert rows[0]["status"] == "error" and "timeout" in rows[0]["error"].lower()
    assert rows[1]["status"] == "ok"


def test_errors_and_invalid_outputs_are_counted_apart(fake_model, fault, settings):
    from smishctl.solve.harden import sanitize_sms

    items = [ex for ex in _items(settings) if sanitize_sms(ex.text) == ex.text]
    kinds = {items[0].id: "500", items[1].id: "drop", items[2].id: "malformed", items[3].id: "invalid",
             items[4].id: "invalid"}
    by_id = {ex.id: ex for ex in items}
    for item_id, kind in kinds.items():
        fault.on_keyword(by_id[item_id].text, kind)
    record = evaluate(settings, _cfg(threads=3)).to_dict()
    rows = {r["item_id"]: r for r in predictions(settings.runs_dir / record["id"])}
    assert len(rows) == 30
    status = {i: rows[i]["status"] for i in kinds}
    assert status == {items[0].id: "error", items[1].id: "error", items[2].id: "error",
                      items[3].id: "invalid", items[4].id: "invalid"}
    assert rows[items[3].id]["pred"] is None and "maybe" in rows[items[3].id]["raw"]
    m = record["metrics"]
    assert (m["n_errors"], m["n_invalid"], m["n_scored"]) == (3, 2, 27)
    assert Counter(r["status"] for r in rows.values()) == {"ok": 25, "error": 3, "invalid": 2}


def test_error_budget_in_library_then_resume(fake_model, fault, settings):
    from smishctl.core.errors import SmishError

    fault.on_keyword("", "500")
    with pytest.raises(SmishError) as info:
        evaluate(settings, _cfg(limit=20, max_errors=4))
    assert info.value.exit_code == 3 and "error budget" in str(info.value)
    run = only_run(settings.root)
    assert len(predictions(run)) == 4  # one thread: stops exactly at the budget
    fault.reset()
    record = evaluate(settings, EvalConfig(), resume=run.name).to_dict()
    rows = predictions(run)
    assert sorted(r["index"] for r in rows) == list(range(20)) and all(r["status"] == "ok" for r in rows)
    assert record["metrics"]["n_errors"] == 0 and record["metrics"]["n_items"] == 20


def test_error_budget_stops_with_exit_3_and_resume_completes(cli, project, fake_model, fault):
    fault.on_keyword("", "500")  # every request fails
    r = cli("evaluate", "-m", "fake", "-n", "20", "--retries", "0", "--max-errors", "5", "--no-cache",
            "--threads", "4", "--no-langfuse")
    assert r.returncode == 3, r.stderr
    assert "error budget" in r.stderr and "--resume" in r.stderr and "Traceback" not in r.stderr
    run = only_run(project)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "aborted"
    rows = predictions(run)
    assert 5 <= len(rows) < 20 and all(x["status"] == "error" for x in rows)
    assert record["metrics"]["n_errors"] == len(rows)

    fault.reset()  # the endpoint recovers
    r = cli("evaluate", "--resume", run.name, "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    rows = predictions(run)
    assert len(rows) == 20 and len({x["item_id"] for x in rows}) == 20  # nothing lost, nothing twice
    assert all(x["status"] == "ok" for x in rows)
    assert record["status"] == "complete" and record["metrics"]["n_errors"] == 0
    assert record["metrics"]["n_items"] == 20
    assert len(fault.chat_requests()) == 20  # the failed items were tried again, the rest never twice


def test_fleet_routes_around_a_failing_endpoint(project, fault, monkeypatch):
    """Two endpoints for one model (litellm Router): one fails, the run still completes on the other."""
    from dspy.clients import execution
    from fault_server import FaultServer

    from smishctl.core.config import load_settings

    monkeypatch.setattr(execution, "_delay", lambda exc, attempt: 0.01)
    with FaultServer() as healthy:
        fault.on_keyword("", "500")
        with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[models.alias.fleet]\nrouting_strategy = "simple-shuffle"\ncooldown_time = 60\n'
                     f'deployments = [{{ litellm = "openai/fake", api_base = "{fault.base_url}" }}, '
                     f'{{ litellm = "openai/fake", api_base = "{healthy.base_url}" }}]\n')
        settings = load_settings(project)
        record = evaluate(settings, _cfg(model="fleet", limit=20, num_retries=3, threads=2)).to_dict()
        assert record["metrics"]["n_errors"] == 0 and record["metrics"]["n_scored"] == 20
        assert len(healthy.chat_requests()) == 20  # every answer came from the healthy endpoint
        assert 1 <= len(fault.chat_requests()) <= 4  # the failing one was tried, then cooled down
        assert record["model"]["litellm_model"] == "fleet/fleet" and record["model"]["api_base"].startswith("fleet:")
