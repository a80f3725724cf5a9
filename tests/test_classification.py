"""smishctl.score.classification against scikit-learn itself: the same figures, to the last bit (the goldens of
tests/test_compare_golden.py print them in full), on random
runs (answers outside the label set, invalid and failed items, labels nobody predicted or nobody has)
and on scores full of ties, as the label probabilities of a small model are."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from smishctl.score import classification as ours
from smishctl.score.metrics import ERROR, INVALID

LABELS = ("ham", "spam", "smishing")
ANSWERS = (*LABELS, "phishing", INVALID, ERROR)


def _run(seed: int, n: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    gold_labels = LABELS[: rng.integers(1, 4)] if seed % 5 == 0 else LABELS  # some runs lack a class
    if seed % 7 == 3:  # a gold label outside the scored labels (a file scored on the model's labels)
        gold_labels = (*gold_labels, "phishing")
    gold = [str(x) for x in rng.choice(gold_labels, n)]
    weights = rng.dirichlet(np.ones(len(ANSWERS)))
    pred = [str(x) for x in rng.choice(ANSWERS, n, p=weights)]
    return gold, pred


@pytest.mark.parametrize("seed", range(40))
def test_precision_recall_f1_and_support_are_scikit_learns(seed):
    gold, pred = _run(seed, n=1 + seed * 7)
    want = sk.precision_recall_fscore_support(gold, pred, labels=list(LABELS), zero_division=0)
    got = ours.precision_recall_f1(gold, pred, LABELS)
    for w, g in zip(want, got, strict=True):
        assert g.tolist() == w.tolist()  # to the last bit: stored figures are checked against these
    assert got[3].dtype.kind == "i"


@pytest.mark.parametrize("seed", range(20))
def test_the_confusion_matrix_is_scikit_learns(seed):
    gold, pred = _run(seed, n=2 + seed * 11)
    cm_labels = [*LABELS, "phishing", INVALID]  # ERROR left out: such items are not counted
    assert ours.confusion_matrix(gold, pred, cm_labels).tolist() == \
        sk.confusion_matrix(gold, pred, labels=cm_labels).tolist()


def _scores(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    truth = rng.integers(0, 2, n).astype(float)
    truth[0], truth[1] = 0.0, 1.0  # both classes
    decimals = (0, 1, 2, 8)[seed % 4]  # 0 decimals: almost every score tied
    scores = np.round(rng.random(n) * 0.6 + truth * rng.random(n) * 0.4, decimals)
    return truth, scores


@pytest.mark.parametrize("seed", range(40))
def test_roc_auc_and_average_precision_are_scikit_learns(seed):
    truth, scores = _scores(seed, n=2 + seed * 13)
    assert ours.roc_auc(truth, scores) == sk.roc_auc_score(truth, scores)
    assert ours.average_precision(truth, scores) == sk.average_precision_score(truth, scores)


def test_perfect_reversed_and_tied_rankings():
    truth = np.array([0.0, 0.0, 1.0, 1.0])
    assert ours.roc_auc(truth, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert ours.roc_auc(truth, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert ours.roc_auc(truth, np.full(4, 0.5)) == 0.5
    assert ours.average_precision(truth, np.full(4, 0.5)) == 0.5  # one step: recall 1 at precision 1/2
    assert ours.average_precision(truth, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_a_label_nobody_has_or_predicts_scores_zero_not_nan():
    p, r, f, s = ours.precision_recall_f1(["ham", "ham"], ["ham", "spam"], ("ham", "spam", "smishing"))
    assert (p.tolist(), r.tolist(), f.tolist(), s.tolist()) == (
        [1.0, 0.0, 0.0], [0.5, 0.0, 0.0], [pytest.approx(2 / 3), 0.0, 0.0], [2, 0, 0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("figure", [ours.roc_auc, ours.average_precision])
def test_a_score_that_is_not_finite_is_refused_as_scikit_learn_refuses_it(figure, bad):
    """Sorted, a NaN ranks above every number: a model answering NaN for its gold label would get a
    perfect ROC-AUC. (Rows with such probabilities are refused as damage when read: test_run_damage.)"""
    truth, scores = np.array([1.0, 0.0, 1.0]), np.array([bad, 0.5, 0.9])
    with pytest.raises(ValueError):
        sk.roc_auc_score(truth, scores)
    with pytest.raises(ValueError, match="not a finite number"):
        figure(truth, scores)
