"""Leaks: a scored message that is a near-copy of a message something learned from.

A scam sent again with another number, URL, case or punctuation is the same message to a retrieval
pool or a TF-IDF model, so an exact-text comparison lets it through. Leaks are therefore judged with
the project's template grouping (smishctl.data.templates): two messages are the same template when
their masked keys are equal (digits, URLs, e-mail addresses and phone numbers masked, punctuation and
case ignored) or their masked TF-IDF cosine reaches the template threshold. This module is the one
place that comparison is made; every caller that trains or retrieves on one set and scores another
asks it (ops/evaluate.py, data/feedback.py).

The dataset's own splits are compared under the policy that drew them (`exact`: identical text;
`template`: its threshold, with the features fitted on the whole dataset as the split was), so an
honest split never counts as leaking (split_near_copies); anything else (a file, another dataset,
user reports, a prompt's demos) is compared at the default template threshold (near_copies).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from smishctl.data.prepare import text_key
from smishctl.data.templates import DEFAULT_THRESHOLD, mask, masked_vectorizer, similar_pairs

_WORD = re.compile(r"\w+")
# Punctuation that never belongs in a link or address, between two word characters (www!shop!com).
_JOINED = re.compile(r"(?<=\w)[!,;*|'\"`^~]+(?=\w)")


def unobfuscate(text: str) -> str:
    """Such punctuation becomes a dot, so that a link or address written www!shop!com or pay@bank;co;uk
    is masked as one, as its plain form is (a path's / and : are left alone)."""
    return _JOINED.sub(".", text)


def template_key(text: str) -> str:
    """Equal for copies that differ only in case, spacing, punctuation or a masked variable part (so
    every message without a word, such as ":)", is one empty template: there is nothing else to tell)."""
    return " ".join(_WORD.findall(mask(unobfuscate(text))))


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


def near_copies(learned: Sequence[str], scored: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> NearCopies:
    """The near-copy pairs between `learned` and `scored`: an equal template key, or a masked cosine of
    at least `threshold` (features fitted on both sides, links unobfuscated). Sparse and chunked:
    ~5k x 1.2k messages in about a second."""
    plain_l, plain_s = [unobfuscate(t) for t in learned], [unobfuscate(t) for t in scored]
    return _pairs(learned, scored, template_key, plain_l, plain_s, threshold, None)


def split_near_copies(ds, learned: Sequence[str], scored: Sequence[str]) -> NearCopies:
    """The same comparison between messages of a dataset's own splits, made as the split was drawn: the
    `exact` policy compares identical text; `template` compares identical text and the masked cosine
    at its threshold, with the features fitted on the whole dataset (smishctl.data.templates), so an
    honest split never counts as leaking."""
    prov = ds.provenance
    if prov.get("split_policy", "exact") == "exact":
        return _pairs(learned, scored, text_key, learned, scored, None, None)
    corpus = [ex.text for items in ds.splits.values() for ex in items]
    threshold = float(prov.get("template_threshold", DEFAULT_THRESHOLD))
    return _pairs(learned, scored, text_key, learned, scored, threshold, corpus)


def _pairs(learned, scored, key, vec_l, vec_s, threshold: float | None, corpus) -> NearCopies:
    hit_l, hit_s = np.zeros(len(learned), bool), np.zeros(len(scored), bool)
    if not len(learned) or not len(scored):
        return NearCopies(hit_l, hit_s)
    where: dict[str, list[int]] = {}
    for i, t in enumerate(learned):
        where.setdefault(key(t), []).append(i)
    for j, t in enumerate(scored):
        if (found := where.get(key(t))) is not None:
            hit_s[j] = True
            hit_l[found] = True
    if threshold is None:
        return NearCopies(hit_l, hit_s)
    vec = masked_vectorizer()
    try:
        vec.fit(corpus if corpus is not None else [*vec_l, *vec_s])
    except ValueError:  # no word at all in any text: the keys said everything
        return NearCopies(hit_l, hit_s)
    rows, cols, _ = similar_pairs(vec.transform(vec_s), threshold, other=vec.transform(vec_l))
    hit_s[rows] = True
    hit_l[cols] = True
    return NearCopies(hit_l, hit_s)
