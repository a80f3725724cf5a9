"""Decisions fitted on dev rows: cross-validated calibration and a recall threshold (no model)."""

from __future__ import annotations

import random

import pytest

from smishctl.core.errors import ConfigError
from smishctl.solve.calibration import cross_validated_bias, fit_bias, redecide, threshold_for_recall

LABELS = ("ham", "spam", "smishing")


def _rows(n_per_label: int, skew: dict, seed: int = 0) -> list[dict]:
    """Rows whose probabilities are right on average but shifted by `skew` (a mis-calibrated model)."""
    import math

    rng = random.Random(seed)
    rows = []
    for gold in LABELS:
        for _ in range(n_per_label):
            logits = {lab: (1.5 if lab == gold else 0.0) + rng.gauss(0, 1.0) + skew.get(lab, 0.0) for lab in LABELS}
            z = sum(math.exp(v) for v in logits.values())
            probs = {lab: math.exp(v) / z for lab, v in logits.items()}
            rows.append({"gold": gold, "status": "ok", "probs": probs, "pred": max(probs, key=probs.get)})
    return rows


def test_a_systematic_skew_is_corrected_and_kept():
    rows = _rows(30, {"smishing": 2.5})
    cv = cross_validated_bias(rows, LABELS)
    assert cv["kept"] and cv["cv_macro_f1_calibrated"] > cv["cv_macro_f1_plain"] + 0.01
    assert cv["bias"]["smishing"] < -1.0  # it learned to pull smishing down


def test_a_well_calibrated_model_keeps_no_bias():
    cv = cross_validated_bias(_rows(30, {}), LABELS)
    assert not cv["kept"] and cv["bias"] == {}


def test_too_few_rows_are_not_calibrated():
    assert cross_validated_bias(_rows(2, {"smishing": 2.0}), LABELS)["kept"] is False


def test_fit_bias_is_zero_for_the_first_label_and_redecide_applies_it():
    rows = _rows(20, {"spam": 3.0})
    bias = fit_bias(rows, LABELS)
    assert bias["ham"] == 0.0 and bias["spam"] < 0
    assert sum(r["pred"] == r["gold"] for r in redecide(rows, LABELS, bias)) > sum(r["pred"] == r["gold"] for r in rows)


def test_threshold_reaches_the_recall_target_with_the_highest_threshold():
    rows = _rows(20, {"smishing": -1.5}, seed=3)
    decision = threshold_for_recall(rows, LABELS, "smishing", 0.95)
    decided = redecide(rows, LABELS, None, decision)
    positives = [r for r in decided if r["gold"] == "smishing"]
    recall = sum(r["pred"] == "smishing" for r in positives) / len(positives)
    assert recall >= 0.95 and decision["dev_recall"] == pytest.approx(recall)
    # a slightly higher threshold loses recall: the chosen one is the highest that reaches the target
    higher = redecide(rows, LABELS, None, {**decision, "threshold": decision["threshold"] + 1e-3})
    assert sum(r["pred"] == "smishing" for r in higher if r["gold"] == "smishing") / len(positives) < 0.95


@pytest.mark.parametrize(("label", "target"), [("phish", 0.9), ("smishing", 0.0), ("smishing", 1.5)])
def test_bad_recall_targets_are_errors(label, target):
    with pytest.raises(ConfigError):
        threshold_for_recall(_rows(5, {}), LABELS, label, target)


def test_the_prior_is_a_weighted_geometric_mean():
    from smishctl.solve.calibration import combine_with_prior, with_prior

    llm = {"ham": 0.6, "spam": 0.3, "smishing": 0.1}
    svm = {"ham": 0.1, "spam": 0.2, "smishing": 0.7}
    out = combine_with_prior(llm, svm, 0.5)
    raw = {k: (llm[k] * svm[k]) ** 0.5 for k in llm}
    assert out == pytest.approx({k: v / sum(raw.values()) for k, v in raw.items()})
    assert max(out, key=out.get) == "smishing"  # the model's ham is outvoted by the confident SVM
    assert combine_with_prior(llm, svm, 1e-9) == pytest.approx(llm, abs=1e-6)
    rows = [{"item_id": "a", "status": "ok", "pred": "ham", "probs": llm},
            {"item_id": "b", "status": "invalid", "pred": None, "probs": None}]
    redecided = with_prior(rows, {"a": svm, "b": svm}, 0.5)
    assert redecided[0]["pred"] == "smishing" and redecided[1] == rows[1]
    # A threshold rule decides on the combined probabilities.
    assert with_prior(rows, {"a": svm}, 0.5, {"label": "spam", "threshold": 0.2})[0]["pred"] == "spam"
