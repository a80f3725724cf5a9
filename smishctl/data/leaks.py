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

_WORD = re.compile(r"(?u)\b\w\w+\b|_\w+_")  # the tokens masked_vectorizer sees
# Punctuation that never belongs in a link or address, between two word characters (www!shop!com).
_JOINED = re.compile(r"(?<=\w)[!,;*|'\"`^~]+(?=\w)")


def unobfuscate(text: str) -> str:
    """Such punctuation becomes a dot, so that a link or address written www!shop!com or pay@bank;co;uk
    is masked as one, as its plain form is (a path's / and : are left alone)."""
    return _JOINED.sub(".", text)


def template_key(text: str) -> str:
    """The words the template grouping sees, in order: equal for copies that differ only in case,
    spacing, punctuation, a one-letter word or a masked variable part (so every message without a word
    of two letters, such as ":)" or "k.", is one empty template: there is nothing else to tell)."""
    return _key(mask(unobfuscate(text)))


def _key(masked: str) -> str:
    return " ".join(_WORD.findall(masked))


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
    at least `threshold` (features fitted on both sides, links unobfuscated). Each text is masked once;
    sparse and chunked: ~5k x 1.2k messages in about a second."""
    masked = [mask(unobfuscate(t)) for t in [*learned, *scored]]
    keys = [_key(m) for m in masked]
    n = len(learned)
    found = _equal_keys(keys[:n], keys[n:])
    if not n or not scored:
        return found
    try:
        matrix = _vectorizer().fit_transform(masked)
    except ValueError:  # no word at all in any text: the keys said everything
        return found
    return _with_cosines(found, matrix[:n], matrix[n:], threshold)


def split_near_copies(ds, learned: Sequence[str], scored: Sequence[str]) -> NearCopies:
    """The same comparison between texts of a dataset's own splits, made as the split was drawn: the
    `exact` policy compares identical text; `template` compares identical text and the masked cosine
    at its threshold, with the features fitted on the whole dataset (smishctl.data.templates), so an
    honest split never counts as leaking."""
    prov = ds.provenance
    found = _equal_keys([text_key(t) for t in learned], [text_key(t) for t in scored])
    if prov.get("split_policy", "exact") == "exact" or not learned or not scored:
        return found
    corpus = [ex.text for items in ds.splits.values() for ex in items]
    matrix = _vectorizer().fit_transform([mask(t) for t in corpus]).tocsr()
    row = {t: i for i, t in enumerate(corpus)}  # learned and scored are texts of its splits: rows already
    threshold = float(prov.get("template_threshold", DEFAULT_THRESHOLD))
    return _with_cosines(found, matrix[[row[t] for t in learned]], matrix[[row[t] for t in scored]], threshold)


def _vectorizer():
    return masked_vectorizer().set_params(preprocessor=None)  # the texts come masked


def _equal_keys(keys_l: list[str], keys_s: list[str]) -> NearCopies:
    hit_l, hit_s = np.zeros(len(keys_l), bool), np.zeros(len(keys_s), bool)
    where: dict[str, list[int]] = {}
    for i, k in enumerate(keys_l):
        where.setdefault(k, []).append(i)
    for j, k in enumerate(keys_s):
        if (found := where.get(k)) is not None:
            hit_s[j] = True
            hit_l[found] = True
    return NearCopies(hit_l, hit_s)


def _with_cosines(found: NearCopies, learned, scored, threshold: float) -> NearCopies:
    """`found` plus the pairs whose cosine (rows L2-normalised) reaches the threshold."""
    rows, cols, _ = similar_pairs(scored.tocsr(), threshold, other=learned.tocsr())
    hit_l, hit_s = found.learned.copy(), found.scored.copy()
    hit_s[rows] = True
    hit_l[cols] = True
    return NearCopies(hit_l, hit_s)
