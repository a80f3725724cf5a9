"""A score that is not a finite number (a NaN or infinite label probability in a run's `probs`, which
run.jsonl can hold: Python's json reads and writes NaN and Infinity) is refused by scikit-learn
("Input contains NaN"). smishctl.score.classification instead ranks a NaN above every number, so a model
that answers NaN for its gold label gets a perfect ROC-AUC and average precision."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from smishctl.score import classification as ours
from smishctl.score.metrics import probability_metrics

TRUTH = np.array([1.0, 0.0, 1.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("figure", [ours.roc_auc, ours.average_precision])
def test_a_score_that_is_not_finite_is_refused_as_scikit_learn_refuses_it(figure, bad):
    scores = np.array([bad, 0.5, 0.9])
    with pytest.raises(ValueError):
        sk.roc_auc_score(TRUTH, scores)
    with pytest.raises(ValueError):
        figure(TRUTH, scores)


def test_a_nan_probability_is_refused_or_does_not_make_a_perfect_auc():
    records = [{"gold": "ham", "status": "ok", "pred": "ham", "probs": {"ham": float("nan"), "spam": 0.5}},
               {"gold": "spam", "status": "ok", "pred": "spam", "probs": {"ham": 0.2, "spam": 0.8}},
               {"gold": "ham", "status": "ok", "pred": "ham", "probs": {"ham": 0.9, "spam": 0.1}}]
    try:
        auc = probability_metrics(records, ("ham", "spam"))["auc"]["ham"]
    except ValueError:  # refused, as scikit-learn refused it
        return
    assert auc["roc_auc"] != 1.0 and auc["pr_auc"] != 1.0
