"""A DSPy program whose demonstrations are the training messages most similar to each SMS.

Similarity is TF-IDF cosine over word and character n-grams (scikit-learn): offline, fast, and
strong on SMS, where spam and smishing templates recur with small edits.
"""

from __future__ import annotations

import dspy

from smishctl.task import KNN_INSTRUCTIONS, make_signature


class KNNClassifier(dspy.Module):
    def __init__(self, pool: list[tuple[str, str]], labels: tuple[str, ...], k: int = 8,
                 instructions: str | None = None):
        super().__init__()
        if not pool:
            raise ValueError("the kNN pool is empty")
        self.pool = list(pool)
        self.labels = tuple(labels)
        self.k = min(k, len(self.pool))
        # Stored resolved, so a saved program keeps its wording when the defaults change.
        self.instructions = instructions or KNN_INSTRUCTIONS
        self.predict = dspy.Predict(make_signature(self.labels, self.instructions))
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self._vec = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)),
        ])
        self._matrix = self._vec.fit_transform([t for t, _ in self.pool])

    def neighbours(self, sms: str) -> list[tuple[str, str]]:
        sims = (self._matrix @ self._vec.transform([sms]).T).toarray().ravel()
        top = sims.argsort()[::-1][: self.k]
        return [self.pool[i] for i in reversed(top)]  # most similar last, nearest the question

    def forward(self, sms: str):
        demos = [dspy.Example(sms=t, label=lab) for t, lab in self.neighbours(sms)]
        return self.predict(sms=sms, demos=demos)

    def state(self) -> dict:
        return {"kind": "knn", "k": self.k, "instructions": self.instructions,
                "pool": [{"sms": t, "label": lab} for t, lab in self.pool]}

    @classmethod
    def from_state(cls, state: dict, labels: tuple[str, ...]) -> KNNClassifier:
        if state.get("kind") != "knn":
            raise ValueError("not a kNN program state")
        return cls([(p["sms"], p["label"]) for p in state["pool"]], labels, k=state["k"],
                   instructions=state.get("instructions"))
