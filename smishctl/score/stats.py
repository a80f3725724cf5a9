"""Paired statistics: exact McNemar test and a seeded bootstrap interval for a macro-F1 difference.

Predictions are integer codes: gold in 0..K-1, predictions in 0..K (K = an invalid output, always
wrong), so that macro-F1 matches `smishctl.score.metrics.compute_metrics` (F1 averaged over the K labels,
0 for a label with no true, predicted or gold items).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

SIGNIFICANCE = 0.05


def discordant(base_correct: ArrayLike, cand_correct: ArrayLike) -> tuple[int, int]:
    """(b, c): items only the baseline got right, items only the candidate got right."""
    base = np.asarray(base_correct, dtype=bool)
    cand = np.asarray(cand_correct, dtype=bool)
    return int(np.sum(base & ~cand)), int(np.sum(~base & cand))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of min(b, c) successes in b + c at p = 0.5."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(min(1.0, binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue))


def macro_f1_codes(gold: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 over the last axis (works on one sample or a (B, n) stack of resamples)."""
    gold = np.asarray(gold)
    pred = np.asarray(pred)
    total = np.zeros(gold.shape[:-1], dtype=float)
    for label in range(k):
        g = gold == label
        p = pred == label
        tp = np.sum(g & p, axis=-1)
        fp = np.sum(~g & p, axis=-1)
        fn = np.sum(g & ~p, axis=-1)
        denom = 2 * tp + fp + fn
        total += np.divide(2 * tp, denom, out=np.zeros_like(total), where=denom > 0)
    return total / k


def bootstrap_macro_f1(gold: ArrayLike, pred: ArrayLike, k: int, *, n_boot: int = 2000, seed: int = 0,
                       confidence: float = 0.95) -> dict[str, Any]:
    """Percentile bootstrap interval of one run's macro-F1 over its items (60 items: about +-0.12)."""
    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    n = len(gold)
    if n == 0:
        return {"value": None, "low": None, "high": None, "n_boot": 0, "seed": seed, "confidence": confidence}
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // n))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        values[start:stop] = macro_f1_codes(gold[idx], pred[idx], k)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return {"value": float(macro_f1_codes(gold, pred, k)), "low": float(low), "high": float(high),
            "n_boot": n_boot, "seed": seed, "confidence": confidence}


def bootstrap_macro_f1_diff(gold: ArrayLike, pred_base: ArrayLike, pred_cand: ArrayLike, k: int, *, n_boot: int = 2000, seed: int = 0,
                            confidence: float = 0.95) -> dict[str, Any]:
    """Paired percentile bootstrap of macro-F1(candidate) - macro-F1(baseline) over the same items."""
    gold = np.asarray(gold, dtype=np.int64)
    pred_base = np.asarray(pred_base, dtype=np.int64)
    pred_cand = np.asarray(pred_cand, dtype=np.int64)
    n = len(gold)
    if n == 0:
        return {"diff": None, "low": None, "high": None, "n_boot": 0, "seed": seed, "confidence": confidence}
    diff = float(macro_f1_codes(gold, pred_cand, k) - macro_f1_codes(gold, pred_base, k))
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // max(n, 1)))  # bound memory: chunk x n index matrix
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        g = gold[idx]
        diffs[start:stop] = macro_f1_codes(g, pred_cand[idx], k) - macro_f1_codes(g, pred_base[idx], k)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return {"diff": diff, "low": float(low), "high": float(high), "n_boot": n_boot, "seed": seed,
            "confidence": confidence}


def significantly_worse(p_value: float | None, diff: float | None, alpha: float = SIGNIFICANCE) -> bool:
    """The no-regression rule: McNemar p < alpha and a lower macro-F1 than the baseline."""
    return p_value is not None and diff is not None and p_value < alpha and diff < 0
