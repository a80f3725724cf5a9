"""A classical baseline named like a model (`classic/tfidf-svm`): is an LLM worth it at all?

TF-IDF word 1-2-grams + character 2-5-grams and a linear SVM, trained on the train split of the
dataset being evaluated. Same call contract as `smishctl.solver.DSPySolver`:
`solver(text) -> {pred, status, error, raw, latency_ms, usage, cache_hit, cost_usd}`.
Trained in memory on every use (a few seconds, deterministic); never pickled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smishctl.errors import ConfigError
from smishctl.models.pricing import call_cost
from smishctl.models.registry import CLASSIC_PREFIX, ModelSpec


def make_pipeline(kind: str = "tfidf-svm"):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    if kind != "tfidf-svm":
        raise ConfigError(f"unknown classic model {CLASSIC_PREFIX}{kind}", hint=f"use {CLASSIC_PREFIX}tfidf-svm")
    features = FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True,
                                 min_df=2)),
    ])
    return Pipeline([("features", features), ("svm", LinearSVC(C=1.0, random_state=0))])


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
        pipeline = make_pipeline(kind)
        pipeline.fit(texts, gold)
        return cls(pipeline=pipeline, spec=spec, labels=tuple(labels),
                   train_seconds=time.perf_counter() - start, n_train=len(texts))

    def __call__(self, text: str) -> dict:
        start = time.perf_counter()
        row: dict = {"pred": None, "status": "ok", "error": None, "raw": None}
        try:
            label = str(self.pipeline.predict([text])[0])
            if label in self.labels:
                row["pred"] = label
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


def build_classic_solver(spec: ModelSpec, dataset, art, train_dataset=None) -> ClassicSolver:
    """The solver `smishctl evaluate` uses for a classic/ model: trained on the train split of
    `train_dataset` when given (evaluation-only files are never trained on), else of `dataset`."""
    if not art.is_zero_shot:
        raise ConfigError(f"{spec.name} is a classical model and takes no prompt (got {art.id})",
                          hint="drop --prompt, or use zero-shot")
    source = train_dataset or dataset
    return ClassicSolver.train(source.split("train"), source.labels, spec)
