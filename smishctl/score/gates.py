"""Gates, the one evaluator of pass/fail rules for compare and promote.

Two kinds: a bound on one metric of a run (`metric[label] OP number`, e.g. macro_f1>=0.80,
recall[smishing]>=0.9, cost_per_1k<=0.05; a promotion policy key such as min_macro_f1 is one too), and
"not significantly worse than the baseline" on the paired statistics of the same items.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.score.stats import SIGNIFICANCE, significantly_worse

# name -> (description, higher is better, takes a [label])
METRICS: dict[str, tuple[str, bool, bool]] = {
    "accuracy": ("accuracy", True, False),
    "macro_f1": ("macro-F1", True, False),
    "f1": ("F1 of one label", True, True),
    "precision": ("precision of one label", True, True),
    "recall": ("recall of one label", True, True),
    "error_rate": ("share of items that failed (infrastructure)", False, False),
    "invalid_rate": ("share of scored items with an unusable answer", False, False),
    "n_errors": ("number of failed items", False, False),
    "n_invalid": ("number of invalid outputs", False, False),
    "p50_latency_ms": ("median latency (ms)", False, False),
    "p95_latency_ms": ("95th percentile latency (ms)", False, False),
    "mean_latency_ms": ("mean latency (ms)", False, False),
    "tokens_per_msg": ("prompt + completion tokens per message", False, False),
    "cost_per_1k": ("USD per 1,000 messages", False, False),
    "cost_usd": ("total USD of the run", False, False),
    "attack_success_rate": ("share of malicious robustness-set messages classified as ham", False, False),
    "control_ham_accuracy": ("share of the robustness set's ham controls classified as ham", True, False),
    "roc_auc": ("one-vs-rest ROC-AUC of one label, from the label probabilities", True, True),
    "pr_auc": ("one-vs-rest PR-AUC (average precision) of one label", True, True),
    "ece": ("expected calibration error of the top label (10 bins)", False, False),
    "brier": ("multiclass Brier score of the label probabilities", False, False),
}

# Figures of the model call itself: an item answered from the cache made no call (about 1 ms, no tokens,
# no cost), so a run with any cache hit has none of them to judge or rank: they read as unknown.
CALL_METRICS = frozenset({"p50_latency_ms", "p95_latency_ms", "mean_latency_ms", "tokens_per_msg", "cost_per_1k",
                          "cost_usd"})

# The largest share of errored items a run may have and still be compared or promoted ([compare] and
# [promotion] max_error_rate; --max-error-rate): an error is a wrong answer, and many of them mean the
# run measured the endpoint's failures rather than the model.
DEFAULT_MAX_ERROR_RATE = 0.05

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
GATE_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\[\s*(?P<label>[^\]]+?)\s*\])?\s*"
    r"(?P<op>>=|<=|==|>|<)\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Gate:
    """A bound on one metric of a run."""

    metric: str
    label: str | None
    op: str
    threshold: float
    text: str
    # The policy key this bound stands for (min_macro_f1): its message then states the relation that
    # holds (macro_f1=0.7 < 0.8) rather than echoing a gate expression the user never wrote.
    name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.metric}[{self.label}]" if self.label else self.metric


@dataclass(frozen=True)
class NoRegressionGate:
    """Not significantly worse than the baseline on the same items (McNemar p < alpha and a lower macro-F1)."""

    alpha: float = SIGNIFICANCE
    name: str = "no_regression"

    @property
    def text(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        return self.name


def bound(name: str, metric: str, op: str, threshold: float) -> Gate:
    """A gate for a named limit (a policy key or a command-line option) on a label-free metric. A metric
    the run does not have is unknown, and unknown never passes: there is no default value."""
    if metric not in METRICS or METRICS[metric][2]:
        raise ValueError(f"{metric!r} is not a label-free metric")
    return Gate(metric=metric, label=None, op=op, threshold=float(threshold), text=f"{metric}{op}{threshold:g}",
                name=name)


def parse_gate(text: str, labels: tuple[str, ...] | None = None) -> Gate:
    m = GATE_RE.match(text or "")
    if not m:
        raise ConfigError(f"malformed gate {text!r}",
                          hint="write METRIC OP NUMBER, e.g. 'macro_f1>=0.80' or 'recall[smishing]>=0.9'")
    metric, label = m.group("metric").lower(), m.group("label")
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r} in gate {text!r}", hint=f"use one of: {', '.join(METRICS)}")
    takes_label = METRICS[metric][2]
    if takes_label and not label:
        raise ConfigError(f"gate {text!r}: {metric} needs a label, e.g. {metric}[smishing]")
    if label and not takes_label:
        raise ConfigError(f"gate {text!r}: {metric} takes no [label]")
    if label and labels is not None and label not in labels:
        raise ConfigError(f"gate {text!r}: unknown label {label!r}", hint=f"the runs' labels are: {', '.join(labels)}")
    value = float(m.group("value"))
    if not math.isfinite(value):
        raise ConfigError(f"gate {text!r}: the threshold must be a finite number")
    return Gate(metric=metric, label=label, op=m.group("op"), threshold=value, text=text.strip())


def metric_value(metrics: dict[str, Any], metric: str, label: str | None = None) -> float | None:
    """One named metric from a run's metrics (None when unknown, e.g. no price for the model)."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}", hint=f"use one of: {', '.join(METRICS)}")
    if metric in CALL_METRICS and cached_items(metrics):
        return None
    lat = metrics.get("latency_ms") or {}
    if metric in ("roc_auc", "pr_auc"):
        return ((metrics.get("auc") or {}).get(label) or {}).get(metric)
    if metric in ("f1", "precision", "recall"):
        pc = (metrics.get("per_class") or {}).get(label)
        return None if pc is None else pc.get(metric)
    if metric == "p50_latency_ms":
        return lat.get("p50")
    if metric == "p95_latency_ms":
        return lat.get("p95")
    if metric == "mean_latency_ms":
        return lat.get("mean")
    if metric == "tokens_per_msg":
        n = metrics.get("n_items") or 0
        tok = metrics.get("tokens") or {}
        return (tok.get("prompt", 0) + tok.get("completion", 0)) / n if n else None
    return metrics.get(metric)


def cached_items(metrics: dict[str, Any]) -> int:
    """How many of the run's items were answered from the cache."""
    return int(metrics.get("cache_hits") or 0)


def higher_is_better(metric: str) -> bool:
    return METRICS[metric][1]


# The relation that holds when a bound fails, for messages of named bounds.
NEGATED = {">=": "<", "<=": ">", ">": "<=", "<": ">=", "==": "!="}


def check_gate(gate: Gate | NoRegressionGate, metrics: dict[str, Any], *, paired: dict[str, Any] | None = None,
               baseline: str | None = None) -> dict[str, Any]:
    """Pass or fail, the value judged and a message naming it.

    A metric gate reads `metrics`; a no-regression gate reads `paired` (smishctl.ops.compare.paired_stats
    of the run against the baseline), and names the baseline as `baseline` (default: its run id)."""
    if isinstance(gate, NoRegressionGate):
        return _check_no_regression(gate, paired, baseline)
    value = metric_value(metrics, gate.metric, gate.label)
    passed = value is not None and bool(OPS[gate.op](value, gate.threshold))
    if gate.name is not None:
        shown = "unknown" if value is None else f"{value:.4g}"
        message = f"{gate.key}={shown} {gate.op if passed else NEGATED[gate.op]} {gate.threshold:g}"
    elif value is None and gate.metric in CALL_METRICS and cached_items(metrics):
        message = (f"{gate.key} is withheld: {cached_items(metrics)} items were answered from the cache "
                   f"(gate {gate.text}; evaluate again with --no-cache)")
    elif value is None:
        message = f"{gate.key} is unknown for this run (gate {gate.text})"
    else:
        message = f"{gate.key}={value:.4g} {'meets' if passed else 'fails'} {gate.op} {gate.threshold:g}"
    return {"gate": gate.text, "metric": gate.key, "op": gate.op, "threshold": gate.threshold, "value": value,
            "passed": passed, "message": message}


def _check_no_regression(gate: NoRegressionGate, paired: dict[str, Any] | None, baseline: str | None) -> dict[str, Any]:
    if paired is None:
        raise ValueError("a no-regression gate is checked on paired statistics against a baseline")
    p, diff = paired["mcnemar_p"], paired["macro_f1_diff"]
    worse = significantly_worse(p, diff, gate.alpha)
    message = (f"macro-F1 {diff or 0:+.3f} vs {baseline or paired['baseline']} on {paired['n_paired']} items, "
               f"McNemar p={p:.4g}" + (f" < {gate.alpha:g}: significantly worse" if worse else ""))
    return {"gate": gate.text, "metric": "macro_f1", "op": "no_regression", "threshold": gate.alpha, "value": p,
            "passed": not worse, "message": message}
