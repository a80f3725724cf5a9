"""A DSPy program whose demonstrations are the training messages most similar to each SMS.

Similarity is TF-IDF cosine over word and character n-grams (scikit-learn): offline, fast, and
strong on SMS, where spam and smishing templates recur with small edits.

With a prior, the model's label probabilities are combined with those of a TF-IDF linear SVM trained
on the same pool, as a weighted geometric mean (a product of experts): the two make different
mistakes (bench/RESULTS.md, "SVM prior"). The SVM is trained when the program is loaded (seconds,
deterministic), from the pool the program stores, so nothing but JSON is saved.
"""

from __future__ import annotations

import threading
from typing import Any

import dspy

from smishctl.signals import load_lists
from smishctl.solve.adapters import decide
from smishctl.solve.calibration import combine_with_prior
from smishctl.solve.classic import make_pipeline, softmax_scores
from smishctl.solve.label_chat import SIGNALS_FORMAT, signals_line, with_signals
from smishctl.solve.signature import KNN_INSTRUCTIONS, make_signature

ORDERS = ("nearest-last", "nearest-first")
DEDUP_COSINE = 0.9  # demos this similar to a nearer demo add prompt tokens, not information
MAX_DEMO_CHARS = 320  # two SMS segments: long demos cost prompt time and rarely decide the label
PRIOR_MODEL = "classic/tfidf-svm"
# The classic models a prior can be (optimize --param prior_model=...). The signal-aware SVM reads the
# bundled reference lists; their hash is stored with the program, so the artifact names what it read.
PRIOR_MODELS = ("classic/tfidf-svm", "classic/tfidf-svm-signals")
# The default search uses weight 0.5, an equal-weight geometric mean: on 300 balanced dev messages it
# gains +0.053 macro-F1 [+0.021, +0.087] over the same program without it (bench/RESULTS.md).


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
                 max_demo_chars: int | None = None, prior_weight: float | None = None,
                 prior_model: str = PRIOR_MODEL, signals: bool = False):
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
        if prior_model not in PRIOR_MODELS:
            raise ValueError(f"unknown prior model {prior_model!r}: use one of {', '.join(PRIOR_MODELS)}")
        self.prior_model = prior_model
        # The SMS and each demo followed by one line of their analyst signals (label_chat.signals_line).
        self.signals = bool(signals)
        # Stored resolved, so a saved program keeps its wording when the defaults change.
        self.instructions = instructions or KNN_INSTRUCTIONS
        self.predict = dspy.Predict(make_signature(self.labels, self.instructions))
        self._vec = tfidf_features()
        self._matrix = self._vec.fit_transform([t for t, _ in self.pool])
        self._prior = None
        self._prior_lock = threading.Lock()
        self.set_prior(prior_weight)

    def set_prior(self, weight: float | None) -> None:
        """Combine with the SVM prior at `weight` (0 < weight < 1), or not at all (None)."""
        if weight is not None and not 0 < weight < 1:
            raise ValueError(f"prior weight {weight} is not between 0 and 1")
        self.prior_weight = weight or None
        if self.prior_weight:
            self._svm()  # trained at load, not on the first message

    def _svm(self):
        with self._prior_lock:
            if self._prior is None:
                self._prior = make_pipeline(self.prior_model.split("/", 1)[1]).fit(
                    [t for t, _ in self.pool], [lab for _, lab in self.pool])
            return self._prior

    def prior_probs(self, sms: str) -> dict[str, float]:
        """The SVM's label probabilities for `sms` (the SVM trained on the pool)."""
        probs = softmax_scores(self._svm(), sms)
        return {lab: probs.get(lab, 0.0) for lab in self.labels}

    def neighbours(self, sms: str) -> list[tuple[str, str]]:
        """The demos for `sms` as (text, label), in prompt order."""
        return [self._demo(i) for i in self._nearest(sms)]

    def _nearest(self, sms: str) -> list[int]:
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
        top = [int(i) for i in top]  # most similar first
        return top if self.order == "nearest-first" else list(reversed(top))

    def _demo(self, i: int, signals: bool = False) -> tuple[str, str]:
        full, label = self.pool[i]
        text = full
        if self.max_demo_chars and len(text) > self.max_demo_chars:
            text = text[: self.max_demo_chars].rstrip() + " …"
        if signals:  # the signals of the whole message, as the SMS to classify gets them
            text = f"{text}\n{signals_line(full)}"
        return text, label

    def chat_inputs(self, sms: str) -> tuple[list[tuple[str, str]], str]:
        """(demos, SMS) as the model is sent them: retrieval and the prior read the bare SMS, the model
        reads it (and each demo) with its signals line when signals are on. prompts show --for uses it."""
        demos = [self._demo(i, self.signals) for i in self._nearest(sms)]
        return demos, with_signals(sms) if self.signals else sms

    def forward(self, sms: str):
        demos, shown = self.chat_inputs(sms)
        pred = self.predict(sms=shown, demos=[dspy.Example(sms=t, label=lab) for t, lab in demos])
        probs = pred.get("probs")
        if self.prior_weight and probs:
            probs = combine_with_prior(probs, self.prior_probs(sms), self.prior_weight)
            # The adapter's decision rule (a recall threshold fitted on dev) applies to what is decided.
            config = getattr(dspy.settings.adapter, "config", None)
            pred["probs"] = probs
            pred["label"] = decide(probs, getattr(config, "decision", None))
        return pred

    def settings(self) -> dict:
        out: dict[str, Any] = {"k": self.k, "order": self.order, "dedup": self.dedup, "max_demo_chars": self.max_demo_chars}
        if self.prior_weight:
            out["prior"] = {"model": self.prior_model, "weight": self.prior_weight}
            if self.prior_model.endswith("-signals"):
                out["prior"]["signals_sha256"] = load_lists().identity["sha256"]
        if self.signals:  # absent when off: programs saved before signals keep their bytes and identity
            out["signals"] = {"format": SIGNALS_FORMAT, "lists_sha256": load_lists().identity["sha256"]}
        return out

    def state(self) -> dict:
        return {"kind": "knn", **self.settings(), "instructions": self.instructions,
                "pool": [{"sms": t, "label": lab} for t, lab in self.pool]}

    @classmethod
    def from_state(cls, state: dict, labels: tuple[str, ...]) -> KNNClassifier:
        if state.get("kind") != "knn":
            raise ValueError("not a kNN program state")
        # Programs saved before order/dedup/truncation existed used nearest-last, no dedup, whole demos.
        prior = state.get("prior") or {}
        if prior.get("signals_sha256") and prior["signals_sha256"] != load_lists().identity["sha256"]:
            raise ValueError("the signal reference lists changed since this program was optimized: its prior would "
                             "not be the one evaluated; optimize it again")
        signals = state.get("signals")
        if signals:
            if not isinstance(signals, dict) or signals.get("format") != SIGNALS_FORMAT:
                raise ValueError(f"the program's signals line {signals!r} is not {SIGNALS_FORMAT!r}: optimize it again")
            if signals.get("lists_sha256") != load_lists().identity["sha256"]:
                raise ValueError("the signal reference lists changed since this program was optimized: its signals "
                                 "line would not be the one evaluated; optimize it again")
        return cls([(p["sms"], p["label"]) for p in state["pool"]], labels, k=state["k"],
                   instructions=state.get("instructions"), order=state.get("order", "nearest-last"),
                   dedup=bool(state.get("dedup", False)), max_demo_chars=state.get("max_demo_chars"),
                   prior_weight=prior.get("weight"), prior_model=prior.get("model", PRIOR_MODEL),
                   signals=bool(signals))
