"""Short run references: every command that takes a run id takes its short tail, a unique prefix, `latest`
or `latest~N`; listings show the references whole, and tables fit 80 columns without cutting them."""

from __future__ import annotations

import pytest
from factories import write_run

from smishctl.core.errors import ConfigError
from smishctl.store.runs import command_line_ref, open_run, resolve_run, short_refs


def _run(runs_dir, run_id: str, created: str) -> None:
    write_run(runs_dir, run_id, [("i000", "ham", "ham")], created_at=created)


@pytest.fixture()
def runs_dir(tmp_path):
    d = tmp_path / "runs"
    _run(d, "20261127-090000-qwen-zero-shot-a3f2", "2026-11-27T09:00:00")
    _run(d, "20261127-091500-qwen-v0001-b7c1", "2026-11-27T09:15:00")
    _run(d, "20261127-093000-tfidf-svm-zero-shot-a3f2", "2026-11-27T09:30:00")  # the same random tail
    _run(d, "nightly", "2026-11-27T10:00:00")
    return d


def test_short_refs_are_unique_and_resolve_back(runs_dir):
    ids = sorted(p.name for p in runs_dir.iterdir())
    refs = short_refs(ids)
    assert refs["20261127-091500-qwen-v0001-b7c1"] == "b7c1"
    # Two runs share the tail a3f2: each gets the shortest longer tail that is unique.
    assert refs["20261127-090000-qwen-zero-shot-a3f2"] == "qwen-zero-shot-a3f2"
    assert refs["20261127-093000-tfidf-svm-zero-shot-a3f2"] == "svm-zero-shot-a3f2"
    assert refs["nightly"] == "nightly"
    for run_id, ref in refs.items():
        assert resolve_run(runs_dir, ref).id == run_id
        assert open_run(runs_dir, ref).id == run_id  # what every command calls


def test_latest_and_latest_tilde(runs_dir):
    assert resolve_run(runs_dir, "latest").id == "nightly"
    assert resolve_run(runs_dir, "latest~0").id == "nightly"
    assert resolve_run(runs_dir, "latest~1").id == "20261127-093000-tfidf-svm-zero-shot-a3f2"
    assert resolve_run(runs_dir, "latest~3").id == "20261127-090000-qwen-zero-shot-a3f2"
    with pytest.raises(ConfigError, match="only 4"):
        resolve_run(runs_dir, "latest~4")


def test_prefixes_paths_and_ambiguity(runs_dir):
    assert resolve_run(runs_dir, "20261127-0915").id == "20261127-091500-qwen-v0001-b7c1"
    assert open_run(runs_dir, str(runs_dir / "nightly")).id == "nightly"
    with pytest.raises(ConfigError, match="ambiguous") as exc:
        resolve_run(runs_dir, "a3f2")
    assert "qwen-zero-shot-a3f2" in str(exc.value) and "svm-zero-shot-a3f2" in str(exc.value)
    with pytest.raises(ConfigError, match="unknown run"):
        resolve_run(runs_dir, "zzzz")
    with pytest.raises(ConfigError):
        resolve_run(runs_dir, "../runs")


def test_open_run_by_folder_by_reference_and_a_folder_that_is_no_run(runs_dir, tmp_path, monkeypatch):
    """What every command that takes RUN calls: a run folder anywhere, or a reference into the store."""
    stored = "20261127-091500-qwen-v0001-b7c1"
    elsewhere = tmp_path / "downloaded" / stored
    write_run(elsewhere.parent, stored, [("i000", "ham", "ham")], created_at="2026-11-27T09:15:00")
    by_path = open_run(runs_dir, str(elsewhere))
    assert by_path.dir == elsewhere.resolve()
    assert command_line_ref(runs_dir, by_path) == str(elsewhere.resolve())  # typed back as its folder
    for ref in (stored, "b7c1", "20261127-0915", "latest~2"):
        run = open_run(runs_dir, ref)
        assert run.dir == (runs_dir / stored).resolve()
        assert command_line_ref(runs_dir, run) == "b7c1"  # typed back as its short reference

    empty = tmp_path / "not-a-run"
    empty.mkdir()
    with pytest.raises(ConfigError) as exc:
        open_run(runs_dir, str(empty))
    assert str(exc.value) == f"unknown run {str(empty)!r}: the folder has no run.json"
    assert exc.value.exit_code == 2
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="the folder has no run.json"):
        open_run(runs_dir, ".")
    (tmp_path / "b7c1").mkdir()  # a folder named like a run's reference does not hide the run
    assert open_run(runs_dir, "b7c1").id == stored
    with pytest.raises(ConfigError, match=r"^unknown run 'zzzz'$"):
        open_run(runs_dir, "zzzz")


def test_fit_table_drops_optional_columns_before_cutting_identifiers():
    from io import StringIO

    from rich.console import Console

    from smishctl.cli.tables import Column, fit_table, print_fitted

    console = Console(width=40, file=StringIO(), highlight=False)
    columns = [Column("ref"), Column("note", drop=1), Column("model", wrap=True), Column("F1", "right")]
    rows = [["svm-zero-shot-a3f2", "a long remark nobody needs", "local/qwen2.5-coder-0.5b", "0.873"]]
    fitted = fit_table(console, columns, rows)
    assert fitted.hidden == ["note"]
    print_fitted(console, fitted)
    text = console.file.getvalue()
    assert "svm-zero-shot-a3f2" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 40
    wide = Console(width=40, file=StringIO(), highlight=False)
    print_fitted(wide, fit_table(wide, columns, rows, wide=True))
    assert "a long remark nobody needs" in wide.file.getvalue()
    assert "local/qwen2.5-coder-0.5b" in wide.file.getvalue()


def test_short_prompt_refs():
    from smishctl.cli.render import short_prompt_refs

    refs = short_prompt_refs(["sms/qwen-0.5b/v0001", "sms/qwen-0.5b/v0002", "uci/qwen-0.5b/v0001", "zero-shot"])
    assert refs == {"sms/qwen-0.5b/v0001": "sms/qwen-0.5b/v0001", "sms/qwen-0.5b/v0002": "v0002",
                    "uci/qwen-0.5b/v0001": "uci/qwen-0.5b/v0001", "zero-shot": "zero-shot"}


def test_shell_completion_offers_run_references(runs_dir):
    """Typer's completion protocol, as bash's completion function calls it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (runs_dir.parent / "smishctl.toml").write_text("")
    env = {**os.environ, "SMISHCTL_HOME": str(runs_dir.parent), "_SMISHCTL_COMPLETE": "complete_bash",
           "COMP_WORDS": "smishctl compare b", "COMP_CWORD": "2"}
    script = Path(sys.executable).parent / "smishctl"
    res = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["b7c1"]
    env.update(COMP_WORDS="smishctl runs show ", COMP_CWORD="3")
    res = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert res.stdout.split()[:3] == ["latest", "latest~1", "nightly"]
