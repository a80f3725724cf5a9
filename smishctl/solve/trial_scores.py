"""Trial scores as DSPy's optimizers evaluate candidate programs: live progress, the manifest and
the hooks' trial events (the one record of an optimization's search).

Random search, MIPROv2 and GEPA score their candidates through `dspy.Evaluate`; a DSPy callback sees
each of those calls end. Scores are exact-match accuracy (the optimizers' metric). "Best so far" only
counts evaluations over the whole dev set: MIPROv2 minibatches and GEPA's reflection minibatches of
three messages are too small to compare.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from dspy.utils.callback import BaseCallback


@dataclass(frozen=True)
class Trial:
    """One candidate evaluation: how many dev messages it scored and its exact-match accuracy there;
    full_dev when those were the whole dev set (the only trials comparable with each other)."""

    items: int
    accuracy: float
    full_dev: bool


class TrialRecorder(BaseCallback):
    """`on_trial(recorder)` after each trial (progress); `on_scored(number, trial)` with the trial
    itself, numbered from 1 in the order recorded (safe when evaluations run in parallel)."""

    def __init__(self, dev_size: int, on_trial: Callable[[TrialRecorder], None] | None = None,
                 on_scored: Callable[[int, Trial], None] | None = None):
        self.dev_size = dev_size
        self.on_trial = on_trial
        self.on_scored = on_scored
        self.trials: list[Trial] = []
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def on_evaluate_start(self, call_id, instance, inputs):
        # Random search and MIPROv2 hard-code DSPy's tqdm bars, which would tear our rich progress.
        instance.display_progress = False
        devset = inputs.get("devset") or getattr(instance, "devset", None) or []
        with self._lock:
            self._sizes[call_id] = len(devset)

    def on_evaluate_end(self, call_id, outputs, exception=None):
        with self._lock:
            size = self._sizes.pop(call_id, 0)
            score = getattr(outputs, "score", None)
            if exception is not None or score is None or not size:
                return
            trial = Trial(items=size, accuracy=round(score / 100, 4), full_dev=size == self.dev_size)
            self.trials.append(trial)
            number = len(self.trials)
        if self.on_scored:
            self.on_scored(number, trial)
        if self.on_trial:
            self.on_trial(self)

    @property
    def best(self) -> float | None:
        full = [t.accuracy for t in self.trials if t.full_dev]
        return max(full) if full else None

    def note(self) -> str:
        return search_note(len(self.trials), self.best)

    def summary(self) -> dict:
        return {"evaluations": len(self.trials), "full_dev_evaluations": sum(t.full_dev for t in self.trials),
                "best_full_dev_accuracy": self.best}


def search_note(evaluations: int, best: float | None) -> str:
    """One line for a search's trials (card, summary and live progress)."""
    return f"{evaluations} candidate evaluations, best whole-dev accuracy {'-' if best is None else f'{best:.3f}'}"
