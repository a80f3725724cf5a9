"""Damage in the run store stays local: a damaged prediction row is named by file:line (refused where rows are
evidence, re-asked alone on resume), and one odd run.json does not break listing or promotion."""

from __future__ import annotations

import json

import pytest
from factories import LABELS, items, make_artifact, predictions, write_run

from smishctl.core.errors import DataError
from smishctl.core.records import Prediction, RunRecord
from smishctl.store.runs import PRED_FILE, RUN_FILE, Run, find_run, list_runs, open_run


def _make_run(runs_dir, run_id: str, n: int = 40) -> Run:
    rows = [Prediction(item_id=f"i{i:03d}", index=i, gold=LABELS[i % 3], pred=LABELS[i % 3], status="ok",
                       text=f"sms {i}") for i in range(n)]
    write_run(runs_dir, run_id, rows, model="classic/tfidf-svm")
    return Run(runs_dir / run_id)


def _damage_line(path, line: int, content: bytes) -> list[bytes]:
    """Replace one 1-based line (its newline kept); return the original lines."""
    original = path.read_bytes().splitlines(keepends=True)
    lines = list(original)
    lines[line - 1] = content + b"\n"
    path.write_bytes(b"".join(lines))
    return original


@pytest.mark.parametrize("bad", [b'{"item_id": "i002", "gold": "sp', b'{"item_id": "i002\xff\xfe"}',
                                 b'{"item_id": "i002", "gold": "ham", "status": "maybe"}', b"[1, 2]"],
                         ids=["not-json", "not-utf8", "not-a-prediction", "not-an-object"])
def test_a_damaged_row_is_refused_with_file_and_line(tmp_path, bad):
    run = _make_run(tmp_path / "runs", "r1")
    _damage_line(run.predictions_path, 3, bad)
    with pytest.raises(DataError) as exc:
        run.predictions()
    msg = exc.value.one_line()
    assert f"{run.predictions_path}:3: damaged prediction row" in msg and "\n" not in msg
    assert "--resume r1" in msg
    rows, damaged = run.scan_predictions()
    assert [d.line for d in damaged] == [3] and len(rows) == 39  # the rows after it are still read
    assert len(run.predictions(allow_damaged=True)) == 39


_ROW = '{"item_id": "i002", "index": 2, "gold": "smishing", "pred": "smishing", "status": "ok", '


@pytest.mark.parametrize("bad", [b'"probs": {"ham": NaN, "spam": 0.1, "smishing": 0.9}}',
                                 b'"probs": {"ham": 0.1, "spam": Infinity, "smishing": 0.9}}',
                                 b'"probs": {"ham": -0.5, "spam": 0.5, "smishing": 1.0}}',
                                 b'"probs": {"ham": 0.0, "spam": 0.0, "smishing": 5.0}}',
                                 b'"latency_ms": NaN}', b'"cost_usd": Infinity}'],
                         ids=["nan-prob", "infinite-prob", "negative-prob", "prob-above-1", "nan-latency",
                              "infinite-cost"])
def test_a_row_whose_figures_are_not_measurements_is_damage(tmp_path, bad):
    """A NaN probability sorts above every number (a perfect ROC-AUC from nothing), a 5.0 makes a Brier
    score below 0, a NaN latency or cost poisons every sum: such a row is damage, named by file:line."""
    run = _make_run(tmp_path / "runs", "r1")
    _damage_line(run.predictions_path, 3, _ROW.encode() + bad)
    with pytest.raises(DataError, match=r":3: damaged prediction row"):
        run.predictions()


def test_probabilities_at_the_bounds_are_measurements(tmp_path):
    run = _make_run(tmp_path / "runs", "r1")
    _damage_line(run.predictions_path, 3, _ROW.encode() + b'"probs": {"ham": 0.0, "spam": 0, "smishing": 1.0}}')
    assert run.predictions()[2]["probs"] == {"ham": 0.0, "spam": 0, "smishing": 1.0}


def test_an_invalid_byte_inside_an_otherwise_whole_row_is_damage(tmp_path):
    """A row that is valid JSON of a valid prediction but for one byte that is no UTF-8 inside its text is
    refused, not decoded with a stand-in character: the recorded text would no longer be the scored one."""
    run = _make_run(tmp_path / "runs", "r1")
    line = run.predictions_path.read_bytes().splitlines()[2]
    assert b'"sms 2"' in line
    _damage_line(run.predictions_path, 3, line.replace(b'"sms 2"', b'"sms \xff2"'))
    rows, damaged = run.scan_predictions()
    assert [d.line for d in damaged] == [3] and len(rows) == 39
    with pytest.raises(DataError, match="damaged prediction row"):
        run.predictions()


def test_repair_keeps_every_readable_row(tmp_path, capsys):
    run = _make_run(tmp_path / "runs", "r1")
    original = _damage_line(run.predictions_path, 3, b"\xff garbage")
    kept = run.repair_predictions(drop_errors=True)
    assert len(kept) == 39 and "i002" not in {r["item_id"] for r in kept}
    assert f"{run.predictions_path}:3:" in capsys.readouterr().err
    # The file now holds exactly the other 39 rows, byte for byte, and reads without damage.
    assert run.predictions_path.read_bytes().splitlines(keepends=True) == original[:2] + original[3:]
    assert len(run.predictions()) == 39


def test_a_torn_last_line_is_still_tolerated(tmp_path):
    run = _make_run(tmp_path / "runs", "r1")
    record = run.record()
    record.status = "interrupted"  # a crash mid-append leaves a run that never reached complete
    run.write(record)
    with open(run.predictions_path, "ab") as fh:
        fh.write(b'{"item_id": "i040", "gold": "ha')  # a crash mid-append: no newline
    assert len(run.predictions()) == 40
    assert run.scan_predictions()[1] == []
    assert len(run.repair_predictions()) == 40
    assert run.predictions_path.read_bytes().endswith(b'"text": "sms 39"}\n')


def test_a_torn_last_line_of_a_complete_run_is_damage(tmp_path):
    """A complete run was marked so after its last row was closed: a torn line is not a crash but damage,
    and compare or promote must not score the run on the rows that remain."""
    run = _make_run(tmp_path / "runs", "r1")
    with open(run.predictions_path, "ab") as fh:
        fh.write(b'{"item_id": "i040", "gold": "ha')
    with pytest.raises(DataError, match=r"predictions.jsonl:41: damaged prediction row \(torn last line"):
        run.predictions()
    assert [d.line for d in run.scan_predictions()[1]] == [41]


def _evaluate(cli, model: str) -> str:
    r = cli("evaluate", "-m", model, "--limit", "40", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["id"]


def test_compare_refuses_a_run_with_a_damaged_row(cli, project):
    a = _evaluate(cli, "classic/tfidf-svm")
    b = _evaluate(cli, "classic/tfidf-knn")
    r = cli("compare", a, b)
    assert r.returncode == 0, r.stderr
    pred_file = project / "runs" / b / PRED_FILE
    _damage_line(pred_file, 3, b"not json")
    r = cli("compare", a, b)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{pred_file}:3: damaged prediction row" in r.stderr
    assert "Traceback" not in r.stderr


def test_resume_asks_again_only_the_damaged_row(cli, project):
    run_id = _evaluate(cli, "classic/tfidf-svm")
    run = open_run(project / "runs", run_id)
    original = _damage_line(run.predictions_path, 3, b'{"item_id": \xff')
    record = run.record()
    record.status = "interrupted"
    run.write(record)
    r = cli("evaluate", "--resume", run_id, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "complete"
    assert f"{run.predictions_path}:3:" in r.stderr
    lines = run.predictions_path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 40 and len({json.loads(x)["item_id"] for x in lines}) == 40
    assert lines[:39] == original[:2] + original[3:]  # the 39 readable rows kept unchanged, in order
    assert json.loads(lines[39])["item_id"] == json.loads(original[2])["item_id"]  # only it was asked again


def _odd_runs(runs_dir) -> dict[str, str]:
    """A run.json without an id and one from a newer schema; folder -> what its warning says."""
    no_id = RunRecord(id="odd-no-id", status="complete").to_dict()
    del no_id["id"]
    newer = {**RunRecord(id="odd-newer", status="complete").to_dict(), "schema_version": 99}
    for name, rec in (("odd-no-id", no_id), ("odd-newer", newer)):
        (runs_dir / name).mkdir(parents=True)
        (runs_dir / name / RUN_FILE).write_text(json.dumps(rec), encoding="utf-8")
    return {"odd-no-id": "lacks id", "odd-newer": "schema 99"}


def test_an_odd_run_json_is_skipped_by_listing_and_refused_when_opened(settings, capsys):
    good = _make_run(settings.runs_dir, "good-run", n=3)
    odd = _odd_runs(settings.runs_dir)
    assert [r.id for r in list_runs(settings.runs_dir)] == ["good-run"]
    err = capsys.readouterr().err.splitlines()
    for name, why in odd.items():
        (line,) = [x for x in err if f"skipping run {name}:" in x]
        assert why in line
    assert find_run(settings.runs_dir, good.record().config_hash) == good
    for name in odd:
        with pytest.raises(DataError):
            open_run(settings.runs_dir, name).read()


def test_runs_list_and_promote_survive_odd_runs(settings, cli):
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    write_run(settings.runs_dir, "run-good", predictions(items(30), {1}), prompt_id=art.id,
              prompt_sha=art.manifest["files"]["program.json"], model="local/qwen2.5-coder-0.5b")
    odd = _odd_runs(settings.runs_dir)

    r = cli("runs", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)] == ["run-good"]
    for name in odd:
        assert sum(f"skipping run {name}:" in x for x in r.stderr.splitlines()) == 1
    r = cli("runs", "list")
    assert r.returncode == 0 and "good" in r.stdout, r.stderr

    # promote may refuse for reasons of its own (policy, evidence); never because of the odd runs.
    r = cli("promote", art.id, "--dry-run", "--json")
    errors = [x for x in r.stderr.splitlines() if not x.startswith("warning:")]
    assert not any(name in x or why in x for x in errors for name, why in odd.items()), r.stderr
    assert "Traceback" not in r.stderr
    if r.returncode == 0:
        assert json.loads(r.stdout)["dry_run"] is True

    r = cli("runs", "show", "odd-no-id")
    assert r.returncode == 2 and "lacks id" in r.stderr
