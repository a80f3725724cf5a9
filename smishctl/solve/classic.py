"""Classical baselines named like models: is an LLM worth it at all?

- `classic/tfidf-svm`: TF-IDF word 1-2-grams + character 2-5-grams and a linear SVM.
- `classic/tfidf-svm-signals`: the same TF-IDF features beside the message signals (smishctl.signals:
  one column per signal kind, scaled to [0, 1] and weighted by SIGNAL_WEIGHT), hstacked into the same
  linear SVM: links on a brand's lookalike domain, shorteners, requests for codes weigh in whatever the
  wording. Its identity carries the reference lists' hash (ModelSpec.signals_sha256).
- `:balanced` (either SVM): classes weighted by their inverse frequency (class_weight="balanced").
- `classic/tfidf-knn`: the neighbour vote. The same features and similarity as the kNN prompt
  program (smishctl.solve.knn: word 1-2-grams + char_wb 3-5-grams, cosine), k=8 nearest training
  messages, each voting with its similarity. Any gain of an LLM program over plain retrieval shows
  against this one.

Both are trained on the train split of the dataset being evaluated (with `evaluate --with-feedback`,
plus the user reports of smishctl.data.feedback). Same call contract as
`smishctl.solve.dspy_solver.DSPySolver`, plus label probabilities:
`solver(text) -> {pred, probs, status, error, raw, latency_ms, usage, cache_hit, cost_usd}`.
`probs` maps every dataset label to a probability (summing to 1). For the SVM it is a softmax of the
decision-function scores: the argmax stays the SVM's own prediction and it costs nothing, whereas
CalibratedClassifierCV would train five more SVMs and can change the predicted label. It ranks well
(ROC/PR-AUC) but is not calibrated. For the vote it is each label's share of the vote.
Trained in memory on every use (a few seconds, deterministic); never pickled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smishctl.core.errors import ConfigError
from smishctl.models.pricing import call_cost
from smishctl.models.registry import CLASSIC_PREFIX, ModelSpec
from smishctl.signals import extract, load_lists
from smishctl.signals.features import vector

KNN_K = 8
KNN_VOTE = "weighted"  # or "majority"; chosen on dev (bench/bench_classic.py, bench/RESULTS.md)
# Each TF-IDF part has unit norm. 0.3 was best of 0.15-2 on sms-phishing dev (bench/RESULTS.md, "Signals").
SIGNAL_WEIGHT = 0.3


class SignalFeatures:
    """scikit-learn transformer: texts -> their signal vectors (smishctl.signals.features), times `weight`.
    Stateless: the reference lists are read once, from the project's `[signals]` table."""

    def __init__(self, section: dict | None = None, weight: float = SIGNAL_WEIGHT):
        self.section, self.weight = section, weight

    def get_params(self, deep: bool = True) -> dict:
        return {"section": self.section, "weight": self.weight}

    def set_params(self, **params) -> SignalFeatures:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, texts, labels=None) -> SignalFeatures:
        return self

    def transform(self, texts):
        import numpy as np
        from scipy.sparse import csr_matrix

        lists = load_lists(self.section)
        return csr_matrix(np.array([vector(extract(t, lists)) for t in texts], dtype=float) * self.weight)

    def fit_transform(self, texts, labels=None):
        return self.transform(texts)


def make_pipeline(kind: str = "tfidf-svm", *, balanced: bool = False, signals: dict | None = None):
    """`signals`: the project's `[signals]` table (tfidf-svm-signals reads the lists it extends)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    if kind == "tfidf-knn":
        return NeighbourVote()
    if kind not in ("tfidf-svm", "tfidf-svm-signals"):
        raise ConfigError(f"unknown classic model {CLASSIC_PREFIX}{kind}",
                          hint=f"use {CLASSIC_PREFIX}tfidf-svm, {CLASSIC_PREFIX}tfidf-svm-signals or "
                          f"{CLASSIC_PREFIX}tfidf-knn")
    parts = [
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True,
                                 min_df=2)),
    ]
    if kind == "tfidf-svm-signals":
        parts.append(("signals", SignalFeatures(signals)))
    svm = LinearSVC(C=1.0, random_state=0, class_weight="balanced" if balanced else None)
    return Pipeline([("features", FeatureUnion(parts)), ("svm", svm)])


def softmax_scores(pipeline, text: str) -> dict[str, float]:
    """Softmax of a linear model's decision scores, keyed by class (binary: a sigmoid)."""
    import numpy as np

    scores = np.atleast_1d(pipeline.decision_function([text])[0]).astype(float)
    if len(pipeline.classes_) == 2:
        scores = np.array([0.0, scores[0]])
    e = np.exp(scores - scores.max())
    return {str(c): float(p) for c, p in zip(pipeline.classes_, e / e.sum(), strict=True)}


class NeighbourVote:
    """k nearest training messages by TF-IDF cosine (features as smishctl.solve.knn) vote for a label.

    weighted: each neighbour adds its cosine; majority: each adds one. Ties go to the label of the
    most similar neighbour among the tied labels, so a result never depends on label order.
    """

    def __init__(self, k: int = KNN_K, vote: str = KNN_VOTE):
        if vote not in ("weighted", "majority"):
            raise ConfigError(f"unknown vote {vote!r}", hint="use weighted or majority")
        self.k, self.vote = k, vote

    def fit(self, texts: list[str], labels: list[str]) -> NeighbourVote:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self.features = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=1)),
        ])
        # Each part is L2-normalised: the dot product over the union, halved, is their mean cosine.
        self.matrix = self.features.fit_transform(texts).T.tocsr()
        self.labels = list(labels)
        self.classes_ = sorted(set(labels))
        return self

    def vote_scores(self, text: str) -> tuple[dict[str, float], dict[str, int]]:
        """Each label's share of the vote, and the rank of its most similar neighbour."""
        import numpy as np

        sims = (self.features.transform([text]) @ self.matrix).toarray().ravel() / 2
        k = min(self.k, len(sims))
        top = np.argsort(-sims, kind="stable")[:k]  # stable: equal similarities keep training order
        scores = dict.fromkeys(self.classes_, 0.0)
        first_rank: dict[str, int] = {}
        for rank, i in enumerate(top):
            label = self.labels[i]
            scores[label] += float(sims[i]) if self.vote == "weighted" else 1.0
            first_rank.setdefault(label, rank)
        total = sum(scores.values())
        if total <= 0:  # no shared n-gram with any neighbour: the nearest one's label, by itself
            scores[self.labels[top[0]]] = 1.0
            total = 1.0
            first_rank = {self.labels[top[0]]: 0}
        return {lab: v / total for lab, v in scores.items()}, first_rank

    def predict_proba_one(self, text: str) -> tuple[str, dict[str, float]]:
        probs, first_rank = self.vote_scores(text)
        best = max(probs.values())
        tied = [lab for lab, p in probs.items() if p == best]
        label = min(tied, key=lambda lab: first_rank.get(lab, len(self.labels)))
        return label, probs


def predict_with_probs(model, text: str) -> tuple[str, dict[str, float]]:
    if isinstance(model, NeighbourVote):
        return model.predict_proba_one(text)
    probs = softmax_scores(model, text)
    return str(model.predict([text])[0]), probs


@dataclass
class ClassicSolver:
    pipeline: object
    spec: ModelSpec
    labels: tuple[str, ...]
    train_seconds: float = 0.0
    n_train: int = 0

    @classmethod
    def train(cls, examples, labels: tuple[str, ...], spec: ModelSpec) -> ClassicSolver:
        texts = [ex.text for ex in examples]
        gold = [ex.label for ex in examples]
        if len(set(gold)) < 2:
            raise ConfigError(f"{spec.name} needs at least two labels in the train split")
        kind = spec.extra.get("classic", "tfidf-svm")
        start = time.perf_counter()
        pipeline = make_pipeline(kind, balanced=bool(spec.extra.get("balanced")), signals=spec.extra.get("signals"))
        pipeline.fit(texts, gold)
        return cls(pipeline=pipeline, spec=spec, labels=tuple(labels),
                   train_seconds=time.perf_counter() - start, n_train=len(texts))

    def __call__(self, text: str) -> dict:
        start = time.perf_counter()
        row: dict = {"pred": None, "probs": None, "status": "ok", "error": None, "raw": None}
        try:
            label, probs = predict_with_probs(self.pipeline, text)
            if label in self.labels:
                row["pred"] = label
                row["probs"] = {lab: round(probs.get(lab, 0.0), 6) for lab in self.labels}
            else:
                row.update(status="invalid", raw=label[:500])
        except Exception as exc:  # noqa: BLE001 - same contract as DSPySolver: never raise per item
            row.update(status="error", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        seconds = time.perf_counter() - start
        row["latency_ms"] = round(seconds * 1000, 3)
        row["usage"] = {}
        row["cache_hit"] = False
        row["cost_usd"] = call_cost(self.spec, 0, 0, seconds)
        return row

    def classify(self, text: str) -> str | None:
        return self(text)["pred"]


def build_classic_solver(spec: ModelSpec, dataset, art, train_dataset=None, extra_train=()) -> ClassicSolver:
    """The solver `smishctl evaluate` uses for a classic/ model: trained on the train split of
    `train_dataset` when given (evaluation-only files are never trained on), else of `dataset`, plus
    `extra_train` (user reports, `evaluate --with-feedback`: as `optimize --with-feedback` adds them)."""
    if not art.is_zero_shot:
        raise ConfigError(f"{spec.name} is a classical model and takes no prompt (got {art.id})",
                          hint="drop --prompt, or use zero-shot")
    source = train_dataset or dataset
    return ClassicSolver.train(list(source.split("train")) + list(extra_train), source.labels, spec)
