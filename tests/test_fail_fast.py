"""Runs that cannot score anything stop at once and are never `complete`.

A refused key (401), a forbidden model (403) or a model that does not exist (404, or 400 with a not-found
code) fails every call alike: one call, one line with the provider's message, exit 2, the run left aborted
(resumable). So does an endpoint no connection ever reached, and a provider SDK that will not send (no key).
Otherwise the error budget is also a rate (the first 20 calls all failing), and a run whose every item is an
error is aborted, not complete.

Everything runs against the loopback fault server (tests/fault_server.py) or a dead loopback port.
"""

from __future__ import annotations

import json
import time

import pytest
from faultutil import add_alias, fake_model_fixture, fault_fixture, only_run, predictions  # noqa: F401

from smishctl.core.errors import ModelError, SmishError
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.store.runs import short_ref

DEAD = "http://127.0.0.1:9/v1"  # nothing listens on port 9: the connection is refused at once


def _cfg(**kw) -> EvalConfig:
    base = {"model": "fake", "dataset": "sms-phishing", "limit": 30, "cache": False}
    return EvalConfig(**{**base, **kw})


def _status(project) -> str:
    return json.loads((only_run(project) / "run.json").read_text())["status"]


def test_refused_key_is_one_call_one_line_exit_2_then_resume(cli, project, fake_model, fault):
    fault.on_keyword("", "401")
    started = time.monotonic()
    r = cli("evaluate", "-m", "fake", "-n", "30", "--no-langfuse")
    assert r.returncode == 2, r.stderr
    assert time.monotonic() - started < 60  # the CLI's start-up included; no retry, no 30 items of backoff
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "fault-server 401: Incorrect API key provided" in errors[0]
    assert "Traceback" not in r.stderr and "written to" not in r.stdout + r.stderr
    assert len(fault.chat_requests()) == 1  # exactly one call: no retries, no second item
    run = only_run(project)
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "aborted" and record["wall_seconds"] < 10
    # the hint names the run by its short reference (an 80-column terminal never cuts it mid-word)
    assert errors[0].endswith(f"--resume {short_ref(project / 'runs', run.name)}") and run.name not in errors[0]

    fault.reset()  # the key is fixed
    r = cli("evaluate", "--resume", run.name, "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "complete" and len(predictions(run)) == 30


@pytest.mark.parametrize("kind,words", [("403", "credentials refused: fault-server 403"),
                                        ("404", "model not found: fault-server 404"),
                                        ("400-model", "model not found: fault-server 400")])
def test_forbidden_or_missing_model_stops_after_one_call(fake_model, fault, settings, project, kind, words):
    fault.on_keyword("", kind)
    with pytest.raises(ModelError) as info:
        evaluate(settings, _cfg())  # default retries: none is spent on these
    assert words in str(info.value) and info.value.exit_code == 2
    assert len(fault.chat_requests()) == 1
    assert _status(project) == "aborted"


def test_dead_endpoint_ends_quickly_with_a_clear_line(project):
    add_alias(project, "dead", DEAD)
    from smishctl.core.config import load_settings

    started = time.monotonic()
    with pytest.raises(ModelError) as info:
        evaluate(load_settings(project), _cfg(model="dead"))  # default retries (3), backoff 1+2+4 s, once
    assert time.monotonic() - started < 30
    assert f"cannot connect to {DEAD}" in str(info.value) and "Connection refused" in str(info.value)
    assert _status(project) == "aborted"
    assert predictions(only_run(project)) == []  # nothing recorded: a resume tries every item


def test_missing_key_fails_before_any_network_call(project, settings, monkeypatch):
    """openai/gpt-4o-mini without a key: the provider SDK refuses to send. Should anything try to reach
    the network anyway, it reaches a dead loopback port (and the error says so), never api.openai.com."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", DEAD)
    monkeypatch.setenv("OPENAI_API_BASE", DEAD)
    with pytest.raises(ModelError) as info:
        evaluate(settings, _cfg(model="openai/gpt-4o-mini", limit=2))
    assert "cannot call the model" in str(info.value) and "OPENAI_API_KEY" in str(info.value)
    assert _status(project) == "aborted"


def test_unknown_provider_fails_before_a_run_is_written(project, settings):
    with pytest.raises(ModelError, match="litellm knows no provider for 'nosuchprovider/model'"):
        evaluate(settings, _cfg(model="nosuchprovider/model"))
    assert not (project / "runs").exists() or not any((project / "runs").iterdir())


def test_first_twenty_calls_all_failing_stop_the_run(fake_model, fault, settings, project):
    fault.on_keyword("", "500")
    with pytest.raises(SmishError) as info:
        evaluate(settings, _cfg(limit=40, num_retries=0, max_errors=50))  # 50 errors would take 50 calls
    assert info.value.exit_code == 3 and "the first 20 calls all failed" in str(info.value)
    assert len(fault.chat_requests()) == 20
    assert _status(project) == "aborted" and len(predictions(only_run(project))) == 20


def test_a_run_that_scored_nothing_is_not_complete(fake_model, fault, settings, project):
    fault.on_keyword("", "500")
    with pytest.raises(SmishError) as info:
        evaluate(settings, _cfg(limit=3, num_retries=0))  # under both budgets, yet nothing scored
    assert info.value.exit_code == 3 and "no item was scored" in str(info.value)
    assert "internal error" in str(info.value)  # what failed
    assert _status(project) == "aborted"


def test_a_server_error_stays_an_item_error(fake_model, fault, settings, project):
    """A 500 is one item's trouble (first call or not): the run goes on and completes."""
    fault.fail_next("500", 1)
    record = evaluate(settings, _cfg(limit=4, num_retries=0)).to_dict()
    assert record["status"] == "complete" and record["metrics"]["n_errors"] == 1
