"""Parsing is bounded: every JSON file smishctl reads goes through one reader (smishctl.util.jsonio) with
a size and a nesting limit, then a check of the types its readers use (smishctl.core.shapes). An odd
record is one clear error where it is opened and a warning where runs are listed, never a
RecursionError, AttributeError or ValueError."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from factories import make_artifact, promotion_run, record_run

import smishctl
from smishctl.core.config import load_settings
from smishctl.core.errors import ConfigError, DataError
from smishctl.data.feedback import parse_reports, read_feedback
from smishctl.ops.evaluate import EvalConfig
from smishctl.store import production as release_store
from smishctl.store.artifacts import MANIFEST
from smishctl.store.runs import RUN_FILE, Run, list_runs
from smishctl.util import jsonio

DEEP = "[" * 100_000 + "]" * 100_000  # Python's parser gives up (RecursionError) near 1,000 levels
CLASSIC = EvalConfig(model="classic/tfidf-svm", dataset="sms-phishing", split="test", limit=12, balanced=True)

# run.json damage -> the text of the one line that names it
ODD_RUNS = {
    "odd-deep": (lambda rec: rec.__setitem__("config", json.loads("[" * 500 + "]" * 500)), "nested more than"),
    "odd-deeper": (None, "nested more than"),  # 100,000 levels: written as text below
    "odd-metrics": (lambda rec: rec.__setitem__("metrics", "great"), "metrics must be an object"),
    "odd-prompt": (lambda rec: rec.__setitem__("prompt", ["zero-shot"]), "prompt must be an object"),
    "odd-items": (lambda rec: rec["dataset"].__setitem__("n_items", "many"), "n_items must be a whole number"),
}


def _odd_copies(settings, good: Run) -> dict[str, str]:
    """Copies of `good` whose run.json holds one odd value each; folder -> what its error says."""
    for name, (damage, _) in ODD_RUNS.items():
        odd = settings.runs_dir / name
        shutil.copytree(good.dir, odd)
        rec = json.loads((odd / RUN_FILE).read_text(encoding="utf-8"))
        rec["id"], rec["created_at"] = name, "2000-01-01T00:00:00+0000"
        if damage:
            damage(rec)
            (odd / RUN_FILE).write_text(json.dumps(rec), encoding="utf-8")
        else:
            text = json.dumps({**rec, "config": "@"})
            (odd / RUN_FILE).write_text(text.replace('"@"', DEEP), encoding="utf-8")
    return {name: why for name, (_, why) in ODD_RUNS.items()}


def _one_line(r) -> str:
    lines = [x for x in r.stderr.splitlines() if not x.startswith("warning:")]
    assert len(lines) == 1 and "unexpected" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_odd_run_json_values_never_break_listing_compare_promote_or_evaluate(settings, cli):
    art = make_artifact(settings, instructions="Label the SMS: ham, spam or smishing.")
    good = Run(settings.runs_dir / promotion_run(settings, art, n=12, run_id="good-run").id)
    odd = _odd_copies(settings, good)

    assert [r.id for r in list_runs(settings.runs_dir)] == ["good-run"]
    r = cli("runs", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in json.loads(r.stdout)] == ["good-run"]
    for name, why in odd.items():
        (line,) = [x for x in r.stderr.splitlines() if f"skipping run {name}:" in x]
        assert why in line
    for name, why in odd.items():
        for args in (("runs", "show", name), ("compare", "good-run", name), ("promote", art.id, "--run", name, "--reason", "test")):
            r = cli(*args)
            assert r.returncode == 2 and why in _one_line(r), (args, r.stderr)
    # A new evaluation looks for a reusable run among them all.
    r = cli("evaluate", "-m", "classic/tfidf-svm", "--limit", "12", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "complete"


def test_nested_or_mistyped_history_promotion_manifest_and_feedback_are_one_clear_error(settings, capsys):
    art = make_artifact(settings)
    # a release as promote writes it, then damaged
    staging = release_store.stage_release(settings, art, {"artifact": art.id, "release": "r0001"})
    release_store.install_release(settings, staging, "r0001")
    release_store.append_history(settings, release_store.HistoryEntry({"action": "promote", "to": {"release": "r0001", "artifact": art.id}}))
    rel = release_store.release_dir(settings, "r0001")
    history = settings.production_dir / release_store.HISTORY
    with open(history, "a", encoding="utf-8") as fh:
        fh.write(DEEP + "\n")
        fh.write(json.dumps({"action": "promote", "to": "r0002"}) + "\n")
    assert [h.to.release for h in release_store.read_history(settings)] == ["r0001"]
    err = capsys.readouterr().err
    assert f"{history}:2 is nested more than" in err and f"{history}:3: to must be an object" in err

    promotion = rel / release_store.RELEASE_FILE
    good = promotion.read_text(encoding="utf-8")
    for bad in (DEEP, json.dumps({**json.loads(good), "metrics": [0.9]})):
        promotion.chmod(0o644)
        promotion.write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match="unreadable|metrics must be"):
            release_store.promotion_record(rel)

    (art.dir / MANIFEST).write_text(DEEP, encoding="utf-8")
    with pytest.raises(DataError, match="nested more than"):
        art.manifest  # noqa: B018
    (art.dir / MANIFEST).write_text(json.dumps({"id": art.id, "files": ["program.json"]}), encoding="utf-8")
    with pytest.raises(DataError, match="files must be an object"):
        art.manifest  # noqa: B018

    feedback = settings.datasets_dir / "feedback" / "sms-phishing.jsonl"
    feedback.parent.mkdir(parents=True)
    feedback.write_text('{"id": "a", "text": "hi", "label": "ham"}\n' + DEEP + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sms-phishing.jsonl:2 is nested more than"):
        read_feedback(settings, "sms-phishing")
    feedback.write_text('{"id": "a", "text": ["hi"], "label": "ham"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"sms-phishing.jsonl:1: text must be a string"):
        read_feedback(settings, "sms-phishing")
    with pytest.raises(DataError, match=r"r.jsonl:1 is nested more than"):
        parse_reports(DEEP.encode(), "r.jsonl")
    with pytest.raises(DataError, match=r"r.jsonl:1: label must be a string"):
        parse_reports(b'{"text": "hi", "label": {"x": 1}}\n', "r.jsonl")


def test_a_deep_prediction_row_is_one_damaged_row(settings):
    run = Run(settings.runs_dir / record_run(settings, CLASSIC).id)
    lines = run.predictions_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = DEEP + "\n"
    lines[4] = json.dumps({**json.loads(lines[4]), "latency_ms": "slow"}) + "\n"
    run.predictions_path.write_text("".join(lines), encoding="utf-8")
    rows, damaged = run.scan_predictions()
    assert len(rows) == 10 and [d.line for d in damaged] == [3, 5]
    assert "nested more than" in damaged[0].reason and "latency_ms must be" in damaged[1].reason
    with pytest.raises(DataError, match=r"predictions.jsonl:3: damaged prediction row \(nested more than"):
        run.predictions()


def test_config_nesting_and_size_are_bounded(project):
    path = project / "smishctl.toml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n[extra]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="nests arrays or tables too deeply"):
        load_settings(project)
    path.write_text(original + "\n# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_settings(project)


def test_the_reader_limits(tmp_path):
    assert jsonio.loads("[" * jsonio.MAX_DEPTH + "]" * jsonio.MAX_DEPTH, where="x") is not None
    assert jsonio.loads('{"a": [' * 30 + "1" + "]}" * 30, where="x") is not None  # 60 levels
    with pytest.raises(jsonio.BadJSON, match="x is nested more than 64 levels"):
        jsonio.loads("[" * (jsonio.MAX_DEPTH + 1) + "]" * (jsonio.MAX_DEPTH + 1), where="x")
    with pytest.raises(jsonio.BadJSON, match="x is nested more than 64 levels"):
        jsonio.loads('{"a": [' * 33 + "1" + "]}" * 33, where="x")  # 66 levels, objects and lists mixed
    # brackets inside strings are text, not nesting
    assert jsonio.loads(json.dumps(["[" * 1000]), where="x") == ["[" * 1000]
    big = tmp_path / "big.json"
    big.write_text(json.dumps("x" * 200), encoding="utf-8")
    with pytest.raises(jsonio.BadJSON, match="big.json is larger than"):
        jsonio.read_json(big, max_bytes=100)
    with pytest.raises(jsonio.BadJSON, match="is not valid JSON"):
        jsonio.loads("{", where="x")
    with pytest.raises(ValueError):  # readers that skip an unreadable file on ValueError keep doing so
        jsonio.loads(b"\xff", where="x")


def test_json_is_decoded_in_one_place():
    """Every JSON read goes through smishctl.util.jsonio (a reader of its own would skip the limits)."""
    allowed = {
        "util/jsonio.py",  # the reader
        "tracking/push.py",  # re-encodes messages already read through the reader, to swap a placeholder
    }
    found = []
    root = Path(smishctl.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("load", "loads")
                    and isinstance(node.value, ast.Name) and node.value.id in ("json", "tomllib")):
                found.append(str(path.relative_to(root)))
    assert sorted(set(found) - allowed) == ["core/config.py"]  # smishctl.toml: TOML, bounded where it is read


def test_a_damaged_manifest_is_skipped_by_prompts_list(settings, cli):
    good = make_artifact(settings)
    deep, odd = make_artifact(settings), make_artifact(settings)
    (deep.dir / MANIFEST).write_text(DEEP, encoding="utf-8")
    manifest = json.loads((odd.dir / MANIFEST).read_text(encoding="utf-8"))
    (odd.dir / MANIFEST).write_text(json.dumps({**manifest, "dev_metrics": "great"}), encoding="utf-8")
    r = cli("prompts", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert [m["id"] for m in json.loads(r.stdout)] == [good.id]
    assert f"warning: skipping prompt {deep.id}:" in r.stderr
    assert f"warning: skipping prompt {odd.id}:" in r.stderr and "dev_metrics must be an object" in r.stderr
