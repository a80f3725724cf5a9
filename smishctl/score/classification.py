"""Per-class precision/recall/F1, the confusion matrix, ROC-AUC and average precision, with numpy.

These are scikit-learn's definitions (`precision_recall_fscore_support(zero_division=0)`,
`confusion_matrix`, `roc_auc_score`, `average_precision_score`), computed here because every command
that reads a run recomputes its figures from its rows (smishctl.score.evidence), and importing
scikit-learn (which imports scipy.stats) costs more than half a second each time: most of what a
`promote` of a recorded candidate spent. tests/test_classification.py checks these against
scikit-learn itself on random inputs, ties and empty classes included.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def precision_recall_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1, support) per label in `labels`; 0 where a ratio has nothing to divide.
    Every item counts: a prediction outside `labels` is a miss for its gold label."""
    g, p = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    tp = np.array([np.sum((g == lab) & (p == lab)) for lab in labels], dtype=np.float64)
    support = np.array([np.sum(g == lab) for lab in labels], dtype=np.int64)
    predicted = np.array([np.sum(p == lab) for lab in labels], dtype=np.float64)
    precision = _divide(tp, predicted)
    recall = _divide(tp, support.astype(np.float64))
    f1 = _divide(2 * tp, support + predicted)  # 2PR/(P+R) without the rounding of P and R
    return precision, recall, f1, support


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts of (gold, answer) over `labels` x `labels`: row = gold, column = answer; an item whose gold
    or answer is not in `labels` is not counted."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, pred, strict=True):
        if g in index and p in index:
            out[index[g], index[p]] += 1
    return out


def roc_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for the 0/1 `truth` (which must hold both): the chance that a
    positive outranks a negative, a tie counting half. Summed as scikit-learn sums it (trapezoids
    over the curve without its collinear points), so that the figure is the same to the last bit."""
    fps, tps = _counts_at_thresholds(truth, scores)
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """Precision averaged over the recall steps, one step per distinct score from the highest down (tied
    scores form one step): the sum of (R_k - R_k-1) * P_k, in scikit-learn's order of summation."""
    fps, tps = _counts_at_thresholds(truth, scores)
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def _counts_at_thresholds(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positives, true positives) when every item scoring at least each distinct score, from the
    highest down, is called positive. A score that is no finite number is refused, as scikit-learn
    refuses it: sorted, a NaN would rank above every number."""
    if not np.isfinite(scores).all():
        raise ValueError("a score is not a finite number (NaN or infinite)")
    order = np.argsort(scores, kind="mergesort")[::-1]
    ordered, hits = scores[order], np.asarray(truth, dtype=np.float64)[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    tps = np.cumsum(hits, dtype=np.float64)[last_of_each_score]
    fps = 1 + last_of_each_score.astype(np.float64) - tps
    return fps, tps


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.zeros_like(numerator, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out
