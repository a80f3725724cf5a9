"""A new user's first commands: classify before anything is promoted, init with a relative mirror, the
review keys without colour, a missing review import file, and `smishctl models`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

from faultutil import add_alias, fake_model_fixture, fault_fixture  # noqa: F401

from conftest import run_cli
from smishctl.core.config import load_settings

NOTE = "nothing is in production: classifying zero-shot; promote an artifact to use it"
SPAM = "WINNER!! claim your 900 prize reward now, call 09061701461"


# -- classify in a fresh project ------------------------------------------------------------------

def test_a_classic_model_classifies_without_a_prompt_or_production(cli):
    r = cli("classify", "--model", "classic/tfidf-svm", SPAM)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] in ("spam", "smishing")
    assert NOTE not in r.stderr  # a classic model takes no prompt: nothing fell back


def test_classify_falls_back_to_zero_shot_while_nothing_is_in_production(cli, fake_model, fault):
    r = cli("classify", "--model", fake_model, "--json", "please verify your bank account at http://x.top")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["prompt"] == "zero-shot" and row["label"] == "smishing" and row["status"] == "ok"
    assert r.stderr.strip() == f"note: {NOTE}"  # one line, on stderr: stdout stays machine-readable
    assert len(fault.chat_requests()) >= 1

    r = cli("classify", "--model", fake_model, "--prompt", "zero-shot", "see you at 7")  # named: no note
    assert r.returncode == 0 and r.stdout.split()[0] == "ham" and NOTE not in r.stderr, r.stderr

    r = cli("classify", "--model", fake_model, "--prompt", "production", "hello")  # asked for production
    assert r.returncode == 2 and "nothing is in production" in r.stderr and not r.stdout


# -- init --mirror ----------------------------------------------------------------------------------

def _mirror_line(project_dir) -> str:
    return tomllib.loads((project_dir / "smishctl.toml").read_text(encoding="utf-8"))["data"]["mirror"]


def test_init_writes_the_mirror_as_given_and_the_project_resolves_it_from_its_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SMISHCTL_DATA_MIRROR", raising=False)  # the file's value, not the tests' override
    (tmp_path / "real-data").mkdir()
    (tmp_path / "data").symlink_to(tmp_path / "real-data")
    here = tmp_path / "here"
    here.mkdir()
    res = run_cli("init", "--mirror", "../data", cwd=here)
    assert res.returncode == 0, res.stderr
    assert _mirror_line(here) == "../data"  # relative, as typed, the symlink not resolved
    assert load_settings(here).data_mirror == (tmp_path / "data").resolve()

    res = run_cli("init", "sub/proj", "--mirror", "data", cwd=tmp_path)  # typed from elsewhere: rebased
    assert res.returncode == 0, res.stderr
    assert _mirror_line(tmp_path / "sub" / "proj") == "../../data"
    assert load_settings(tmp_path / "sub" / "proj").data_mirror == (tmp_path / "data").resolve()

    res = run_cli("init", "abs", "--mirror", str(tmp_path / "data"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert _mirror_line(tmp_path / "abs") == str(tmp_path / "data")  # absolute: exactly as given


# -- review ----------------------------------------------------------------------------------------

LEGEND = "keys: a accept gold · r relabel · m must-pass · s skip · u undo · q quit"


def test_review_keys_are_spelled_out_on_the_screen_and_in_help(settings):
    from factories import write_run
    from rich.console import Console

    from smishctl.cli.review_cmd import _show
    from smishctl.ops.review import ReviewSession

    write_run(settings.runs_dir, "run-keys", [("x1", "smishing", "ham", "ok"), ("x2", "ham", "ham", "ok")])
    session = ReviewSession(settings, "run-keys")
    screen = Console(record=True, width=80, color_system=None)  # no colour: the legend must still say it
    _show(screen, session, session.pending()[0], 1, 2, "")
    assert LEGEND in screen.export_text().splitlines()

    helptext = " ".join(run_cli("review", "--help", env={"COLUMNS": "200"}).stdout.split())
    for key in ("a accept gold", "r relabel", "m must-pass", "s skip", "u undo", "q quit"):
        assert key in helptext, key


def test_review_import_of_a_missing_or_unreadable_file_is_one_line_exit_2(cli, settings, project):
    from factories import write_run

    write_run(settings.runs_dir, "run-imp", [("x1", "smishing", "ham", "ok")])
    for path in ("missing.csv", str(project / "runs")):  # absent, then a folder
        r = cli("review", "run-imp", "--import", path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and f"cannot read {path}" in lines[0] and "unexpected" not in lines[0], r.stderr


# -- smishctl models ---------------------------------------------------------------------------------

KEY_VAR = "SMISHCTL_NEWCOMER_TEST_KEY"
SECRET = "sk-newcomer-secret-value-123456"


def _models(cli, env=None) -> dict:
    r = cli("models", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr and "hunter2" not in r.stdout + r.stderr
    return json.loads(r.stdout)


def test_models_lists_aliases_where_they_run_and_whether_the_key_is_set(cli, project, monkeypatch):
    monkeypatch.delenv(KEY_VAR, raising=False)
    add_alias(project, "my-gpt", "http://user:hunter2@127.0.0.1:9/v1?token=abc", api_key_env=KEY_VAR)
    doc = _models(cli)
    rows = {r["name"]: r for r in doc["models"]}
    assert {"local/qwen2.5-coder-0.5b", "classic/tfidf-svm", "classic/tfidf-knn", "my-gpt"} <= set(rows)
    alias = rows["my-gpt"]
    assert alias["litellm"] == "openai/fake" and alias["where"] == "http://127.0.0.1:9/v1"
    assert alias["api_key_env"] == KEY_VAR and alias["key_set"] is False
    assert rows["classic/tfidf-svm"]["where"] == "in-process" and rows["classic/tfidf-svm"]["key_set"] is None
    assert [r["name"] for r in doc["models"] if r["default"]] == [doc["default"]] == ["local/qwen2.5-coder-0.5b"]

    rows = {r["name"]: r for r in _models(cli, env={KEY_VAR: SECRET})["models"]}
    assert rows["my-gpt"]["key_set"] is True

    r = cli("models", env={KEY_VAR: SECRET, "COLUMNS": "200"})  # the table: names, never values
    assert r.returncode == 0, r.stderr
    assert "my-gpt" in r.stdout and f"{KEY_VAR} set" in r.stdout and SECRET not in r.stdout + r.stderr
    assert "models" in run_cli("--help", env={"COLUMNS": "200"}).stdout


def test_models_marks_a_default_that_is_no_listed_name_and_loads_no_model_stack(cli, project):
    code = ("import sys; sys.argv = ['smishctl', 'models', '--json']\nfrom smishctl.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert not {'litellm', 'dspy'} & set(sys.modules), sorted({'litellm', 'dspy'} & set(sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True,
                       env={**os.environ, "SMISHCTL_MODEL": "openai/gpt-4o-mini"})
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["models"]
    assert [(x["name"], x["where"]) for x in rows if x["default"]] == [("openai/gpt-4o-mini", "hosted (openai)")]
