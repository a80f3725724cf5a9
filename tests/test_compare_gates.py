"""Gate expressions: parsing, unknown metrics and labels, checking."""

from __future__ import annotations

import pytest

from smishctl.core.errors import ConfigError
from smishctl.score.gates import NoRegressionGate, bound, check_gate, metric_value, parse_gate

LABELS = ("ham", "spam", "smishing")


@pytest.mark.parametrize(("text", "metric", "label", "op", "value"), [
    ("macro_f1>=0.80", "macro_f1", None, ">=", 0.8),
    ("recall[smishing]>=0.90", "recall", "smishing", ">=", 0.9),
    ("  p95_latency_ms <= 800 ", "p95_latency_ms", None, "<=", 800.0),
    ("cost_per_1k<=0.05", "cost_per_1k", None, "<=", 0.05),
    ("error_rate<1e-2", "error_rate", None, "<", 0.01),
    ("f1[ spam ]>.5", "f1", "spam", ">", 0.5),
])
def test_parse_valid_gates(text, metric, label, op, value):
    g = parse_gate(text, LABELS)
    assert (g.metric, g.label, g.op) == (metric, label, op)
    assert g.threshold == pytest.approx(value)


@pytest.mark.parametrize(("text", "message"), [
    ("macro_f1>>0.8", "malformed gate"),
    ("macro_f1", "malformed gate"),
    (">=0.8", "malformed gate"),
    ("macro_f1>=high", "malformed gate"),
    ("macro_f1>=0.8 and accuracy>=0.9", "malformed gate"),
    ("f2>=0.5", "unknown metric 'f2'"),
    ("recall>=0.9", "needs a label"),
    ("macro_f1[ham]>=0.5", "takes no [label]"),
    ("recall[phish]>=0.9", "unknown label 'phish'"),
])
def test_bad_gates_are_usage_errors(text, message):
    with pytest.raises(ConfigError) as err:
        parse_gate(text, LABELS)
    assert message in str(err.value)
    assert err.value.exit_code == 2


METRICS = {
    "n_items": 10, "macro_f1": 0.75, "accuracy": 0.8, "error_rate": 0.0,
    "per_class": {"smishing": {"precision": 0.9, "recall": 0.85, "f1": 0.87}},
    "latency_ms": {"p50": 300.0, "p95": 900.0, "mean": 350.0},
    "tokens": {"prompt": 3000, "completion": 100, "cached": 0}, "cost_per_1k": None,
}


def test_metric_values_from_a_run():
    assert metric_value(METRICS, "recall", "smishing") == 0.85
    assert metric_value(METRICS, "p95_latency_ms") == 900.0
    assert metric_value(METRICS, "tokens_per_msg") == 310.0
    assert metric_value(METRICS, "cost_per_1k") is None


def test_a_per_class_figure_of_a_label_the_run_lacks_is_unknown_not_an_error():
    """A gate on `recall:spam` against a run without that class has no value (the gate reports it
    missing); reading into the absent class must not raise."""
    assert metric_value(METRICS, "recall", "spam") is None
    assert metric_value(METRICS, "f1", "spam") is None
    assert metric_value({**METRICS, "per_class": None}, "precision", "smishing") is None


def test_check_gate_names_the_value():
    failed = check_gate(parse_gate("macro_f1>=0.80"), METRICS)
    assert not failed["passed"] and failed["value"] == 0.75
    assert "macro_f1=0.75" in failed["message"]
    assert check_gate(parse_gate("recall[smishing]>=0.85"), METRICS)["passed"]       # boundary included
    assert not check_gate(parse_gate("p95_latency_ms<=800"), METRICS)["passed"]
    unknown = check_gate(parse_gate("cost_per_1k<=0.05"), METRICS)
    assert not unknown["passed"] and "unknown" in unknown["message"]                  # no price: not a pass


def test_a_named_bound_states_the_relation_that_holds():
    floor = bound("min_macro_f1", "macro_f1", ">=", 0.8)
    res = check_gate(floor, METRICS)
    assert not res["passed"] and res["message"] == "macro_f1=0.75 < 0.8"
    assert check_gate(bound("max_p95", "p95_latency_ms", "<=", 1000), METRICS)["message"] == "p95_latency_ms=900 <= 1000"
    assert check_gate(bound("max_cost", "cost_per_1k", "<=", 1), METRICS)["message"] == "cost_per_1k=unknown > 1"
    with pytest.raises(ValueError):
        bound("min_recall", "recall", ">=", 0.9)  # a label-taking metric has no single value to bound


def test_a_missing_metric_fails_every_bound():
    no_errors_recorded = {"n_items": 10}
    assert not check_gate(parse_gate("error_rate<=0.05"), no_errors_recorded)["passed"]  # unknown fails
    res = check_gate(bound("max_error_rate", "error_rate", "<=", 0.05), no_errors_recorded)
    assert not res["passed"] and res["value"] is None and "unknown" in res["message"]


def _paired(p, diff):
    return {"mcnemar_p": p, "macro_f1_diff": diff, "n_paired": 30, "baseline": "run-base"}


def test_no_regression_gate_fails_only_a_significantly_lower_score():
    gate = NoRegressionGate()
    worse = check_gate(gate, METRICS, paired=_paired(0.01, -0.2))
    assert not worse["passed"] and worse["value"] == 0.01
    assert worse["message"] == "macro-F1 -0.200 vs run-base on 30 items, McNemar p=0.01 < 0.05: significantly worse"
    assert check_gate(gate, METRICS, paired=_paired(0.01, 0.2))["passed"]  # significantly better
    assert check_gate(gate, METRICS, paired=_paired(0.2, -0.2))["passed"]  # not significant
    strict = check_gate(NoRegressionGate(alpha=0.25), METRICS, paired=_paired(0.2, -0.2), baseline="production x")
    assert not strict["passed"] and "vs production x on 30 items" in strict["message"]
    with pytest.raises(ValueError):
        check_gate(gate, METRICS)  # nothing to judge without the paired statistics
