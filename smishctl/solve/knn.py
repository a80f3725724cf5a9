"""A DSPy program whose demonstrations are the training messages most similar to each SMS.

Similarity is TF-IDF cosine over word and character n-grams (scikit-learn): offline, fast, and
strong on SMS, where spam and smishing templates recur with small edits.
"""

from __future__ import annotations

import dspy

from smishctl.solve.signature import KNN_INSTRUCTIONS, make_signature

ORDERS = ("nearest-last", "nearest-first")
DEDUP_COSINE = 0.9  # demos this similar to a nearer demo add prompt tokens, not information
MAX_DEMO_CHARS = 320  # two SMS segments: long demos cost prompt time and rarely decide the label


def tfidf_features():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)),
    ])


class KNNClassifier(dspy.Module):
    def __init__(self, pool: list[tuple[str, str]], labels: tuple[str, ...], k: int = 8,
                 instructions: str | None = None, order: str = "nearest-last", dedup: bool = False,
                 max_demo_chars: int | None = None):
        super().__init__()
        if not pool:
            raise ValueError("the kNN pool is empty")
        if order not in ORDERS:
            raise ValueError(f"unknown demo order {order!r}")
        self.pool = list(pool)
        self.labels = tuple(labels)
        self.k = min(k, len(self.pool))
        self.order = order
        self.dedup = dedup
        self.max_demo_chars = max_demo_chars
        # Stored resolved, so a saved program keeps its wording when the defaults change.
        self.instructions = instructions or KNN_INSTRUCTIONS
        self.predict = dspy.Predict(make_signature(self.labels, self.instructions))
        self._vec = tfidf_features()
        self._matrix = self._vec.fit_transform([t for t, _ in self.pool])

    def neighbours(self, sms: str) -> list[tuple[str, str]]:
        sims = (self._matrix @ self._vec.transform([sms]).T).toarray().ravel()
        ranked = sims.argsort()[::-1]
        if not self.dedup:
            top = list(ranked[: self.k])
        else:
            top = []
            for i in ranked[: self.k * 4]:
                row = self._matrix[i]
                if all((row @ self._matrix[j].T).toarray()[0, 0] < DEDUP_COSINE for j in top):
                    top.append(i)
                if len(top) == self.k:
                    break
        demos = [self._demo(i) for i in top]  # most similar first
        return demos if self.order == "nearest-first" else list(reversed(demos))

    def _demo(self, i: int) -> tuple[str, str]:
        text, label = self.pool[i]
        if self.max_demo_chars and len(text) > self.max_demo_chars:
            text = text[: self.max_demo_chars].rstrip() + " …"
        return text, label

    def forward(self, sms: str):
        demos = [dspy.Example(sms=t, label=lab) for t, lab in self.neighbours(sms)]
        return self.predict(sms=sms, demos=demos)

    def settings(self) -> dict:
        return {"k": self.k, "order": self.order, "dedup": self.dedup, "max_demo_chars": self.max_demo_chars}

    def state(self) -> dict:
        return {"kind": "knn", **self.settings(), "instructions": self.instructions,
                "pool": [{"sms": t, "label": lab} for t, lab in self.pool]}

    @classmethod
    def from_state(cls, state: dict, labels: tuple[str, ...]) -> KNNClassifier:
        if state.get("kind") != "knn":
            raise ValueError("not a kNN program state")
        # Programs saved before order/dedup/truncation existed used nearest-last, no dedup, whole demos.
        return cls([(p["sms"], p["label"]) for p in state["pool"]], labels, k=state["k"],
                   instructions=state.get("instructions"), order=state.get("order", "nearest-last"),
                   dedup=bool(state.get("dedup", False)), max_demo_chars=state.get("max_demo_chars"))
