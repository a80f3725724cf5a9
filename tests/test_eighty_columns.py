"""A newcomer at an 80x24 terminal: `evaluate` puts its headline first and fits one screen, --help fits 80
columns with nothing cut and no `<bool>` after flags, `promote --dry-run` shows its plan, and a mistyped
model name fails before the model stack is imported."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import typer
from factories import accept_small_promotions, make_artifact, promotion_run
from rich.text import Text

from conftest import run_cli
from smishctl.cli import app, compare_cmd, evaluate_cmd, promote_cmd

SCREEN = {"COLUMNS": "80", "LINES": "24"}
CLI = typer.main.get_command(app)


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").splitlines()


def _assert_fits(text: str) -> None:
    wide = [line for line in _lines(text) if len(line) > 80]
    assert not wide and "…" not in text, text


def _help(*args: str) -> str:
    r = run_cli(*args, "--help", env=SCREEN)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _plain(markup: str) -> list[str]:
    return [line.rstrip() for line in Text.from_markup(markup).plain.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["evaluate", "optimize", "promote", "compare", "classify", "push", "review",
                                     "finetune"])
def test_help_fits_80_columns_with_nothing_cut(command):
    _assert_fits(_help(command))


@pytest.mark.parametrize("epilog,command", [(evaluate_cmd.EPILOG, "evaluate"), (promote_cmd.EPILOG, "promote"),
                                             (compare_cmd.EPILOG, "compare")])
def test_examples_and_policy_keys_are_an_epilog_printed_unwrapped(epilog, command):
    shown = [line.strip() for line in _lines(_help(command))]
    for line in _plain(epilog):  # every line whole on a line of its own: neither cut nor wrapped
        assert line.strip() in shown, line


def test_promote_help_names_every_gate_metric():
    from smishctl.score.gates import METRICS

    names = set(re.findall(r"[a-z_0-9]+", Text.from_markup(promote_cmd.EPILOG).plain))
    assert set(METRICS) <= names, set(METRICS) - names


def test_no_bool_placeholder_after_flags_in_any_help():
    paths = [()] + [(name,) for name in CLI.commands] + [("runs", "show"), ("prompts", "list")]
    found = [" ".join(p) for p in paths if "<bool>" in _help(*p)]
    assert not found, found
    assert "--balanced" in _help("evaluate")  # the flags themselves are still listed


def test_limit_help_says_which_items():
    limit = next(p for p in CLI.commands["evaluate"].params if p.name == "limit")
    assert "the first N of the split's seeded shuffle" in limit.help


def _evaluate(cli, *extra: str):
    r = cli("evaluate", "-m", "classic/tfidf-svm", "--limit", "30", "--no-langfuse", *extra, env=SCREEN)
    assert r.returncode == 0, r.stderr
    return r


def test_evaluate_summary_is_headline_first_and_fits_one_screen(cli, project):
    r = _evaluate(cli)
    _assert_fits(r.stdout + r.stderr)
    assert len(_lines(r.stdout + r.stderr)) <= 24, r.stdout + r.stderr
    first, second, where, *_ = _lines(r.stdout)
    m = re.fullmatch(r"accuracy (\d\.\d{3}) +macro-F1 (\d\.\d{3}) \(95% CI (\d\.\d{3}) to (\d\.\d{3})\)", first)
    assert m, first
    f1, low, high = map(float, m.groups()[1:])
    assert low <= f1 <= high
    assert second == "30 items: 0 errors, 0 invalid outputs"
    (run_dir,) = (project / "runs").iterdir()
    assert where.startswith(f"written to runs/{run_dir.name}/ (ref ")
    assert "P/R/F1" not in r.stdout and "confusion (rows" not in r.stdout  # the tables wait for --full

    full = _evaluate(cli, "--full")
    _assert_fits(full.stdout)
    assert _lines(full.stdout)[0].startswith("accuracy ")
    for shown in ("P/R/F1", "confusion (rows", "latency p50", "cost (USD)"):
        assert shown in full.stdout, shown


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_evaluate_in_a_real_80x24_terminal(project):
    from test_terminal import Terminal

    term = Terminal(project, dict(os.environ))
    try:
        code, screen = term.run("smishctl evaluate -m classic/tfidf-svm -n 30 --no-langfuse")
    finally:
        term.close()
    assert code == 0, screen
    _assert_fits(screen)
    lines = _lines(screen)
    assert len(lines) < 24, screen  # the command, all it printed and the next prompt: one screen
    assert any(line.startswith("accuracy ") for line in lines), screen


def test_unknown_model_fails_before_the_model_stack_is_imported(project):
    env = {**os.environ, "SMISHCTL_HOME": str(project)}
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "smishctl", "evaluate", "-m", "gpt-4o-mini"],
                       cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown model 'gpt-4o-mini'" in r.stderr, r.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"litellm", "dspy", "datasets"}, imported & {"litellm", "dspy", "datasets"}


def test_the_library_checks_the_model_name_before_loading_the_dataset(settings):
    from smishctl.core.errors import ModelError
    from smishctl.ops.evaluate import EvalConfig, prepare

    with pytest.raises(ModelError, match="unknown model 'gpt-4o-mini'"):
        prepare(settings, EvalConfig(model="gpt-4o-mini", dataset="no-such-file.csv"))


def test_promote_dry_run_shows_the_policy_the_items_and_an_estimate(cli, settings):
    accept_small_promotions(settings)
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    r = cli("promote", art.id, "--dry-run", "--limit", "30", env=SCREEN)
    assert r.returncode == 0, r.stderr
    _assert_fits(r.stdout)
    text = r.stdout
    assert "on 30 test items of sms-phishing (--limit 30)" in text
    assert "time: no earlier run of this model to estimate from" in text
    assert "macro_f1>=0.5 (min_macro_f1)" in text and "error_rate<=0.02 (max_error_rate)" in text
    assert "evidence: at least 30 test items (min_items)" in text

    other = make_artifact(settings, instructions="Another prompt.")
    promotion_run(settings, other)  # the same model: 30 items at 100..129 ms, 114.5 ms each on average
    r = cli("promote", art.id, "--dry-run", "--limit", "40", env=SCREEN)
    assert r.returncode == 0, r.stderr
    assert re.search(r"time: about 5 s \(0\.11 s per item in run \S+\)", r.stdout), r.stdout
