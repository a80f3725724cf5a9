"""DSPy adapters for label classification: `score` (label log-probabilities), `chat` (bare-label
generation, strict parsing) and `json` (DSPy's JSONAdapter, the original behaviour).

`score` and `chat` render a classification signature as plain chat turns (smishctl.solve.label_chat): the
instructions in the system turn, each demo as a user turn holding the bare SMS and an assistant turn
holding the bare label, the SMS to classify last. `score` then asks for one token with its top
log-probabilities and gives every label the log-probability of the best token that begins it (labels
that share that token are scored by what follows it: the token is prefilled as the start of the
answer and the next one scored); the labels' probabilities are normalised over the labels, optionally
shifted by a per-label bias (calibration) and decided by argmax or a threshold rule. A provider that
returns no log-probabilities gets `chat`'s path instead: a short bare answer that must be exactly a
label, or the row is invalid.

Signatures that are not `sms -> label` (an optimizer's own proposal or reflection prompts) go to
DSPy's ChatAdapter unchanged, so every optimizer can run with this adapter in its context.
"""

from __future__ import annotations

import logging
import math
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy
from dspy.utils.exceptions import AdapterParseError

from smishctl.core.errors import ConfigError
from smishctl.solve.label_chat import render_label_chat
from smishctl.solve.lm_request import chat_request, logprob_content

ADAPTERS = ("score", "chat", "json")
DEFAULT_ADAPTER = "score"
TOP_LOGPROBS = 20
MIN_PREFIX = 2  # a one-character token ("s", "h") says too little about which label begins
MAX_CONTINUATION = 4  # tokens scored after a shared first token before the labels must differ


class SharedPrefix(Exception):
    """Labels share a first token and the endpoint cannot score what follows it."""

    def __init__(self, labels: list[str]):
        super().__init__(f"labels {', '.join(labels)} begin with the same token")
        self.labels = labels


class NoPrefill(Exception):
    """The endpoint answered afresh instead of continuing a prefilled assistant turn."""


# Score calls ask for one token on purpose; DSPy warns about every such "truncated" answer.
logging.getLogger("dspy.clients.lm").addFilter(
    lambda record: not str(record.getMessage()).startswith("LM response was truncated"))


@dataclass(frozen=True)
class AdapterConfig:
    """What an artifact stores about how its program is rendered and decided."""

    name: str = DEFAULT_ADAPTER
    label_words: dict = field(default_factory=dict)  # label -> the word shown to the model, when different
    bias: dict = field(default_factory=dict)  # label -> added to its log-probability (calibration)
    decision: dict = field(default_factory=dict)  # {"label": L, "threshold": t}: L when p(L) >= t

    def __post_init__(self):
        if self.name not in ADAPTERS:
            raise ConfigError(f"unknown adapter {self.name!r}", hint=f"use one of: {', '.join(ADAPTERS)}")

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        for key in ("label_words", "bias", "decision"):
            if getattr(self, key):
                out[key] = dict(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> AdapterConfig:
        """Artifacts written before adapters were recorded used DSPy's JSONAdapter."""
        if not data:
            return cls(name="json")
        return cls(name=data.get("name", "json"), label_words=dict(data.get("label_words") or {}),
                   bias=dict(data.get("bias") or {}), decision=dict(data.get("decision") or {}))

    def build(self) -> dspy.Adapter:
        if self.name == "json":
            return dspy.JSONAdapter()  # the local backend constrains decoding to the label set
        return LabelAdapter(self)


def signature_labels(signature) -> tuple[str, ...] | None:
    """The labels of an `sms -> label` signature whose label is a Literal; None for anything else."""
    if set(signature.output_fields) != {"label"} or "sms" not in signature.input_fields:
        return None
    args = typing.get_args(signature.output_fields["label"].annotation)
    return tuple(str(a) for a in args) or None


# Endpoints (model string, api_base) seen to ignore `logprobs`: later calls go straight to the chat path.
_NO_LOGPROBS: set[tuple[str, str]] = set()
# Endpoints seen to answer afresh rather than continue a prefilled assistant turn: labels that share a
# first token are generated there (bare label, strict parsing) instead of scored.
_NO_PREFILL: set[tuple[str, str]] = set()
_no_logprobs_lock = threading.Lock()


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def top_tokens(logprobs) -> list[tuple[str, float]]:
    """(token, log-probability) pairs of the first generated token, from a litellm/OpenAI
    `choices[0].logprobs` object or its dict form. Malformed input raises ValueError."""
    content = _get(logprobs, "content")
    if not isinstance(content, list) or not content:
        raise ValueError("log-probabilities have no token content")
    first = content[0]
    entries = _get(first, "top_logprobs") or [first]
    out = []
    for entry in entries:
        token, value = _get(entry, "token"), _get(entry, "logprob")
        if not isinstance(token, str) or isinstance(value, bool) or not isinstance(value, int | float) \
                or math.isnan(value) or value > 1e-6:
            raise ValueError(f"malformed log-probability entry {entry!r:.120}")
        out.append((token, float(value)))
    return out


def _begins(token: str, word: str) -> bool:
    """Whether a first answer token (already stripped and lower-cased) begins a label's word."""
    return word.startswith(token) and (len(token) >= MIN_PREFIX or token == word)


def label_logprobs(tokens: list[tuple[str, float]], words: dict[str, str]) -> dict[str, float | None]:
    """Each label's best log-probability among the tokens that begin its word and no other label's
    (case and leading space ignored, at least two characters, or the whole word). None: no listed
    token begins it alone. A token that begins several labels says nothing about which one follows:
    `shared_tokens` and `continuation_logprobs` score those labels by their continuation."""
    out: dict[str, float | None] = dict.fromkeys(words)
    lower = {label: word.lower() for label, word in words.items()}
    for token, value in tokens:
        t = token.strip().lower()
        if not t:
            continue
        begun = [label for label, w in lower.items() if _begins(t, w)]
        if len(begun) == 1 and ((prev := out[begun[0]]) is None or value > prev):
            out[begun[0]] = value
    return out


def shared_tokens(tokens: list[tuple[str, float]], words: dict[str, str]) -> dict[frozenset, tuple[str, float]]:
    """Listed first tokens that begin two or more labels ("sp" for spam and spoof, or "spam" for spam
    and spammer): the most likely such token for each set of labels it begins."""
    out: dict[frozenset, tuple[str, float]] = {}
    lower = {label: word.lower() for label, word in words.items()}
    for token, value in tokens:
        t = token.strip().lower()
        group = frozenset(label for label, w in lower.items() if t and _begins(t, w))
        if len(group) >= 2 and (group not in out or value > out[group][1]):
            out[group] = (token, value)
    return out


def _ends(token: str) -> bool:
    """A token that closes a bare answer: end of turn (listed as ""), white space or a final period."""
    return token.strip() in ("", ".")


def continuation_logprobs(prefix: str, consumed: str, group: frozenset, words: dict[str, str],
                          next_tokens: Callable[[str], list[tuple[str, float]]], depth: int = 1) -> dict[str, float]:
    """Log-probability of each label of `group` given that the answer begins with `prefix` (whose
    lower-cased text `consumed` begins them all): one more scored token, `next_tokens(prefix)`, after
    it; deeper while a token still begins several of them, up to MAX_CONTINUATION. A label whose next
    token is not listed gets the smallest listed log-probability (an upper bound, as for first tokens)."""
    tokens = next_tokens(prefix)
    floor = min(v for _, v in tokens)
    rest = {label: words[label].lower()[len(consumed):] for label in group}
    best: dict[str, float | None] = dict.fromkeys(group)
    deeper: dict[frozenset, tuple[str, float]] = {}
    for token, value in tokens:
        t = token.lower()
        begun = frozenset(label for label, r in rest.items() if (r and t and r.startswith(t)) or (not r and _ends(t)))
        if len(begun) == 1:
            label = next(iter(begun))
            best[label] = value if (prev := best[label]) is None else max(prev, value)
        elif len(begun) >= 2 and depth < MAX_CONTINUATION and (begun not in deeper or value > deeper[begun][1]):
            deeper[begun] = (token, value)
    for sub, (token, value) in deeper.items():
        for label, v in continuation_logprobs(prefix + token, consumed + token.lower(), sub, words, next_tokens,
                                              depth + 1).items():
            if (prev := best[label]) is None or value + v > prev:
                best[label] = value + v
    return {label: floor if v is None else v for label, v in best.items()}


def normalise(logps: dict[str, float]) -> dict[str, float]:
    top = max(logps.values())
    exp = {k: math.exp(v - top) for k, v in logps.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def decide(probs: dict[str, float], decision: dict | None) -> str:
    """Argmax, or the threshold rule: the rule's label when its probability reaches the threshold,
    otherwise the most probable of the other labels."""
    if decision and decision.get("label") in probs:
        target, threshold = decision["label"], float(decision["threshold"])
        if probs[target] >= threshold:
            return target
        others = {k: v for k, v in probs.items() if k != target}
        return max(others, key=lambda k: others[k])
    return max(probs, key=lambda k: probs[k])


def label_probs(tokens: list[tuple[str, float]], labels: tuple[str, ...], words: dict[str, str],
                bias: dict | None = None,
                next_tokens: Callable[[str], list[tuple[str, float]]] | None = None) -> dict[str, float] | None:
    """Probabilities over the labels (summing to 1), or None when no listed token begins any label.

    A label whose first token is not among the listed ones gets the smallest listed log-probability:
    an upper bound, so it stays possible but never beats a label the model did list. Labels that share
    a listed first token are scored by their continuation: `next_tokens(prefix)` returns the scored
    tokens that follow an answer beginning with `prefix` (one more call to the model). Without it,
    such labels raise SharedPrefix: they cannot be told apart from one token."""
    words = {lab: words.get(lab, lab) for lab in labels}
    found = label_logprobs(tokens, words)
    shared = shared_tokens(tokens, words)
    for group, (token, value) in shared.items():
        if next_tokens is None:
            raise SharedPrefix(sorted(group))
        first = token.lstrip()  # an answer's first token carries no leading space in its text
        for label, v in continuation_logprobs(first, first.lower(), group, words, next_tokens).items():
            if (prev := found[label]) is None or value + v > prev:
                found[label] = value + v
    if all(v is None for v in found.values()):
        return None
    floor = min(v for _, v in tokens)
    logps = {lab: (floor if v is None else v) + float((bias or {}).get(lab, 0.0)) for lab, v in found.items()}
    return normalise(logps)


def parse_bare_label(text: str, labels: tuple[str, ...], words: dict[str, str]) -> str | None:
    """Strict: the answer must be exactly a label's word (case, spaces and a final period aside)."""
    answer = (text or "").strip().strip(".").strip().lower()
    for label in labels:
        if answer == words.get(label, label).lower():
            return label
    return None


class LabelAdapter(dspy.Adapter):
    def __init__(self, config: AdapterConfig | None = None):
        super().__init__()
        self.config = config or AdapterConfig()
        self.fallback = dspy.ChatAdapter()

    def words(self, labels: tuple[str, ...]) -> dict[str, str]:
        return {lab: self.config.label_words.get(lab, lab) for lab in labels}

    def format(self, signature, demos, inputs):
        labels = signature_labels(signature)
        if labels is None:
            return self.fallback.format(signature, demos, inputs)
        words = self.words(labels)
        pairs = []
        for d in demos:
            text, label = _get(d, "sms"), _get(d, "label")
            if text is not None and label in words:
                pairs.append((str(text), words[label]))
        return render_label_chat(signature.instructions, pairs, str(inputs["sms"]))

    def parse(self, signature, completion):
        labels = signature_labels(signature)
        if labels is None:
            return self.fallback.parse(signature, completion)
        label = parse_bare_label(completion, labels, self.words(labels))
        if label is None:
            raise AdapterParseError(adapter_name="LabelAdapter", signature=signature, lm_response=str(completion)[:200],
                                    message="the answer is not a label")
        return {"label": label}

    def __call__(self, lm, lm_kwargs, signature, demos, inputs):
        labels = signature_labels(signature)
        if labels is None:
            return self.fallback(lm, lm_kwargs, signature, demos, inputs)
        messages = self.format(signature, demos, inputs)
        endpoint = (getattr(lm, "model", ""), str(_get(_get(lm, "kwargs") or {}, "metadata") or {}))
        if self.config.name == "score" and endpoint not in _NO_LOGPROBS:
            try:
                response = _call(lm, messages, lm_kwargs, max_tokens=1, logprobs=True, top_logprobs=TOP_LOGPROBS)
            except Exception as exc:  # a provider that rejects the parameter (e.g. a reasoning model)
                if "logprob" not in str(exc).lower():
                    raise
                response = None
            logprobs = logprob_content(response) if response is not None else None
            if logprobs is not None:
                scored = self._scored(lm, lm_kwargs, messages, endpoint, signature, labels, response, logprobs)
                if scored is not None:
                    return [scored]
                # Labels share a first token and this endpoint cannot score what follows: generate instead.
            else:
                with _no_logprobs_lock:
                    _NO_LOGPROBS.add(endpoint)  # this provider ignores logprobs: generate a bare label instead
        longest = max(len(w) for w in self.words(labels).values())
        response = _call(lm, messages, lm_kwargs, max_tokens=max(8, longest // 2 + 4), logprobs=None,
                         top_logprobs=None)
        if not response.text:
            raise AdapterParseError(adapter_name="LabelAdapter", signature=signature,
                                    lm_response=str([response.text])[:200], message="the LM returned an empty answer")
        return [{**self.parse(signature, response.text), "probs": None}]

    def _scored(self, lm, lm_kwargs, messages, endpoint, signature, labels, response, logprobs) -> dict | None:
        """The label and its probabilities; None when labels share a first token and the endpoint does
        not continue a prefilled answer (the caller then generates the label)."""
        tokens = self._tokens(signature, logprobs)
        next_tokens = None if endpoint in _NO_PREFILL else \
            (lambda prefix: self._next_tokens(lm, lm_kwargs, messages, signature, prefix))
        try:
            probs = label_probs(tokens, labels, self.words(labels), self.config.bias, next_tokens)
        except SharedPrefix:
            return None
        except NoPrefill:
            with _no_logprobs_lock:
                _NO_PREFILL.add(endpoint)
            return None
        if probs is None:
            raise AdapterParseError(adapter_name="LabelAdapter", signature=signature,
                                    lm_response=str(response.text or tokens[0][0])[:200],
                                    message="no likely token begins a label")
        return {"label": decide(probs, self.config.decision), "probs": probs}

    @staticmethod
    def _tokens(signature, logprobs) -> list[tuple[str, float]]:
        try:
            return top_tokens(logprobs)
        except ValueError as exc:
            raise AdapterParseError(adapter_name="LabelAdapter", signature=signature,
                                    lm_response=str(logprobs)[:200], message=f"malformed log-probabilities: {exc}") from None

    def _next_tokens(self, lm, lm_kwargs, messages, signature, prefix: str) -> list[tuple[str, float]]:
        """The scored tokens after an answer that begins with `prefix`: the answer is prefilled as the
        assistant turn, which llama.cpp (the embedded model) continues. An endpoint that answers afresh
        instead (its text is not the prefix plus the scored token) raises NoPrefill."""
        prefilled = [*messages, {"role": "assistant", "content": prefix}]
        response = _call(lm, prefilled, lm_kwargs, max_tokens=1, logprobs=True, top_logprobs=TOP_LOGPROBS)
        logprobs = logprob_content(response)
        if logprobs is None:
            raise NoPrefill()
        tokens = self._tokens(signature, logprobs)
        generated = "".join(str(_get(e, "token") or "") for e in _get(logprobs, "content"))
        if str(response.text or "").strip() != (prefix + generated).strip():
            raise NoPrefill()
        return tokens


def _call(lm, messages: list[dict], lm_kwargs: dict, **overrides):
    """One call through DSPy's request/response interface (solve/lm_request.py): an lm15 Response."""
    request, beside = chat_request(lm, messages, lm_kwargs, **overrides)
    return lm(request, **beside)
