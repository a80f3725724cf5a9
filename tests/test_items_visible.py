"""Every item is visible: `runs show --errors/--items` lists a run's messages with gold label and answer,
`compare --diff` and the reports list the items runs answer differently, and at 80 columns nothing is
wider than the terminal while the legend names every run whole."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from factories import make_artifact, record_run
from rich.console import Console

from smishctl.cli.tables import Column, fit_table, print_fitted
from smishctl.core.records import Prediction
from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.evaluate import EvalConfig
from smishctl.ops.items import answer
from smishctl.ops.pairing import load_run
from smishctl.report.html import render_html
from smishctl.report.markdown import render_markdown
from smishctl.store.runs import Run, open_run, short_refs

COLS = {"COLUMNS": "80"}
N = 30


def _config(prompt: str = "zero-shot") -> EvalConfig:
    return EvalConfig(model="local/qwen2.5-coder-0.5b", prompt=prompt, dataset="sms-phishing", limit=N, balanced=True)


def _preds(settings, run_id: str) -> list[Prediction]:
    rows, damaged = open_run(settings.runs_dir, run_id).scan_predictions()
    assert not damaged
    return [Prediction.from_dict(r) for r in rows]


def _assert_fits(text: str, width: int = 80) -> None:
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, "\n".join(too_long)


def test_runs_show_names_the_run_and_lists_its_wrong_items_at_80_columns(settings, cli):
    rec = record_run(settings, _config(), wrong={1, 2, 4}, errors={3}, probs=True)  # as a classic model records them
    wrong = [p for p in _preds(settings, rec.id) if not (p.status == "ok" and p.pred == p.gold)]
    assert len(wrong) == 4

    r = cli("runs", "show", rec.id, env=COLS)
    assert r.returncode == 0, r.stderr
    _assert_fits(r.stdout)
    top = r.stdout.splitlines()[:6]
    assert any(line.split()[:2] == ["model", "local/qwen2.5-coder-0.5b"] for line in top), top
    assert any(line.split()[:2] == ["prompt", "zero-shot"] for line in top), top
    assert any(line.split()[:2] == ["dataset", "sms-phishing/test"] for line in top), top

    r = cli("runs", "show", rec.id, "--errors", env=COLS)
    assert r.returncode == 0, r.stderr
    _assert_fits(r.stdout)
    listed = [line.split() for line in r.stdout.splitlines() if line.split()[1:2] in ([p.item_id] for p in wrong)]
    assert [cells[1] for cells in listed] == [p.item_id for p in wrong]
    for cells, p in zip(listed, wrong, strict=True):
        assert cells[2:4] == [p.gold, answer(p)]  # gold, then the answer (`error` for the failed call)
        if p.status == "ok":
            assert cells[4] == "0.80"  # the probability of the predicted label
        assert p.text.split()[0] in cells[5]  # the message, shortened to the width
    assert f"4 wrong, invalid or failed items of {N}" in r.stdout

    r = cli("runs", "show", rec.id, "--errors", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [g["item_id"] for g in got] == [p.item_id for p in wrong]
    assert [g["text"] for g in got] == [p.text for p in wrong]  # whole texts in JSON
    assert {g["status"] for g in got} == {"ok", "error"} and not any(g["correct"] for g in got)
    assert got[0]["probs"] == pytest.approx({"ham": 0.1, "spam": 0.1, "smishing": 0.1, got[0]["pred"]: 0.8})

    r = cli("runs", "show", rec.id, "--items", "--limit", "5", "--json")
    assert [g["item_id"] for g in json.loads(r.stdout)] == [p.item_id for p in _preds(settings, rec.id)[:5]]
    r = cli("runs", "show", rec.id, "--items", "-n", "5", env=COLS)
    assert f"{N} items of {N} (first 5 listed" in r.stdout
    r = cli("runs", "show", rec.id, "--items", "--errors")
    assert r.returncode == 2 and "not both" in r.stderr


def test_compare_diff_at_80_columns_has_short_headers_and_a_whole_legend(settings, cli):
    arts = [make_artifact(settings, instructions=f"Label the SMS, take {k}.") for k in (1, 2)]
    recs = [record_run(settings, _config(arts[0].id), wrong={1, 2}),
            record_run(settings, _config(arts[1].id), wrong={2, 5, 7}, errors={9}),
            record_run(settings, _config(), wrong={5})]
    preds = [{p.item_id: p for p in _preds(settings, rec.id)} for rec in recs]
    differ = [i for i in preds[0] if len({answer(p[i]) for p in preds}) > 1]
    assert len(differ) == 5
    refs = short_refs([r.id for r in recs])

    r = cli("compare", *[rec.id for rec in recs], "--diff", env=COLS)
    assert r.returncode == 0, r.stderr
    _assert_fits(r.stdout)
    text = r.stdout
    for rec in recs:
        assert rec.id in text and rec.prompt_id in text  # whole, in the legend under the table
        assert refs[rec.id] != rec.id
    heading = text[:text.index("accuracy")]  # the verdict lines and the table's header
    assert f"{refs[recs[0].id]} (baseline)" in heading and refs[recs[2].id] in heading
    assert not any(rec.id in heading or rec.prompt_id in heading for rec in recs)  # short refs only
    assert f"5 of {N} common items answered differently" in text
    # at 80 columns the item ids give their room to the messages; each row: gold, one answer per run, text
    expected = sorted([preds[0][i].gold, *(answer(p[i]) for p in preds)] for i in differ)
    start = text.index("answered differently")
    found = sorted(line.split()[:4] for line in text[start:].splitlines()[3:] if line.split()[:1] in
                   ([g] for g in ("ham", "spam", "smishing")))
    assert found == expected  # one column per run, in order
    r = cli("compare", *[rec.id for rec in recs], "--diff", "--wide", env=COLS)
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.split()[:1] in ([i] for i in differ)}
    assert sorted(rows) == sorted(differ)
    for item_id, cells in rows.items():
        assert cells[1] == preds[0][item_id].gold
        assert cells[2:5] == [answer(p[item_id]) for p in preds]

    r = cli("compare", *[rec.id for rec in recs], env=COLS)
    assert r.returncode == 0 and "answered differently" not in r.stdout


def test_a_run_outside_the_store_gets_a_letter_in_the_headers(settings, cli, tmp_path):
    inside = record_run(settings, _config(), wrong={1})
    moved = record_run(settings, _config(), wrong={2}, run_id="copied-from-ci-20260101-000000-local-model-zero-shot")
    outside = tmp_path / "ci" / moved.id
    shutil.move(str(settings.runs_dir / moved.id), outside)
    r = cli("compare", inside.id, str(outside), "--diff", env=COLS)
    assert r.returncode == 0, r.stderr
    _assert_fits(r.stdout)
    assert any(line.split()[:2] == ["B", moved.id] for line in r.stdout.splitlines()), r.stdout
    assert any(line.split()[:3] == ["gold", short_refs([inside.id])[inside.id], "B"] and line.split()[3] == "text"
               for line in r.stdout.splitlines()), r.stdout


def test_reports_list_the_disagreements_capped(settings, tmp_path):
    a = record_run(settings, _config(), wrong={1, 2, 3})
    b = record_run(settings, _config(), wrong={4})
    runs = [load_run(settings.runs_dir, x.id) for x in (a, b)]
    cmp = compare_runs(runs, options=CompareOptions(diff_limit=2))
    assert cmp.diff.n == 4 and len(cmp.diff.items) == 2 and cmp.diff.left_out == 2
    md = render_markdown(cmp)
    assert "### Items answered differently" in md and "the first 2 are listed, 2 left out" in md
    table = md.split("### Items answered differently")[1]
    assert "| item | gold | A | B | text |" in table
    for it in cmp.diff.items:
        assert f"| `{it.item_id}` | {it.gold} |" in table
    assert "**A** · " in md and f"`{a.id}`" in md  # the letters are named in the metrics table


def test_html_diff_filters_and_sorts_in_headless_chromium(settings, tmp_path):
    from test_compare_html import _chromium, _run_chromium

    exe = _chromium()
    a = record_run(settings, _config(), wrong={1, 2, 3})
    b = record_run(settings, _config(), wrong={4, 5})
    cmp = compare_runs([load_run(settings.runs_dir, x.id) for x in (a, b)])
    ids = [it.item_id for it in cmp.diff.items]
    assert len(ids) == 5
    page = tmp_path / "report.html"
    page.write_text(render_html(cmp), encoding="utf-8")

    def dom(fragment: str) -> str:
        r = _run_chromium(exe, tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri() + fragment)
        assert r.returncode == 0, r.stderr[-500:]
        assert 'data-ready="1"' in r.stdout
        return r.stdout.split('<table class="diff"')[1].split("</table>")[0]

    assert 'data-shown="5"' in dom("")
    filtered = dom(f"#filter={ids[3]}")
    assert 'data-shown="1"' in filtered and filtered.count("<tr hidden") == 4
    shown = [row for row in filtered.split("<tr")[1:] if not row.startswith(" hidden")]
    assert ids[3] in shown[-1]
    in_order = dom("#sort=0&dir=desc")
    assert [i for i in sorted(ids, reverse=True)] == sorted(ids, key=in_order.index)


def test_a_shortened_column_cuts_free_text_only_and_keeps_it_literal():
    console = Console(width=60, file=io.StringIO(), highlight=False, no_color=True)
    text = "[bold]WIN[/bold] a prize\x1b[31m now " + "click here " * 20
    rows = [["a3f2c1d0e9b8a7f6", "smishing", text], ["b", "ham", "short"]]
    fitted = fit_table(console, [Column("item"), Column("gold"), Column("text", shorten=True)], rows)
    print_fitted(console, fitted)
    shown = console.file.getvalue()
    _assert_fits(shown, 60)
    assert "a3f2c1d0e9b8a7f6" in shown and "short" in shown
    row = shown.splitlines()[2]
    assert "[bold]WIN[/bold] a prize[31m" in row  # markup shown as text, the escape character dropped
    assert "\x1b" not in shown and row.rstrip().endswith("…") and len(row) >= 58  # cut to fill the width


def test_items_read_a_run_with_a_damaged_row(settings, cli):
    rec = record_run(settings, _config(), wrong={1})
    run = Run(settings.runs_dir / rec.id)
    lines = run.predictions_path.read_bytes().splitlines(keepends=True)
    run.predictions_path.write_bytes(b"".join(lines[:5] + [b"{not json\n"] + lines[5:]))
    r = cli("runs", "show", rec.id, "--items", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == N and "1 damaged prediction row(s) left out" in r.stderr
