"""Leaks: a scored message that is a near-copy of a message something learned from.

A scam sent again with another number, URL, case or punctuation is the same message to a retrieval
pool or a TF-IDF model, so an exact-text comparison lets it through. Leaks are therefore judged with
the project's template grouping (smishctl.data.templates): two messages are the same template when
their masked keys are equal (digits, URLs, e-mail addresses and phone numbers masked, punctuation and
case ignored) or their masked TF-IDF cosine reaches the template threshold. This module is the one
place that comparison is made; every caller that trains or retrieves on one set and scores another
asks it (ops/evaluate.py, data/feedback.py).

The dataset's own splits are compared under the policy that drew them (`exact`: identical text only;
`template`: its threshold, with the features fitted on the whole dataset as the split was), so an
honest split never counts as leaking; anything else (a file, another dataset, user reports) is
compared at the default template threshold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from smishctl.data.prepare import text_key
from smishctl.data.templates import DEFAULT_THRESHOLD, mask, masked_vectorizer, similar_pairs

_WORD = re.compile(r"\w+")


def template_key(text: str) -> str:
    """Equal for copies that differ only in case, spacing, punctuation or a masked variable part (so
    every message without a word, such as ":)", is one empty template: there is nothing else to tell)."""
    return " ".join(_WORD.findall(mask(text)))


@dataclass(frozen=True)
class NearCopies:
    """Which learned and which scored texts belong to a near-copy pair (boolean masks)."""

    learned: np.ndarray
    scored: np.ndarray

    @property
    def n_scored(self) -> int:
        return int(self.scored.sum())

    @property
    def n_learned(self) -> int:
        return int(self.learned.sum())


def near_copies(learned: Sequence[str], scored: Sequence[str], threshold: float | None = DEFAULT_THRESHOLD,
                corpus: Sequence[str] | None = None) -> NearCopies:
    """The near-copy pairs between `learned` and `scored`.

    `threshold` None compares identical text only (the `exact` split policy). `corpus`: the texts the
    features are fitted on (default: both sides), e.g. a whole dataset, so that its own splits are
    compared exactly as they were drawn. Sparse and chunked: ~5k x 1.2k messages in about a second."""
    hit_l, hit_s = np.zeros(len(learned), bool), np.zeros(len(scored), bool)
    if not learned or not scored:
        return NearCopies(hit_l, hit_s)
    key = text_key if threshold is None else template_key
    where: dict[str, list[int]] = {}
    for i, t in enumerate(learned):
        where.setdefault(key(t), []).append(i)
    for j, t in enumerate(scored):
        if (found := where.get(key(t))) is not None:
            hit_s[j] = True
            hit_l[found] = True
    if threshold is not None:
        vec = masked_vectorizer()
        try:
            vec.fit(list(corpus) if corpus is not None else [*learned, *scored])
        except ValueError:  # no word at all in any text: the keys above said everything
            return NearCopies(hit_l, hit_s)
        rows, cols, _ = similar_pairs(vec.transform(scored), threshold, other=vec.transform(learned))
        hit_s[rows] = True
        hit_l[cols] = True
    return NearCopies(hit_l, hit_s)


def split_threshold(ds) -> float | None:
    """How a dataset's own splits are compared: under the policy that drew them (None: exact)."""
    prov = ds.provenance
    if prov.get("split_policy", "exact") == "exact":
        return None
    return float(prov.get("template_threshold", DEFAULT_THRESHOLD))


def dataset_texts(ds) -> list[str]:
    """Every text of a dataset's splits: the corpus its template split was fitted on."""
    return [ex.text for items in ds.splits.values() for ex in items]
