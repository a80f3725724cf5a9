"""smishctl calls DSPy only through the LM interface DSPy keeps in 3.5: `lm(Request) -> Response` on a
custom engine, no `BaseLM.forward()` subclass, no `lm(messages=[...])`. DSPy 3.4 announces each of those
with a DeprecationWarning that links its migration guide; a real optimize and real evaluations (every
adapter path: log-probabilities, a provider without them, bare labels, DSPy's JSON adapter) must raise
none. Against the loopback fault server, through litellm."""

from __future__ import annotations

import warnings

from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

from smishctl.core.config import load_settings
from smishctl.ops.evaluate import EvalConfig, evaluate
from smishctl.ops.optimize import OptimizeConfig, optimize
from smishctl.store.artifacts import list_artifacts

# Every LM-interface deprecation of DSPy 3.4 names the guide; the forward() one also names BaseLM.forward.
GUIDE = "normalized-lm-api-migration"


def lm_deprecations(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message)[:200] for w in caught if issubclass(w.category, DeprecationWarning)
            and (GUIDE in str(w.message) or "BaseLM.forward" in str(w.message))]


def test_optimize_and_evaluate_raise_no_dspy_lm_deprecation(fake_model, fault, project):
    settings = load_settings(project)  # after the fake model's alias was written
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # optimize: metered LMs (student; the teacher is the same endpoint here), the dev scoring and the
        # search with the label adapter in DSPy's context
        optimize(settings, OptimizeConfig(model=fake_model, teacher=fake_model, optimizer="labeled",
                                          params={"k": "2"}, train_size=6, dev_size=3, max_calls=40,
                                          langfuse=False))
        for adapter in ("score", "chat", "json"):
            evaluate(settings, EvalConfig(model=fake_model, limit=3, adapter=adapter, cache=False))
        fault.logprobs = False  # a provider that ignores logprobs: the bare-label path after a scoring call
        evaluate(settings, EvalConfig(model=fake_model, limit=3, cache=False))
    assert len(list_artifacts(settings.prompts_dir)) == 1
    assert len(list((settings.root / "runs").glob("*/predictions.jsonl"))) == 4
    assert len(fault.chat_requests()) >= 3 * 5  # every evaluation reached the model
    assert lm_deprecations(caught) == []


def test_the_check_sees_the_deprecations_it_guards_against(fake_model, fault, project):
    """The two deprecated interfaces this code left, used on purpose: the check above would see them."""
    import dspy

    settings = load_settings(project)
    from smishctl.models.lm import build_lm
    from smishctl.models.registry import resolve_model

    lm = build_lm(resolve_model(fake_model, settings), settings, cache=False)

    class ForwardLM(dspy.LM):
        def forward(self, prompt=None, messages=None, **kwargs):
            return super().forward(prompt=prompt, messages=messages, **kwargs)

    legacy = ForwardLM("openai/fake", api_base=fault.base_url, api_key="no-key", cache=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lm(messages=[{"role": "user", "content": "WIN a prize http://x.co"}])
        legacy("WIN a prize http://x.co")
    found = lm_deprecations(caught)
    assert len(found) == 2 and any("messages=" in m for m in found) and any("BaseLM.forward" in m for m in found)
