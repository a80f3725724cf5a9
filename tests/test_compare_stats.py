"""McNemar and bootstrap against hand-computed cases and an sklearn reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from smishctl.score.stats import bootstrap_macro_f1_diff, discordant, macro_f1_codes, mcnemar_exact, significantly_worse


@pytest.mark.parametrize(("b", "c", "expected"), [
    (1, 5, 14 / 64),          # 2 * (C(6,0) + C(6,1)) / 2^6
    (5, 1, 14 / 64),          # symmetric
    (0, 6, 2 / 64),           # 2 * 1 / 2^6
    (2, 10, 158 / 4096),      # 2 * (1 + 12 + 66) / 2^12
    (3, 3, 1.0),              # capped at 1
    (0, 0, 1.0),              # no discordant pairs: no evidence
])
def test_mcnemar_exact_hand_computed(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_discordant_counts_only_disagreements():
    base = [True, True, False, False, True]
    cand = [True, False, True, True, True]
    assert discordant(base, cand) == (1, 2)


def test_macro_f1_codes_matches_sklearn_with_invalid_outputs():
    rng = np.random.default_rng(1)
    k = 3
    gold = rng.integers(0, k, 200)
    pred = rng.integers(0, k + 1, 200)  # k = invalid output, always wrong
    expected = f1_score(gold, pred, labels=list(range(k)), average="macro", zero_division=0)
    assert macro_f1_codes(gold, pred, k) == pytest.approx(expected, abs=1e-12)


def test_macro_f1_codes_counts_absent_label_as_zero():
    # gold only label 0, predicted perfectly: F1(0)=1, F1(1)=0 (no items) -> 0.5, as compute_metrics does
    assert macro_f1_codes(np.zeros(5, int), np.zeros(5, int), 2) == pytest.approx(0.5)


def test_bootstrap_identical_predictions_gives_zero_interval():
    gold = np.array([0, 1, 2] * 10)
    pred = np.array([0, 1, 1] * 10)
    out = bootstrap_macro_f1_diff(gold, pred, pred, 3, n_boot=500, seed=3)
    assert (out["diff"], out["low"], out["high"]) == (0.0, 0.0, 0.0)


def test_bootstrap_constant_difference_hand_computed():
    # k=2, gold always 0; candidate perfect (macro-F1 = (1 + 0) / 2), baseline always invalid (0):
    # every resample has the same difference 0.5.
    gold = np.zeros(20, int)
    out = bootstrap_macro_f1_diff(gold, np.full(20, 2), np.zeros(20, int), 2, n_boot=300, seed=0)
    assert out["diff"] == pytest.approx(0.5)
    assert out["low"] == pytest.approx(0.5) and out["high"] == pytest.approx(0.5)


def test_bootstrap_matches_sklearn_reference_and_is_seeded():
    rng = np.random.default_rng(7)
    n, k, n_boot, seed = 60, 3, 300, 11
    gold = rng.integers(0, k, n)
    base = np.where(rng.random(n) < 0.6, gold, rng.integers(0, k + 1, n))
    cand = np.where(rng.random(n) < 0.8, gold, rng.integers(0, k + 1, n))
    out = bootstrap_macro_f1_diff(gold, base, cand, k, n_boot=n_boot, seed=seed)
    # reference: the same resamples, scored by sklearn
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))

    def f1(g, p):
        return f1_score(g, p, labels=list(range(k)), average="macro", zero_division=0)

    diffs = [f1(gold[i], cand[i]) - f1(gold[i], base[i]) for i in idx]
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    assert out["low"] == pytest.approx(lo, abs=1e-12)
    assert out["high"] == pytest.approx(hi, abs=1e-12)
    assert out["diff"] == pytest.approx(f1(gold, cand) - f1(gold, base), abs=1e-12)
    assert out["low"] <= out["diff"] <= out["high"]
    again = bootstrap_macro_f1_diff(gold, base, cand, k, n_boot=n_boot, seed=seed)
    other = bootstrap_macro_f1_diff(gold, base, cand, k, n_boot=n_boot, seed=seed + 1)
    assert (again["low"], again["high"]) == (out["low"], out["high"])
    assert (other["low"], other["high"]) != (out["low"], out["high"])


def test_significantly_worse_needs_both_significance_and_lower_score():
    assert significantly_worse(0.01, -0.1)
    assert not significantly_worse(0.01, 0.1)    # significantly better
    assert not significantly_worse(0.2, -0.1)    # not significant
    assert not significantly_worse(None, -0.1)


def test_bootstrap_interval_of_one_macro_f1_has_the_width_60_items_give():
    import numpy as np

    from smishctl.score.stats import bootstrap_macro_f1, macro_f1_codes

    rng = np.random.default_rng(1)
    gold = np.repeat([0, 1, 2], 20)  # 60 balanced items
    pred = np.where(rng.random(60) < 0.66, gold, (gold + 1) % 3)  # about two thirds right
    ci = bootstrap_macro_f1(gold, pred, 3, n_boot=2000, seed=0)
    assert ci["value"] == pytest.approx(float(macro_f1_codes(gold, pred, 3)))
    assert ci["low"] < ci["value"] < ci["high"]
    assert 0.18 <= ci["high"] - ci["low"] <= 0.30  # about +-0.12: differences inside it are not gains
    assert bootstrap_macro_f1(gold, pred, 3, seed=0) == ci  # seeded: reproducible
    assert bootstrap_macro_f1([], [], 3)["value"] is None
