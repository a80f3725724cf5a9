"""Template groups: messages that are the same scam (or notice) with another number, URL or address.

SMS spam and smishing recur as templates whose variable parts differ. An exact-text split puts one
copy in train and its sibling in test, which flatters every retrieval-based score. Here such
messages are grouped, so that a whole group lands in one split:

- for grouping only, URLs, e-mail addresses, phone numbers and digit runs become placeholder tokens
  (the example's text is unchanged);
- messages whose masked word TF-IDF cosine is at least the threshold are linked;
- connected components of that graph are the groups.

The similarity is computed in row chunks on sparse matrices, so memory stays small and a ~6k
message dataset groups in about a second.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np

from smishctl.util.fs import atomic_write_bytes
from smishctl.util.hashing import code_fingerprint

DEFAULT_THRESHOLD = 0.8  # see bench/RESULTS.md "Template-aware splits" for the measurement behind it
_CHUNK_ROWS = 512

_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|uk|ly|info|biz|io|gl|"
                  r"ru|cn|xyz|top|link|online|site|club|tk|ml|ga|cf|gq)\b(?:/\S*)?", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# Seven or more digits, possibly separated by spaces, dots, dashes or brackets, optionally with a +.
_PHONE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")
_DIGITS = re.compile(r"\d+")


def mask(text: str) -> str:
    """The text with its variable parts replaced by placeholder tokens (for grouping only)."""
    text = _EMAIL.sub(" _email_ ", text)
    text = _URL.sub(" _url_ ", text)
    text = _PHONE.sub(" _phone_ ", text)
    text = _DIGITS.sub(" _num_ ", text)
    return text.casefold()


def masked_vectorizer():
    """Word 1-2-gram TF-IDF (sublinear tf, L2-normalised) over masked texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=False,
                           token_pattern=r"(?u)\b\w\w+\b|_\w+_", preprocessor=mask)


def similar_pairs(matrix, threshold: float, other=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, cosines) of pairs with cosine >= threshold, chunk by chunk.

    Without `other`: pairs within `matrix`, each once (row < col). With `other`: matrix rows x other rows.
    """
    target = (matrix if other is None else other).T.tocsc()
    rows, cols, sims = [], [], []
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        block = (matrix[start:start + _CHUNK_ROWS] @ target).tocoo()
        keep = block.data >= threshold - 1e-9
        r, c = block.row[keep] + start, block.col[keep]
        if other is None:
            upper = r < c
            r, c = r[upper], c[upper]
            sims.append(block.data[keep][upper])
        else:
            sims.append(block.data[keep])
        rows.append(r)
        cols.append(c)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


# Splitting the default dataset builds this graph in a few seconds (TF-IDF over ~6k texts, plus the
# scikit-learn import), and one command loads a dataset several times (promote: the candidate,
# production, the whole test split). The result depends only on the texts and the threshold, so it is
# kept per process, and on disk when the caller gives a cache folder: every later command skips it.
_GROUPS: dict[tuple[str, float], np.ndarray] = {}
_GROUPS_KEPT = 8
# What computed a cache file, part of its name: this module's source and the libraries that vectorise and
# link (a change to masking, features or linking is a miss, with no version to bump by hand).
_GROUPING_LIBRARIES = ("scikit-learn", "scipy", "numpy")


def template_groups(texts: list[str], threshold: float = DEFAULT_THRESHOLD,
                    cache_dir: Path | None = None) -> np.ndarray:
    """A group number per text: connected components of the masked-cosine >= threshold graph."""
    key = (hashlib.sha256("\0".join(texts).encode()).hexdigest(), float(threshold))
    if key not in _GROUPS:
        if len(_GROUPS) >= _GROUPS_KEPT:
            _GROUPS.pop(next(iter(_GROUPS)))
        path = cache_dir / f"{_grouping_code()}-{key[0]}-{key[1]!r}.npy" if cache_dir is not None else None
        groups = _read_groups(path, len(texts)) if path is not None else None
        if groups is None:
            groups = _template_groups(texts, threshold)
            if path is not None:
                _write_groups(path, groups)
        groups.flags.writeable = False  # shared between callers: nobody may change it
        _GROUPS[key] = groups
    return _GROUPS[key]


def _grouping_code() -> str:
    fingerprint = json.dumps(code_fingerprint([__file__], _GROUPING_LIBRARIES), sort_keys=True)
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


def _read_groups(path: Path, n: int) -> np.ndarray | None:
    """The cached groups, or None when absent or not a plain integer array of one group per text
    in [0, n) (a damaged or foreign file is recomputed, never trusted). Never unpickles."""
    try:
        groups = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if groups.shape != (n,) or groups.dtype.kind not in "iu" or (n and (groups.min() < 0 or groups.max() >= n)):
        return None
    return groups.astype(np.int64, copy=False)


def _write_groups(path: Path, groups: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(groups, dtype=np.int64), allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
    except OSError:  # a read-only cache only costs the next command the recomputation
        pass


def _template_groups(texts: list[str], threshold: float) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(texts)
    if n == 0:
        return np.empty(0, np.int64)
    try:
        matrix = masked_vectorizer().fit_transform(texts)
    except ValueError:  # no token at all (e.g. only punctuation): every text is its own group
        return np.arange(n)
    rows, cols, _ = similar_pairs(matrix, threshold)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels
