"""Must-pass sets: the shipped set, strict reading, and the gates of compare/evaluate with every
report listing the misses (classic/tfidf-svm: deterministic and fast)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from smishctl.core.errors import ConfigError, DataError
from smishctl.data.golden import BUNDLED, add_golden, load_golden, parse_golden, remove_golden

OBVIOUS_PRIZE = "WINNER!! As a valued network customer you have been selected to receive a 900 prize reward! To claim call 09061701461"


def test_shipped_set_covers_the_patterns(settings):
    # The set ships inside the package, so a project without datasets/golden/ still finds it.
    assert not (settings.datasets_dir / "golden" / "smishing-basics.csv").exists()
    g = load_golden(settings, "smishing-basics")
    assert g.path == (BUNDLED / "smishing-basics.csv").resolve()
    assert 30 <= len(g.items) <= 40
    assert set(g.labels) == {"ham", "spam", "smishing"}
    notes = " ".join(it["note"] for it in g.items)
    for pattern in ("parcel fee", "tax refund", "bank refund", "account lock", "toll charge", "one-time code",
                    "real delivery notice", "appointment reminder", "ordinary marketing"):
        assert pattern in notes


def test_strict_reading_and_add_remove(settings, tmp_path):
    with pytest.raises(DataError, match="needs the columns text and label"):
        parse_golden(b"message,cls\nhi,ham\n", "x.csv")
    with pytest.raises(DataError, match="x.csv:3: the same message as line 2"):
        parse_golden(b"text,label\nHello  there,ham\nhello there,ham\n", "x.csv")
    with pytest.raises(DataError, match="not valid UTF-8"):
        parse_golden(b"text,label\n\xff\xfe,ham\n", "x.csv")
    with pytest.raises(ConfigError, match="no must-pass set 'nope'"):
        load_golden(settings, "nope")
    assert add_golden(settings, "mine", "Your code is 1234", "ham", "otp")
    assert not add_golden(settings, "mine", "your code is  1234", "ham")  # same message
    assert load_golden(settings, "mine").items[0]["note"] == "otp"
    assert remove_golden(settings, "mine", "Your code is 1234")
    assert not (settings.datasets_dir / "golden" / "mine.csv").exists()


@pytest.fixture()
def golden_file(project):
    path = project / "datasets" / "golden" / "ci.csv"
    path.parent.mkdir(parents=True)
    path.write_text("text,label,note\n"
                    f'"{OBVIOUS_PRIZE}",ham,deliberately wrong expectation\n'
                    '"are we still on for dinner tonight? I can pick you up at 7",ham,chat\n', encoding="utf-8")
    return path


def test_compare_must_pass_miss_fails_the_gate_in_every_report(cli, project, golden_file):
    md, junit, js = project / "s.md", project / "j.xml", project / "c.json"
    r = cli("compare", "--models", "classic/tfidf-svm", "--limit", "20", "--must-pass", "ci",
            "--markdown", str(md), "--junit", str(junit), "--json-file", str(js), "--html", str(project / "r.html"),
            "--no-langfuse",
            env={"COLUMNS": "250"})
    assert r.returncode == 1, r.stderr
    assert "must-pass ci: 1/2 passed, 1 missed" in r.stderr
    assert "deliberately wrong" in r.stdout                               # the terminal lists the miss
    text = md.read_text()
    assert "### Must-pass" in text and "deliberately wrong expectation" in text and "❌ **ci**" in text
    cases = ET.parse(junit).getroot().findall(".//testsuite[@name]")
    suite = next(s for s in cases if s.get("name").startswith("must-pass ci"))
    assert len(suite.findall("testcase")) == 2 and suite.get("failures") == "1"   # one case per message
    failure = suite.find("testcase/failure")
    assert failure.get("message").startswith("expected ham, got s")  # spam or smishing: not ham
    page = (project / "r.html").read_text()
    assert "<h2>Must-pass</h2>" in page and "deliberately wrong expectation" in page
    data = json.loads(js.read_text())
    assert data["exit_code"] == 1 and data["must_pass"][0]["n_passed"] == 1
    assert [c["passed"] for c in data["must_pass"][0]["cases"]] == [False, True]


def test_evaluate_must_pass_prints_misses(cli, project, golden_file):
    r = cli("evaluate", "--model", "classic/tfidf-svm", "--limit", "10", "--must-pass", str(golden_file),
            "--no-langfuse", env={"COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    assert "must-pass ci: 1/2 passed" in r.stdout and "deliberately wrong expectation" in r.stdout


def test_bad_must_pass_is_exit_2_before_any_evaluation(cli, project):
    r = cli("compare", "--models", "classic/tfidf-svm", "--must-pass", "missing-set")
    assert r.returncode == 2 and "no must-pass set 'missing-set'" in r.stderr
    assert not list((project / "runs").glob("*")) if (project / "runs").exists() else True
