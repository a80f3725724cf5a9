"""Quality, latency, token and cost metrics of a run, from its per-item records."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from smishctl.core.records import RunRecord
from smishctl.score.classification import average_precision, confusion_matrix, precision_recall_f1, roc_auc
from smishctl.score.robustness import attack_metrics

INVALID = "<invalid>"
ERROR = "<error>"


def answer(row: dict[str, Any]) -> str:
    """What an item counts as: its label when the model answered one, else a wrong answer of its own."""
    if row["status"] == "ok":
        label: str = row["pred"]
        return label
    return INVALID if row["status"] == "invalid" else ERROR


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def compute_metrics(records: list[dict[str, Any]], labels: tuple[str, ...]) -> dict[str, Any]:
    """Quality is measured over every item: an error (exception, timeout) or an invalid output is a wrong
    answer, never dropped, so a run that failed on most items cannot score well on the few it answered.
    Errors are also counted apart (`n_errors`, `error_rate`), as are invalid outputs."""
    scored = [r for r in records if r["status"] in ("ok", "invalid")]
    errors = [r for r in records if r["status"] == "error"]
    invalid = [r for r in scored if r["status"] == "invalid"]
    gold = [r["gold"] for r in records]
    pred = [answer(r) for r in records]
    out: dict[str, Any] = {
        "n_items": len(records),
        "n_scored": len(scored),
        "n_correct": sum(g == p for g, p in zip(gold, pred, strict=True)),
        "n_errors": len(errors),
        "n_invalid": len(invalid),
        "error_rate": len(errors) / len(records) if records else 0.0,
        "invalid_rate": len(invalid) / len(scored) if scored else 0.0,
    }
    if scored:
        precision, recall, f1, support = precision_recall_f1(gold, pred, labels)
        out["accuracy"] = out["n_correct"] / len(records)
        out["macro_f1"] = float(sum(f1) / len(labels))
        out["per_class"] = {
            lab: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                  "support": int(support[i])}
            for i, lab in enumerate(labels)
        }
        # Predictions outside `labels` (a file scored on a subset of the model's labels) get columns too.
        extra = sorted({p for p in pred if p not in labels and p not in (INVALID, ERROR)})
        cm_labels = list(labels) + extra + ([INVALID] if invalid else []) + ([ERROR] if errors else [])
        cm = confusion_matrix(gold, pred, cm_labels)
        out["confusion"] = {"labels": cm_labels, "matrix": cm.tolist()[: len(labels)]}
    else:
        out.update(accuracy=None, macro_f1=None, per_class={}, confusion={"labels": list(labels), "matrix": []})
    out.update(probability_metrics(records, labels))
    timed = [r["latency_ms"] for r in scored if r.get("latency_ms") is not None]
    out["latency_ms"] = {
        "p50": percentile(timed, 0.5),
        "p95": percentile(timed, 0.95),
        "mean": sum(timed) / len(timed) if timed else None,
    }
    tok = {"prompt": 0, "completion": 0, "cached": 0}
    for r in records:
        u = r.get("usage") or {}
        tok["prompt"] += u.get("prompt_tokens", 0)
        tok["completion"] += u.get("completion_tokens", 0)
        tok["cached"] += u.get("cached_tokens", 0)
    out["tokens"] = tok
    out["cache_hits"] = sum(1 for r in records if r.get("cache_hit"))
    costs = [r["cost_usd"] for r in records if r.get("cost_usd") is not None]
    out["cost_usd"] = sum(costs) if costs else None
    out["cost_per_1k"] = (out["cost_usd"] / len(records) * 1000) if costs and records else None
    return out


ECE_BINS = 10


def _label_order(labels: tuple[str, ...]) -> list[str]:
    """Smishing first: it is the label a phishing filter is judged on."""
    return sorted(labels, key=lambda lab: (lab != "smishing", labels.index(lab)))


def probability_metrics(records: list[dict[str, Any]], labels: tuple[str, ...]) -> dict[str, Any]:
    """From the label probabilities (`probs`): one-vs-rest ROC-AUC and PR-AUC (average precision) per
    label, the multiclass Brier score and the expected calibration error of the top label (10
    equal-width bins). An errored or invalid item counts as a confidently wrong answer: it ranks last for
    its gold label and first for every other, its Brier score is the worst (2) and it sits in the top
    bin, wrong. Empty when no answered item has probabilities."""
    rows = [r for r in records if r.get("status") == "ok" and r.get("probs")]
    if not rows:
        return {}
    failed = [r for r in records if r.get("status") in ("error", "invalid")]

    def onehot_of(items: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        gold = np.array([labels.index(r["gold"]) if r["gold"] in labels else -1 for r in items], dtype=np.int64)
        onehot = np.zeros((len(items), len(labels)))
        known = np.arange(len(items))[gold >= 0]
        onehot[known, gold[gold >= 0]] = 1.0
        return gold, onehot

    p = np.array([[float(r["probs"].get(lab, 0.0)) for lab in labels] for r in rows])
    gold, onehot = onehot_of(rows)
    _, failed_onehot = onehot_of(failed)
    scores = np.vstack([p, 1.0 - failed_onehot])  # the worst ranking a failed item can have
    truth = np.vstack([onehot, failed_onehot])
    per_label = {}
    for lab in _label_order(labels):
        i = labels.index(lab)
        y = truth[:, i]
        both = 0 < y.sum() < len(y)  # AUC needs positives and negatives
        per_label[lab] = {"roc_auc": roc_auc(y, scores[:, i]) if both else None,
                          "pr_auc": average_precision(y, scores[:, i]) if both else None}
    conf = np.concatenate([p.max(axis=1), np.ones(len(failed))])
    hit = np.concatenate([(p.argmax(axis=1) == gold).astype(float), np.zeros(len(failed))])
    brier = np.concatenate([((p - onehot) ** 2).sum(axis=1), np.full(len(failed), 2.0)])
    edges = np.linspace(0, 1, ECE_BINS + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(hit[in_bin].mean() - conf[in_bin].mean())
    return {"auc": per_label, "brier": float(brier.mean()), "ece": float(ece), "n_with_probs": len(rows)}


def run_metrics(records: list[dict[str, Any]], record: dict[str, Any] | RunRecord) -> dict[str, Any]:
    """`compute_metrics` for a run record, plus the metrics of special datasets: on the robustness
    set, the attack success rate (malicious messages classified as ham)."""
    rec = RunRecord.of(record)
    out = compute_metrics(records, rec.labels)
    if rec.dataset_name == "robustness":
        out.update(attack_metrics(records))
    return out
