"""Model resolution, pricing, and the embedded weights' assembly."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from faultutil import fault_fixture  # noqa: F401

from smishctl.core.errors import ModelError
from smishctl.models.pricing import call_cost
from smishctl.models.registry import resolve_model
from smishctl.models.weights import WEIGHTS


def test_resolve_names(settings):
    local = resolve_model(None, settings)
    assert local.is_local and local.litellm_model == "local/qwen2.5-coder-0.5b" and local.usd_per_hour == 0.10
    hosted = resolve_model("openai/gpt-4o-mini", settings)
    assert not hosted.is_local and hosted.input_usd_per_token > 0  # from litellm's offline price map
    vllm = resolve_model("hosted_vllm/Qwen/Qwen2.5-7B-Instruct", settings)
    assert vllm.litellm_model == "hosted_vllm/Qwen/Qwen2.5-7B-Instruct" and vllm.input_usd_per_token is None
    with pytest.raises(ModelError, match="unknown model"):
        resolve_model("gpt4", settings)


def test_alias_from_config_keeps_key_name_not_key(project, monkeypatch):
    (project / "smishctl.toml").write_text(
        '[models.alias.cheap]\nlitellm = "openai/gpt-4o-mini"\napi_base = "http://127.0.0.1:8000/v1"\n'
        'api_key_env = "MY_KEY"\ninput_usd_per_mtok = 0.15\noutput_usd_per_mtok = 0.6\n')
    monkeypatch.setenv("MY_KEY", "sk-secret-value")
    from smishctl.core.config import load_settings

    spec = resolve_model("cheap", load_settings(project))
    assert spec.api_base == "http://127.0.0.1:8000/v1" and spec.input_usd_per_token == pytest.approx(0.15e-6)
    assert "sk-secret-value" not in repr(spec.public())
    assert call_cost(spec, 1000, 100, 1.0) == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    other = resolve_model("openai/gpt-4o-mini", load_settings(project))
    assert other.endpoint_tag != spec.endpoint_tag  # distinct DSPy cache keys per endpoint


def test_local_cost_is_compute_time(settings):
    spec = resolve_model(None, settings)
    assert call_cost(spec, 10**6, 10**6, 36.0) == pytest.approx(0.001)


def test_concurrent_assembly_gives_one_verified_file(tmp_path):
    spec = WEIGHTS["qwen2.5-coder-0.5b"]
    code = ("import sys; from pathlib import Path; from smishctl.models.weights import WEIGHTS, assemble; "
            f"print(assemble(WEIGHTS['{spec.name}'], Path(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1]
    h = hashlib.sha256()
    with open(outs[0], "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    assert h.hexdigest() == spec.sha256
    assert not list((tmp_path / "models").glob("*.partial"))


def test_missing_weights_package_says_how_to_install(tmp_path):
    from dataclasses import replace

    from smishctl.models.weights import assemble

    # A spec like the optional 1.5B one, with packages that are surely absent (the 1.5B ones may be installed).
    spec = replace(WEIGHTS["qwen2.5-coder-1.5b"], parts=(("smishctl-absent-weights-part1", "data/part01.bin"),))
    with pytest.raises(ModelError, match="smishctl-absent-weights-part1 is not installed") as info:
        assemble(spec, tmp_path)
    assert "requirements-1.5b.txt" in info.value.hint
    assert not (tmp_path / "models" / spec.filename).exists()


def test_meter_counts_every_call_once_refuses_over_budget_and_is_shared_by_copies(fault, project):
    """Metering through the LM's engine and callback (models/meter.py), on real DSPy and litellm against
    the fault server: every call counts once (a cache answer too, a retried call once), tokens and cost
    only for calls that reached the model, copies spend the same budget, and a call over it is refused
    before it is sent."""
    import dspy
    from faultutil import add_alias

    from smishctl.core.config import load_settings
    from smishctl.models.lm import build_lm
    from smishctl.models.meter import BudgetExhausted, Meter
    from smishctl.solve.adapters import AdapterConfig
    from smishctl.solve.signature import make_program

    add_alias(project, "priced", fault.base_url, num_retries=2)
    with open(project / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write("input_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n")
    settings = load_settings(project)
    spec = resolve_model("priced", settings)
    meter = Meter(max_calls=4)
    lm = build_lm(spec, settings, meter=meter)
    program = make_program(("ham", "spam", "smishing"))

    def ask(model, sms):
        with dspy.context(lm=model, adapter=AdapterConfig().build()):
            return program(sms=sms).label

    def sent():
        return len(fault.chat_requests())

    assert ask(lm, "WIN a prize now http://x.co/claim") == "smishing"
    assert (meter.calls, sent()) == (1, 1) and meter.prompt_tokens > 0 and meter.completion_tokens > 0
    assert meter.cost_usd == pytest.approx(meter.prompt_tokens * 1e-6 + meter.completion_tokens * 2e-6)
    spent = (meter.prompt_tokens, meter.completion_tokens, meter.cost_usd)
    ask(lm, "WIN a prize now http://x.co/claim")  # DSPy's cache answers: a call, nothing spent
    assert (meter.calls, sent()) == (2, 1) and (meter.prompt_tokens, meter.completion_tokens, meter.cost_usd) == spent
    fault.fail_next("500")
    ask(lm.copy(temperature=0.5), "see you at 6")  # a copy, and DSPy retries the failed attempt: one call
    assert (meter.calls, sent()) == (3, 3) and meter.prompt_tokens > spent[0]
    ask(lm, "lunch tomorrow?")
    with pytest.raises(BudgetExhausted):
        ask(lm, "your parcel is waiting http://x.co/p")
    assert meter.exhausted and (meter.calls, sent()) == (4, 4)  # refused before it was sent
    meter.enforcing = False  # outside the search (dev scoring): counted, never refused
    ask(lm, "your parcel is waiting http://x.co/p")
    assert (meter.calls, sent()) == (5, 5)
