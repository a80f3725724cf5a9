"""`optimize` with the real embedded model on tiny train/dev sets, and the artifact store."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from smishctl.core.errors import ConfigError
from smishctl.ops.evaluate import EvalConfig, evaluate, prepare
from smishctl.ops.optimize import OptimizeConfig, optimize
from smishctl.solve.signature import KNN_INSTRUCTIONS
from smishctl.store.artifacts import MANIFEST, PROGRAM, PROMPT, list_artifacts, resolve_artifact, save_artifact
from smishctl.store.programs import load_program

pytestmark = pytest.mark.model


def _tiny(**kw) -> OptimizeConfig:
    return OptimizeConfig(**{"train_size": 6, "dev_size": 3, **kw})


def test_labeled_artifact_round_trip_and_reproducible(settings):
    s1 = optimize(settings, _tiny(optimizer="labeled", params={"k": "3"}))
    art = resolve_artifact(settings.prompts_dir, s1.artifact)
    assert art.id == "sms-phishing/qwen2.5-coder-0.5b/v0001"
    for name in (PROGRAM, PROMPT, MANIFEST, "CARD.md"):
        assert (art.dir / name).is_file()
    m = art.manifest
    assert m["optimizer"] == {"name": "labeled", "params": {"k": 3}, "seed": 13, "threads": 1, "max_calls": None,
                              "budget_exhausted": False, "calibrate": "auto", "recall_target": None}
    assert m["adapter"]["name"] == "score" and json.loads((art.dir / PROGRAM).read_text())["adapter"]["name"] == "score"
    assert set(m["dataset"]["split_hashes"]) == {"train", "dev", "test"} and m["labels"] == ["ham", "spam", "smishing"]
    assert m["spend"]["lm_calls"] >= 6 and m["versions"]["dspy"] == "3.4.1"
    rendered = json.loads((art.dir / PROMPT).read_text())
    # label chat: the system turn, 3 demos as user/assistant pairs, the SMS last
    assert [x["role"] for x in rendered["messages"]] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert rendered["messages"][-1]["content"] == "{{sms}}"
    # Evaluating the stored artifact on the same dev items reproduces the in-memory scores.
    rec = evaluate(settings, EvalConfig(prompt=art.id, split="dev", limit=3, balanced=True))
    assert rec.metrics["accuracy"] == m["dev_metrics"]["optimized"]["accuracy"]
    # Same seed and inputs: the same program; the version number moves on.
    s2 = optimize(settings, _tiny(optimizer="labeled", params={"k": "3"}))
    assert s2.artifact.endswith("/v0002") and s2.manifest.parent == s1.artifact
    v1, v2 = (resolve_artifact(settings.prompts_dir, s.artifact).dir / PROGRAM for s in (s1, s2))
    assert v1.read_text() == v2.read_text()
    # The prompts CLI on these versions and a third with other parameters (the same project: the
    # baseline's dev calls come from its cache).
    optimize(settings, _tiny(optimizer="labeled", params={"k": "2"}))
    project = settings.root
    r = run_cli("prompts", "list", "--json", cwd=project)
    assert r.returncode == 0 and [m["optimizer"]["params"]["k"] for m in json.loads(r.stdout)] == [3, 3, 2]
    r = run_cli("prompts", "show", "v0003", cwd=project)
    assert r.returncode == 0 and "{{sms}}" in r.stdout
    r = run_cli("prompts", "diff", "v0002", "v0003", cwd=project)
    assert r.returncode == 0 and "k': 3" in r.stdout and "k': 2" in r.stdout
    # evaluate resolves the short reference into its record (prepare: the record before any model call)
    plan = prepare(settings, EvalConfig(prompt="v0003", limit=2))
    assert plan.record.prompt["id"] == resolve_artifact(settings.prompts_dir, "v0003").id
    assert plan.record.prompt["id"].endswith("/v0003")


@pytest.mark.parametrize("name,params", [
    ("bootstrap", {"max_bootstrapped_demos": "1", "max_labeled_demos": "2"}),
    ("random-search", {"num_candidates": "1", "max_bootstrapped_demos": "1", "max_labeled_demos": "2"}),
    ("mipro", {"auto": "light", "max_bootstrapped_demos": "1", "max_labeled_demos": "1"}),
    ("gepa", {"max_metric_calls": "6", "reflection_minibatch_size": "1"}),
])
def test_every_optimizer_is_wired(settings, name, params):
    if name == "bootstrap":
        # Through the CLI with --json: BootstrapFewShot prints "Bootstrapped N full traces..." itself,
        # and that must not land in the JSON.
        r = run_cli("optimize", "--optimizer", name, "--train-size", "6", "--dev-size", "3", "--max-calls", "12",
                    *[x for k, v in params.items() for x in ("--param", f"{k}={v}")], "--no-langfuse", "--json",
                    cwd=settings.root)
        assert r.returncode == 0, r.stderr
        assert "Bootstrapped" in r.stderr
        s = json.loads(r.stdout)
    else:
        s = optimize(settings, _tiny(optimizer=name, params=params, max_calls=12)).to_dict()
    art = resolve_artifact(settings.prompts_dir, s["artifact"])
    m = art.manifest
    assert m["optimizer"]["name"] == name and m["dev_metrics"]["optimized"]["n_items"] == 3
    # The search itself called the model (the dev scoring alone makes 6 calls: baseline and result) …
    assert m["spend"]["search_lm_calls"] >= 1 and m["spend"]["lm_calls"] >= 6 + m["spend"]["search_lm_calls"]
    # … and candidate programs were evaluated (bootstrap evaluates none; MIPROv2 spends a 12-call budget
    # on its own bootstrapping before its first trial, so there the budget must have run out instead).
    if name in ("random-search", "gepa") or (name == "mipro" and not m["optimizer"]["budget_exhausted"]):
        assert m["search"]["evaluations"] >= 1, m["search"]
    elif name == "mipro":
        assert m["spend"]["lm_calls"] >= 12
    if name == "random-search":  # it scores the zero-shot seed on the whole dev set before anything else
        assert m["search"]["evaluations"] >= 1 and m["search"]["best_full_dev_accuracy"] is not None
        assert re.search(r"candidate evaluations, best whole-dev accuracy \d\.\d{3}", (art.dir / "CARD.md").read_text())
    if m["optimizer"]["budget_exhausted"]:
        assert "budget exhausted" in (resolve_artifact(settings.prompts_dir, s["artifact"]).dir / "CARD.md").read_text()


def _save(args):
    root, i = args
    from pathlib import Path

    art = save_artifact(Path(root), "ds", "m", program_state={"i": i}, messages=[], manifest={"labels": ["a", "b"]},
                        card="x")
    return art.id


def test_versions_are_unique_under_concurrency(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        ids = pool.map(_save, [(str(tmp_path), i) for i in range(12)])
    assert sorted(ids) == [f"ds/m/v{n:04d}" for n in range(1, 13)]
    assert not list((tmp_path / "ds" / "m").glob(".staging-*"))
    assert len(list_artifacts(tmp_path)) == 12


def test_corrupted_artifact_is_refused(settings):
    art = save_artifact(settings.prompts_dir, "sms-phishing", "m", program_state={"x": 1}, messages=[],
                        manifest={"labels": ["ham", "spam", "smishing"]}, card="c")
    (art.dir / PROGRAM).write_text('{"x": 2}')
    with pytest.raises(ConfigError, match="does not match its manifest checksum"):
        load_program(art, ("ham", "spam", "smishing"))


@pytest.mark.parametrize("args,message", [
    (["--optimizer", "nope"], "unknown optimizer 'nope'"),
    (["--optimizer", "knn", "--param", "depth=3"], "has no parameter 'depth'"),
    (["--optimizer", "labeled", "--param", "k=many"], "must be int"),
    (["--optimizer", "random-search", "--train-size", "2"], "needs at least 6 training messages"),
    (["--param", "novalue"], "bad --param"),
])
def test_bad_optimize_input(cli, project, args, message):
    r = cli("optimize", *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (project / "prompts").exists() or not list_artifacts(project / "prompts")


def test_unreachable_teacher_is_refused(cli, project):
    from faultutil import add_alias

    # No retries: the probe's backoff (1 + 2 + 4 s by default) is not what this checks.
    add_alias(project, "dead-teacher", "http://127.0.0.1:9/v1", num_retries=0)
    r = cli("optimize", "--optimizer", "bootstrap", "--teacher", "dead-teacher", "--train-size", "6", "--dev-size", "3")
    assert r.returncode == 2 and "teacher dead-teacher cannot be reached" in r.stderr, r.stderr
    assert not list_artifacts(project / "prompts")


def test_ctrl_c_leaves_no_version(project):
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    # Three demos: a SIGINT is handled once the model call in flight returns (llama.cpp runs it in
    # native code), so the candidate's prompt is kept short.
    proc = subprocess.Popen([sys.executable, "-m", "smishctl", "optimize", "--optimizer", "labeled",
                             "--param", "k=3", "--dev-size", "3"], cwd=project, env=env, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        # Interrupted in the search, once the baseline is scored (a Ctrl-C during the model's start is
        # tests/test_local_server.py's subject).
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("zero-shot dev macro-F1"):
                break
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
        err = "".join(seen) + err
    finally:
        proc.kill()
    assert any(x.startswith("zero-shot dev macro-F1") for x in seen), "".join(seen)
    assert proc.returncode == 130, err
    assert "no artifact was written" in err or "interrupted" in err
    assert not list_artifacts(project / "prompts")


def test_knn_round_trip_and_the_svm_prior_search(settings):
    """A kNN artifact round trip, and `--param prior=off,0.5`: the prior re-decides the same dev rows (no extra model call), the winner
    is stored with its weight, and the loaded program decides each message on the combined probabilities."""
    from smishctl.solve.calibration import combine_with_prior
    from smishctl.solve.knn import KNNClassifier

    s = optimize(settings, OptimizeConfig(optimizer="knn", train_size=12, dev_size=3,
                                          params={"k": "2", "prior": "off,0.5"}))
    art = resolve_artifact(settings.prompts_dir, s.artifact)
    # The round trip: the stored pool, k and wording come back, and evaluate reproduces the dev score.
    assert art.manifest["program_kind"] == "knn"
    program = load_program(art, ("ham", "spam", "smishing"))
    assert len(program.pool) == 12 and program.k == 2
    text = program.pool[0][0]
    assert program.neighbours(text)[-1][0] == text  # the most similar demo sits next to the question
    # The wording is stored in the artifact, so a later change of the defaults does not alter it.
    state = json.loads((art.dir / PROGRAM).read_text())
    assert state["instructions"] == KNN_INSTRUCTIONS and "similar examples" in state["instructions"]
    assert KNNClassifier.from_state({**state, "instructions": "Label it."},
                                    program.labels).predict.signature.instructions == "Label it."
    assert art.manifest["instructions_changed"] is False
    rec = evaluate(settings, EvalConfig(prompt=art.id, split="dev", limit=3, balanced=True))
    assert rec.metrics["accuracy"] == art.manifest["dev_metrics"]["optimized"]["accuracy"]
    # The prior search:
    cands = art.manifest["search"]["candidates"]
    assert [c["settings"]["prior"] for c in cands] == [None, 0.5]
    assert cands[0]["latency_p50_ms"] == cands[1]["latency_p50_ms"]  # one scoring serves both
    chosen = art.manifest["search"]["chosen"]
    best = max(cands, key=lambda c: c["dev_macro_f1"])
    assert art.manifest["dev_metrics"]["optimized"]["macro_f1"] == best["dev_macro_f1"]
    labels = ("ham", "spam", "smishing")
    program = load_program(art, labels)
    assert program.prior_weight == (chosen.get("prior") or {}).get("weight")
    # The loaded program with the prior forced on decides from the model's probabilities combined with
    # the SVM's: run both programs on the same message through the real model and recombine by hand.
    state = json.loads((art.dir / PROGRAM).read_text())
    plain = KNNClassifier.from_state({**state, "prior": None}, labels)
    with_prior = KNNClassifier.from_state({**state, "prior": {"weight": 0.5}}, labels)
    from smishctl.models.lm import build_lm
    from smishctl.models.registry import resolve_model
    from smishctl.solve.adapters import AdapterConfig
    from smishctl.solve.build import build_solver

    spec = resolve_model(None, settings)
    lm = build_lm(spec, settings)
    text = "URGENT: your parcel is held, pay the 1.99 fee at http://parcel-fee.example to release it"
    p = build_solver(plain, lm, spec, labels, AdapterConfig(name="score"))(text)
    q = build_solver(with_prior, lm, spec, labels, AdapterConfig(name="score"))(text)
    expected = combine_with_prior(p["probs"], with_prior.prior_probs(text), 0.5)
    assert q["status"] == "ok" and q["probs"] == pytest.approx(expected, abs=2e-6)
    assert q["pred"] == max(expected, key=expected.get)
    assert abs(sum(q["probs"].values()) - 1) < 1e-5
