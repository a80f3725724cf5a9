"""`evaluate` end to end with the real embedded model (a handful of messages each)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from smishctl.ops.evaluate import EvalConfig, evaluate, execute, prepare
from smishctl.store.runs import open_run
from smishctl.util.fs import file_lock

pytestmark = pytest.mark.model


def test_evaluate_records_every_prediction_and_metrics(settings):
    rec = evaluate(settings, EvalConfig(limit=4, balanced=True))  # the typed record, as run.json holds it
    assert rec.to_dict() == open_run(settings.runs_dir, rec.id).read()
    run = open_run(settings.runs_dir, rec.id)
    rows = run.predictions()
    assert rec.status == "complete" and len(rows) == 4
    assert {r["status"] for r in rows} <= {"ok", "invalid", "error"}
    assert all(r["status"] == "ok" and r["pred"] in ("ham", "spam", "smishing") for r in rows)
    m = rec.metrics
    assert m["n_items"] == 4 and m["n_errors"] == 0
    assert 0.0 <= m["macro_f1"] <= 1.0 and set(m["per_class"]) == {"ham", "spam", "smishing"}
    assert sum(map(sum, m["confusion"]["matrix"])) == 4
    assert m["tokens"]["prompt"] > 100 and m["tokens"]["completion"] > 0
    assert m["latency_ms"]["p95"] >= m["latency_ms"]["p50"] > 0
    assert m["cost_usd"] > 0  # local compute time at the configured hourly rate
    assert rec.split_hash and rec.items_hash
    assert rec.versions["dspy"] == "3.4.1" and rec.model["litellm_model"] == "local/qwen2.5-coder-0.5b"

    # The same configuration again is answered from DSPy's cache, with the same predictions.
    again = evaluate(settings, EvalConfig(limit=4, balanced=True))
    assert again.config_hash == rec.config_hash
    assert again.metrics["cache_hits"] == 4 and again.metrics["cost_usd"] == 0
    preds = [r["pred"] for r in open_run(settings.runs_dir, again.id).predictions()]
    assert preds == [r["pred"] for r in rows]


def test_cli_evaluate_json_and_summary(cli):
    r = cli("evaluate", "--limit", "2", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "complete" and doc["metrics"]["n_items"] == 2
    r = cli("evaluate", "--limit", "2", "--full")  # the confusion matrix is printed with --full only
    assert r.returncode == 0 and "macro-F1" in r.stdout and "confusion" in r.stdout


def test_ctrl_c_keeps_predictions_and_resume_finishes(project):
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    proc = subprocess.Popen([sys.executable, "-m", "smishctl", "evaluate", "--limit", "6", "--no-cache"],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        pred_file = None
        while time.time() < deadline:
            found = list((project / "runs").glob("*/predictions.jsonl"))
            if found and found[0].read_text().count("\n") >= 2:
                pred_file = found[0]
                break
            time.sleep(0.2)
        assert pred_file is not None, "no predictions appeared"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "--resume" in err
    record = json.loads((pred_file.parent / "run.json").read_text())
    kept = pred_file.read_text().splitlines()
    assert record["status"] == "interrupted" and 2 <= len(kept) < 6
    r = run_cli("evaluate", "--resume", pred_file.parent.name, "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in pred_file.read_text().splitlines()]
    assert len(rows) == 6 and len({x["item_id"] for x in rows}) == 6  # nothing lost, nothing twice
    assert json.loads(r.stdout)["status"] == "complete"


def test_two_writers_on_one_run_are_refused(settings):
    from smishctl.core.errors import ConfigError

    plan = prepare(settings, EvalConfig(limit=1))
    plan.run.dir.mkdir(parents=True)
    with file_lock(plan.run.dir / ".lock"):
        with pytest.raises(ConfigError, match="being written by another process"):
            execute(plan)


def test_refused_endpoint_stops_the_run_aborted(settings):
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    from smishctl.core.errors import ModelError

    os.environ["SMISHCTL_API_BASE_OPENAI"] = "http://127.0.0.1:9/v1"
    os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
    try:
        with pytest.raises(ModelError, match="cannot connect to http://127.0.0.1:9/v1"):
            evaluate(settings, EvalConfig(model="openai/gpt-4o-mini", limit=3, num_retries=0, timeout=5))
    finally:
        del os.environ["SMISHCTL_API_BASE_OPENAI"], os.environ["OPENAI_API_KEY"]
    (run_path,) = [d for d in settings.runs_dir.iterdir() if (d / "run.json").is_file()]
    assert open_run(settings.runs_dir, run_path.name).read()["status"] == "aborted"  # never complete


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["--model", "local/nosuch"], "unknown local model"),
        (["--dataset", "missing.csv"], "dataset file not found"),
        (["--split", "validation"], "unknown split 'validation'"),
        (["--prompt", "v9999"], "unknown prompt 'v9999'"),
        (["--prompt", "../../etc"], "invalid prompt id"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run(cli, project, args, message):
    r = cli("evaluate", "--limit", "1", *args)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not any((project / "runs").glob("*/run.json"))


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from smishctl.cli import app; "
            "print([m for m in ('dspy', 'litellm', 'datasets', 'xllamacpp', 'langfuse', 'sklearn') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    r = run_cli("--help")
    for cmd in ("optimize", "evaluate", "compare", "promote"):
        assert cmd in r.stdout
