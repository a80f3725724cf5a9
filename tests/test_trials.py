"""Trial scores reach the progress callback through DSPy's own Evaluate (no model needed)."""

from __future__ import annotations

import dspy

from smishctl.solve.optimizers import exact_match
from smishctl.solve.trial_scores import Trial, TrialRecorder


class AlwaysHam(dspy.Module):
    def forward(self, sms):
        return dspy.Prediction(label="ham")


def test_best_counts_whole_dev_evaluations_only():
    dev = [dspy.Example(sms=f"m{i}", label=lab).with_inputs("sms") for i, lab in enumerate(["ham", "spam", "ham", "smishing"])]
    seen = []
    rec = TrialRecorder(len(dev), on_trial=lambda r: seen.append(len(r.trials)))
    with dspy.context(callbacks=[rec]):
        dspy.Evaluate(devset=dev[:1], metric=exact_match, display_progress=False)(AlwaysHam())  # minibatch: 1/1
        assert rec.best is None  # a perfect minibatch is not a dev score
        dspy.Evaluate(devset=dev, metric=exact_match, display_progress=False)(AlwaysHam())
    assert seen == [1, 2]
    assert rec.trials == [Trial(items=1, accuracy=1.0, full_dev=False), Trial(items=4, accuracy=0.5, full_dev=True)]
    assert rec.summary() == {"evaluations": 2, "full_dev_evaluations": 1, "best_full_dev_accuracy": 0.5}


def test_dspy_progress_bars_are_switched_off():
    ev = dspy.Evaluate(devset=[dspy.Example(sms="x", label="ham").with_inputs("sms")], metric=exact_match,
                       display_progress=True)
    with dspy.context(callbacks=[TrialRecorder(1)]):
        ev(AlwaysHam())
    assert ev.display_progress is False
