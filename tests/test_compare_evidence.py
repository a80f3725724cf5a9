"""What compare puts side by side is evidence of the same thing: label sets compared as sets, every
figure of the table measured on the common items (as the paired statistics are), and runs answered
from the cache kept out of the speed and cost comparison."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from factories import write_run
from rich.console import Console

from smishctl.core.comparison import Comparison
from smishctl.core.errors import ConfigError
from smishctl.core.records import Prediction
from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.pairing import load_run
from smishctl.report.html import render_html
from smishctl.report.junit import render_junit
from smishctl.report.markdown import render_markdown
from smishctl.report.terminal import comparison_table
from smishctl.score.metrics import compute_metrics, run_metrics
from smishctl.score.rows import is_cached
from smishctl.store.runs import Run

LABELS = ("ham", "spam", "smishing")


def items(n: int) -> list[tuple[str, str]]:
    return [(f"i{k:03d}", LABELS[k % 3]) for k in range(n)]


def answers(golds: list[tuple[str, str]], wrong: set[int]) -> list[tuple[str, str, str]]:
    """(item_id, gold, pred): gold except at the indices in `wrong` (the next label instead)."""
    return [(iid, g, LABELS[(LABELS.index(g) + 1) % 3] if k in wrong else g) for k, (iid, g) in enumerate(golds)]


def make_run(runs_dir, run_id: str, rows, *, labels=LABELS, latency_ms: float = 400.0,
             cost_usd: float = 0.0002, prompt_tokens: int = 300, cache_hit: bool = False) -> str:
    """A complete run recorded by the run factory (tests/factories.py). Rows answered from the cache
    carry what the solver records for them: no usage, no cost, ~1 ms."""
    preds = [Prediction(item_id=iid, index=k, gold=gold, pred=pred, status="ok", latency_ms=latency_ms + k,
                        usage={} if cache_hit else {"prompt_tokens": prompt_tokens, "completion_tokens": 1},
                        cache_hit=cache_hit, cost_usd=0.0 if cache_hit else cost_usd, text=f"text {iid}")
             for k, (iid, gold, pred) in enumerate(rows)]
    write_run(runs_dir, run_id, preds, prompt_id=f"prompt-{run_id}", labels=labels)
    return run_id


def _compare(settings, *ids) -> dict:
    """The comparison as its smishctl.compare/1 document."""
    return compare_runs([load_run(settings.runs_dir, i) for i in ids]).to_dict()


def _rows(cmp) -> dict:
    return {r["key"]: r for r in cmp["rows"]}


def test_label_lists_in_another_order_compare_in_the_first_runs_order(settings):
    d = settings.runs_dir
    gold = items(30)
    make_run(d, "classic", answers(gold, {1, 2}))
    make_run(d, "zero", answers(gold, {4, 5, 6}), labels=("ham", "smishing", "spam"))
    cmp = _compare(settings, "classic", "zero")
    assert cmp["dataset"]["labels"] == list(LABELS)
    zero = cmp["runs"][1]["metrics"]
    assert zero["confusion"]["labels"][:3] == list(LABELS)
    fresh = compute_metrics([{"gold": g, "pred": p, "status": "ok"} for _, g, p in answers(gold, {4, 5, 6})], LABELS)
    assert _rows(cmp)["macro_f1"]["values"][1] == pytest.approx(fresh["macro_f1"])
    assert _rows(cmp)["f1[spam]"]["values"][1] == pytest.approx(fresh["per_class"]["spam"]["f1"])
    # a label set that really differs is still refused
    make_run(d, "two", [(i, g, g) for i, g in gold if g != "smishing"], labels=("ham", "spam"))
    with pytest.raises(ConfigError, match="different label sets"):
        _compare(settings, "classic", "two")


def test_table_and_json_are_measured_on_the_common_items(settings, cli):
    d = settings.runs_dir
    gold = items(40)
    # "full" is right on the 20 shared items and wrong on most of its other 20: its own macro-F1 is
    # far lower than on the items the comparison shares.
    full = make_run(d, "full", answers(gold, set(range(20, 38))))
    part = make_run(d, "part", answers(gold[:20], {0, 1, 2, 3, 4, 5}))
    cmp = _compare(settings, full, part)
    assert cmp["n_common_items"] == 20 and cmp["runs"][0]["n_items"] == 40
    common = {i for i, _ in gold[:20]}
    expected = []
    for run_id in (full, part):
        run = Run(d / run_id)
        rows = [r for r in run.predictions() if r["item_id"] in common]
        expected.append(run_metrics(rows, run.read())["macro_f1"])
    assert expected[0] != pytest.approx(load_run(d, full).metrics["macro_f1"])  # the case is a real one
    row = _rows(cmp)["macro_f1"]
    assert row["values"] == pytest.approx(expected)
    assert _rows(cmp)["n_items"]["values"] == [20, 20]
    # the table's difference is the paired statistics' difference
    assert row["deltas"][1] == pytest.approx(cmp["stats"][0]["macro_f1_diff"])
    # a gate reads the figure the table shows: "full" is right on every common item
    gated = compare_runs([load_run(d, full), load_run(d, part)], baseline_index=1,
                         options=CompareOptions(gates=["macro_f1>=0.99"])).to_dict()
    assert expected[0] == 1.0 and gated["gates"][0]["value"] == 1.0 and gated["exit_code"] == 0
    r = cli("compare", full, part, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    macro = {x["key"]: x for x in doc["rows"]}["macro_f1"]
    assert macro["values"] == pytest.approx(expected)
    assert [x["metrics"]["macro_f1"] for x in doc["runs"]] == pytest.approx(expected)


def _render(table) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_a_cached_run_is_marked_and_wins_no_speed_or_cost(settings, cli):
    d = settings.runs_dir
    gold = items(30)
    make_run(d, "called", answers(gold, {1}), latency_ms=400.0, cost_usd=0.0002)
    make_run(d, "cached", answers(gold, {1}), latency_ms=1.0, cache_hit=True)
    make_run(d, "slow", answers(gold, {1}), latency_ms=900.0, cost_usd=0.0005, prompt_tokens=600)
    cmp = _compare(settings, "called", "cached", "slow")
    assert [r["cached"] for r in cmp["runs"]] == [False, True, False]
    rows = _rows(cmp)
    for key in ("p50_latency_ms", "p95_latency_ms", "tokens_per_msg", "cost_per_1k"):
        assert rows[key]["best"] == [0], key          # the faster, cheaper run that called the model
        assert rows[key]["cached"] == [1] and rows[key]["deltas"][1] is None, key
    assert rows["macro_f1"]["cached"] == []           # quality of cached answers is still quality

    typed = Comparison.from_dict(cmp)  # the reporters read the typed comparison; the document reads back whole
    assert typed.to_dict() == cmp
    text = _render(comparison_table(typed))
    p50 = next(line for line in text.splitlines() if line.strip().startswith("latency p50"))
    assert p50.split()[3:6] == ["*414", "cached", "914"]  # p50 of 400..429 ms; of 900..929 ms
    md = render_markdown(typed)
    md_p50 = [c.strip() for c in next(x for x in md.splitlines() if x.startswith("| latency p50")).split("|")]
    assert md_p50[2:5] == ["**414**", "cached", "914 (+500)"]
    assert "(cached)<br>`cached`" in md
    html = render_html(typed)
    assert 'class="point' in html and 'data-run="cached" cx=' not in html  # off the cost/latency fronts
    assert 'data-run="called" cx=' in html
    ET.fromstring(render_junit(typed).split("\n", 1)[1])  # still a valid report

    # two runs, one of them cached: nothing to compare speed with, so nothing is starred
    alone = _compare(settings, "called", "cached")
    assert _rows(alone)["p50_latency_ms"]["best"] == []
    r = cli("compare", "called", "cached")
    assert r.returncode == 0, r.stderr
    cli_p50 = next(line for line in r.stdout.splitlines() if line.strip().startswith("latency p50"))
    assert cli_p50.split()[3:] == ["414", "cached"]


def test_any_cache_hit_makes_a_run_cached():
    """Speed and cost are withheld from a run with any cached item (tests/test_figures_from_rows.py
    checks a partly cached run through compare)."""
    assert is_cached({"n_items": 10, "cache_hits": 1})
    assert is_cached({"n_items": 10, "cache_hits": 6})
    assert not is_cached({"n_items": 10, "cache_hits": 0})
    assert not is_cached({"n_items": 0, "cache_hits": 0})
