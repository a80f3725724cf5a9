"""Nothing is scored against what it learned from: the checks `evaluate` makes before the first call.

Both refuse (exit 2, nothing written) rather than drop items: the scored set is what the user asked
to measure, and a figure on part of it would not be the run the record names. The comparison itself
is smishctl.data.leaks (near-copies, not only identical text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from smishctl.core.errors import ConfigError
from smishctl.data.leaks import near_copies, split_near_copies
from smishctl.data.prepare import ALL, Example, PreparedDataset, text_key
from smishctl.store.artifacts import PROGRAM, Artifact, is_lora
from smishctl.util.fs import read_json

_NEAR = "or near-copies of them (another number, URL, case or punctuation)"


def refuse_scoring_training_items(model: str, train_ds: PreparedDataset, ds: PreparedDataset, split: str,
                                  items: Sequence[Example], extra_train: Iterable[Example] = ()) -> None:
    """A classic model never scores a message it learned, nor a near-copy of one: refuse when the scored
    items include the training split (`--split all` or `train` of the same dataset), or a text of it or
    of the reports it also trains on (another file holding the same messages, edited a little)."""
    if train_ds is ds and split in (ALL, "train"):
        raise ConfigError(f"{model} would score the items it trains on: split {split!r} of {ds.name} includes "
                          "its train split",
                          hint="score the test split, evaluate the file with --evaluation-only (the classic model "
                          "then trains on the default dataset), or name --train-dataset")
    scored = [ex.text for ex in items]
    train = [ex.text for ex in train_ds.split("train")]
    if train_ds is ds:
        # Its own held-out split, compared as the split was drawn (policy, threshold, features fitted on
        # the whole dataset); the reports were already kept off dev and test (data.feedback.training_feedback).
        seen = split_near_copies(ds, train, scored).n_scored
    else:
        seen = near_copies([*train, *(ex.text for ex in extra_train)], scored).n_scored
    if seen:
        raise ConfigError(f"{model} would score {seen} of {len(items)} messages it trains on (the train split of "
                          f"{train_ds.name}{' or the feedback' if extra_train else ''} holds the same texts) {_NEAR}",
                          hint="name another --train-dataset, or remove those messages from the evaluated file")


def program_examples(art: Artifact) -> list[str]:
    """The messages a saved program shows the model: the kNN pool (which also trains its SVM prior) or
    fixed demos. A fine-tuned (lora) artifact stores none (its training set is recorded by hash only)."""
    if art.is_zero_shot or is_lora(art):
        return []
    texts: list[str] = []

    def walk(node: object, depth: int = 0) -> None:  # demos sit at the top (Predict) or under a predictor's name
        if depth > 4 or not isinstance(node, dict):
            return
        for key, value in node.items():
            if key in ("pool", "demos") and isinstance(value, list):
                texts.extend(d["sms"] for d in value if isinstance(d, dict) and isinstance(d.get("sms"), str))
            elif isinstance(value, dict):
                walk(value, depth + 1)

    walk(read_json(art.folder / PROGRAM))
    return texts


def refuse_scoring_program_examples(art: Artifact, ds: PreparedDataset, items: Sequence[Example]) -> None:
    """A scored message never meets a near-copy of itself among the program's demos or retrieval pool.

    Pool messages that are train-split items of the scored dataset are clean by construction (the split
    keeps templates together); every other one (a report, a message of another split or dataset) is
    compared with the scored items."""
    learned = program_examples(art)
    if not learned or not items:
        return
    train = {text_key(ex.text) for ex in ds.splits.get("train", ())}
    outside = [t for t in learned if text_key(t) not in train]
    seen = near_copies(outside, [ex.text for ex in items]).n_scored
    if seen:
        raise ConfigError(f"prompt {art.id} would score {seen} of {len(items)} messages its demos or retrieval pool "
                          f"hold {_NEAR}",
                          hint="score another split or file, or optimize on a dataset that keeps these messages "
                          "out of training")
