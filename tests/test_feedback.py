"""Feedback from production: add/import/pull (real Langfuse SDK against the loopback server),
de-duplication, masking, malformed files, and the training pool only (never dev or test)."""

from __future__ import annotations

import json
import re

import pytest
from langfuse_server import PUBLIC_KEY, SECRET_KEY, LangfuseServer

from smishctl.data.feedback import feedback_path, training_feedback
from smishctl.data.prepare import load_dataset_splits

REPORT = "EVRI: your parcel is held, pay the 1.45 GBP redelivery fee at https://evri-redeliver.top/pay/88231 now"


def _lines(settings):
    path = feedback_path(settings, "sms-phishing")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_add_dedup_and_mask(cli, settings):
    r = cli("feedback", "add", REPORT, "--label", "smishing", "--note", "user report", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] == 1
    r = cli("feedback", "add", REPORT.upper(), "--label", "smishing", "--json")     # same text, other case
    assert json.loads(r.stdout) | {"added": 0, "duplicates": 1} == json.loads(r.stdout)
    known = load_dataset_splits(None, settings).split("train")[0]
    r = cli("feedback", "add", known.text, "--label", known.label, "--json")           # already in the dataset
    assert json.loads(r.stdout)["duplicates"] == 1
    r = cli("feedback", "add", "Call 07700 900123 or write to jo@example.com about https://x.top/a/b ref 12345678",
            "--label", "ham", "--mask", "--json")
    assert r.returncode == 0, r.stderr
    rows = _lines(settings)
    assert len(rows) == 2 and rows[0]["note"] == "user report" and rows[0]["source"] == "cli"
    assert rows[1]["masked"] is True
    assert rows[1]["text"] == "Call <phone> or write to <email> about https://x.top/<path> ref <digits>"
    r = cli("feedback", "add", "hello", "--label", "fraud")
    assert r.returncode == 2 and "unknown label 'fraud'" in r.stderr and len(_lines(settings)) == 2


@pytest.mark.parametrize("name,content,message", [
    ("r.csv", b"message,label\nhi,ham\n", "has no column 'text'"),
    ("r.csv", b"text,label\nhi,ham\nwin a prize,fraud\n", "row 3: unknown label 'fraud'"),
    ("r.csv", b"text,label\ncaf\xe9,ham\n", "not valid UTF-8"),
    ("r.csv", b"text,label\n,ham\n", "r.csv:2: missing text"),
    ("r.jsonl", b'{"text": "hi", "label": "ham"}\n{"text": "x"\n', "r.jsonl:2 is not valid JSON"),
])
def test_malformed_import_is_refused_and_writes_nothing(cli, settings, project, name, content, message):
    f = project / name
    f.write_bytes(content)
    r = cli("feedback", "import", str(f))
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not feedback_path(settings, "sms-phishing").exists()


def test_import_is_idempotent(cli, settings, project):
    f = project / "reports.csv"
    f.write_text(f'text,label,note\n"{REPORT}",smishing,app\n"Your code is 552211",ham,otp\n', encoding="utf-8")
    r = cli("feedback", "import", str(f), "--json")
    assert r.returncode == 0, r.stderr and json.loads(r.stdout)["added"] == 2
    r = cli("feedback", "import", str(f), "--json")
    assert json.loads(r.stdout)["added"] == 0 and len(_lines(settings)) == 2
    assert {row["source"] for row in _lines(settings)} == {"import:reports.csv"}


def test_pull_from_langfuse_through_the_sdk(cli, settings):
    srv = LangfuseServer().start()
    try:
        srv.add_trace("a" * 32, {"sms": REPORT})
        srv.add_score("a" * 32, "user_label", "smishing", comment="reported in the app")
        srv.add_trace("b" * 32, "see you at 7 then")
        srv.add_score("b" * 32, "user_label", "ham")
        srv.add_score("b" * 32, "user_label", 1.0, data_type="NUMERIC")   # not a label: skipped
        srv.add_score("c" * 32, "other_score", "spam")                    # another score name: ignored
        env = {"LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY, "LANGFUSE_BASE_URL": srv.url}
        r = cli("feedback", "pull", "--json", env=env)
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        assert res["added"] == 2 and res["skipped"]["not_categorical"] == 1
        assert ("GET", "/api/public/v3/scores") in [(m, p.split("?")[0]) for m, p in srv.requests]
        rows = {row["source"]: row for row in _lines(settings)}
        assert rows["langfuse:" + "a" * 32]["label"] == "smishing"
        assert rows["langfuse:" + "a" * 32]["note"] == "reported in the app"
        assert rows["langfuse:" + "b" * 32]["text"] == "see you at 7 then"
        r = cli("feedback", "pull", "--json", env=env)                     # again: nothing new
        assert json.loads(r.stdout)["added"] == 0
    finally:
        srv.stop()


def test_feedback_never_reaches_dev_or_test(settings):
    ds = load_dataset_splits(None, settings)
    dev_item, test_item = ds.split("dev")[0], ds.split("test")[0]
    path = feedback_path(settings, "sms-phishing")
    path.parent.mkdir(parents=True)
    rows = [{"id": ex.id, "text": ex.text, "label": ex.label} for ex in (dev_item, test_item)]
    rows.append({"id": "feedback00000001", "text": REPORT, "label": "smishing"})
    # Near-copies of held-out messages (punctuation and case changed, a number swapped) never train either.
    rows += [{"id": f"feedback0000000{i}", "text": ex.text.upper().replace(".", "!") + " !!", "label": ex.label}
             for i, ex in enumerate((dev_item, test_item), 2)]
    rows.append({"id": "feedback00000004", "text": re.sub(r"\d", "7", ds.split("test")[1].text) + " x",
                 "label": ds.split("test")[1].label})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples, info = training_feedback(settings, ds)
    assert [e.id for e in examples] == ["feedback00000001"]
    assert info == info | {"reports": 6, "used": 1, "held_out_copies": 5}
    held_out = {e.id for name in ("dev", "test") for e in ds.split(name)}
    assert not {e.id for e in examples} & held_out


@pytest.mark.model
def test_optimize_with_feedback_counts_it_and_trains_on_it(cli, settings):
    r = cli("feedback", "add", REPORT, "--label", "smishing")
    assert r.returncode == 0, r.stderr
    # One kNN candidate with two demos: the subject is the training pool, not the search.
    r = cli("optimize", "--optimizer", "knn", "--param", "k=2", "--train-size", "9", "--dev-size", "3",
            "--with-feedback", "--no-langfuse", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["dataset"]["feedback"]["used"] == 1 and summary["dataset"]["train_size"] == 10
    from smishctl.store.artifacts import resolve_artifact
    from smishctl.util.fs import read_json

    art = resolve_artifact(settings.prompts_dir, summary["artifact"])
    pool = [p["sms"] for p in read_json(art.dir / "program.json")["pool"]]
    assert REPORT in pool


def test_feedback_is_evaluated_whole_and_reviewed(cli, settings, project):
    for text, label in ((REPORT, "smishing"), ("see you at 7 then, bring the keys", "ham")):
        assert cli("feedback", "add", text, "--label", label).returncode == 0
    path = feedback_path(settings, "sms-phishing")
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--dataset", str(path), "--json", "--no-langfuse")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dataset"]["n_items"] == 2 and rec["dataset"]["provenance"]["evaluation_only"]
    sheet = project / "fb.csv"
    r = cli("review", rec["id"], "--export", str(sheet))
    assert r.returncode == 0, r.stderr
    assert len(sheet.read_text(encoding="utf-8").splitlines()) == 3
