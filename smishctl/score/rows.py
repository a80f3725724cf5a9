"""The rows every rendering of a comparison shows: value per run, best per row, delta to the baseline."""

from __future__ import annotations

from typing import Any

from smishctl.score.gates import CALL_METRICS, cached_items, metric_value

POSITIVE_LABEL = "smishing"
CACHED = "cached"


def is_cached(metrics: dict[str, Any]) -> bool:
    """Any of the run's items was answered from the cache: its speed, token and cost figures
    (smishctl.score.gates.CALL_METRICS) are withheld, never compared or marked best."""
    return cached_items(metrics) > 0


def row_specs(labels: tuple[str, ...]) -> list[tuple[str, str | None, str, str, bool | None]]:
    """(metric, label, title, format, higher_is_better or None for 'no best')."""
    specs: list[Any] = [
        ("n_items", None, "items", "d", None),
        ("accuracy", None, "accuracy", ".3f", True),
        ("macro_f1", None, "macro-F1", ".3f", True),
    ]
    specs += [("f1", lab, f"F1 {lab}", ".3f", True) for lab in labels]
    if POSITIVE_LABEL in labels:
        specs.append(("recall", POSITIVE_LABEL, f"{POSITIVE_LABEL} recall", ".3f", True))
        # From the label probabilities (runs without them show "-"): ranking and calibration.
        specs += [("roc_auc", POSITIVE_LABEL, f"{POSITIVE_LABEL} ROC-AUC", ".3f", True),
                  ("pr_auc", POSITIVE_LABEL, f"{POSITIVE_LABEL} PR-AUC", ".3f", True)]
    specs += [("ece", None, "calibration error (ECE)", ".3f", False), ("brier", None, "Brier score", ".3f", False)]
    specs += [
        ("n_errors", None, "errors", "d", False),
        ("n_invalid", None, "invalid outputs", "d", False),
        ("p50_latency_ms", None, "latency p50 (ms)", ".0f", False),
        ("p95_latency_ms", None, "latency p95 (ms)", ".0f", False),
        ("tokens_per_msg", None, "tokens / message", ".0f", False),
        ("cost_per_1k", None, "USD / 1k messages", ".4f", False),
    ]
    return specs


# Robustness-set runs: the rate of attacks let through, always next to the ham controls' accuracy.
ROBUSTNESS_SPECS = [
    ("attack_success_rate", None, "attack success rate", ".3f", False),
    ("control_ham_accuracy", None, "ham controls kept", ".3f", True),
]


def _value(metrics: dict[str, Any], metric: str, label: str | None) -> Any:
    if metric == "n_items":
        return metrics.get("n_items")
    return metric_value(metrics, metric, label)


def build_rows(metrics_list: list[dict[str, Any]], labels: tuple[str, ...], baseline_index: int | None,
               unranked: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """One row per metric, a value per run. A row's `cached` lists the runs whose value of a call metric
    is withheld (see `is_cached`): left out of `best` and `deltas`, and shown as CACHED. Runs in
    `unranked` (over the error budget) are shown but never marked best."""
    rows = []
    specs = row_specs(labels)
    if any(m.get("attack_success_rate") is not None for m in metrics_list):
        specs[3:3] = ROBUSTNESS_SPECS
    cached_runs = [i for i, m in enumerate(metrics_list) if is_cached(m)]
    for metric, label, title, fmt, hib in specs:
        values = [_value(m, metric, label) for m in metrics_list]
        cached = cached_runs if metric in CALL_METRICS else []
        known = [(i, v) for i, v in enumerate(values) if v is not None and i not in cached]
        ranked = [(i, v) for i, v in known if i not in unranked]
        best: list[int] = []
        if hib is not None and len(ranked) > 1:
            target = max(v for _, v in ranked) if hib else min(v for _, v in ranked)
            best = [i for i, v in ranked if abs(v - target) <= 1e-12]
            if len(best) == len(ranked):  # everyone ties: nothing to mark
                best = []
        deltas = None
        if baseline_index is not None and len(values) > 1:
            base = values[baseline_index]
            deltas = [None if (v is None or base is None or i == baseline_index or i in cached
                               or baseline_index in cached) else v - base
                      for i, v in enumerate(values)]
        key = f"{metric}[{label}]" if label else metric
        rows.append({"key": key, "title": title, "format": fmt, "higher_is_better": hib, "values": values,
                     "best": best, "deltas": deltas, "cached": cached})
    return rows


def fmt_value(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "d":
        return str(int(value))
    return format(value, fmt)


def fmt_cell(row: dict[str, Any], i: int) -> str:
    """Run i's value in `row` as text: CACHED where the value is a cache's, not the model's."""
    return CACHED if i in row.get("cached", ()) else fmt_value(row["values"][i], row["format"])


def fmt_delta(delta: Any, fmt: str) -> str:
    if delta is None:
        return ""
    if fmt == "d":
        return f"{int(delta):+d}"
    return format(delta, "+" + fmt)
