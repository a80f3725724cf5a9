"""A run that stops early names itself in its resume hint by its short reference (what `runs list` shows),
so that the hint fits an 80-column terminal and never cuts a long run id mid-word; the reference given
resumes that very run."""

from __future__ import annotations

import os

import pytest

from smishctl.core.errors import ModelError
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.store.runs import list_runs, resolve_run, short_ref


def test_the_resume_hint_names_the_run_by_its_short_reference(settings, monkeypatch):
    # Port 9 on loopback: nothing listens there, so the run stops aborted at once, with a resume hint.
    monkeypatch.setitem(os.environ, "SMISHCTL_API_BASE_OPENAI", "http://127.0.0.1:9/v1")
    monkeypatch.setitem(os.environ, "OPENAI_API_KEY", "sk-test-not-a-real-key")
    with pytest.raises(ModelError) as err:
        evaluate(settings, EvalConfig(model="openai/gpt-4o-mini", limit=3, num_retries=0, timeout=5))
    (run,) = list_runs(settings.runs_dir)
    ref = short_ref(settings.runs_dir, run.id)
    hint = err.value.hint or ""
    assert len(run.id) > 40 and len(ref) < 10  # a long id, a short reference
    assert hint.endswith(f"then: smishctl evaluate --resume {ref}") and run.id not in hint, hint
    assert resolve_run(settings.runs_dir, ref).id == run.id
    assert max(len(word) for word in hint.split()) <= 40  # nothing in it an 80-column line would have to cut
