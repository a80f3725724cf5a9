"""Serving a fine-tuned artifact: the base GGUF plus its LoRA adapter in the embedded llama.cpp
runtime, behind the same litellm `local/...` provider, decided by first-token label scoring."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.identity import ServingIdentity
from smishctl.models.lm import build_lm
from smishctl.models.registry import ModelSpec, resolve_model
from smishctl.models.weights import WEIGHTS, assemble
from smishctl.solve.adapters import AdapterConfig
from smishctl.solve.label_chat import render_label_chat
from smishctl.store.artifacts import ZERO_SHOT, Artifact, is_lora, verify_artifact
from smishctl.store.programs import load_adapter_config
from smishctl.util.fs import read_json
from smishctl.util.hashing import sha256_file

ADAPTER_GGUF = "adapter.gguf"
TOP_LOGPROBS = 20


def local_base(name: str | None, settings: Settings) -> tuple[ModelSpec, Path, str]:
    """(spec, GGUF path, SHA-256) of a model that can carry a local adapter; exit 2 for any other."""
    spec = resolve_model(name, settings)
    if not spec.is_local or spec.extra.get("fleet"):
        kind = "an Ollama model" if spec.litellm_model.startswith(("ollama/", "ollama_chat/")) else "a hosted model"
        raise ConfigError(f"{spec.name} is {kind}: a local LoRA adapter can only be trained and served on a local "
                          "GGUF model",
                          hint="use --model local/qwen2.5-coder-0.5b or a .gguf file; to fine-tune behind an API, "
                          "use --export-only openai")

    gguf = spec.local_gguf
    assert gguf is not None  # every local model has its GGUF
    if str(gguf).startswith("<embedded>") and gguf.name in WEIGHTS:
        weights = WEIGHTS[gguf.name]
        return spec, assemble(weights, settings.cache_dir), weights.sha256
    return spec, Path(gguf), sha256_file(gguf)


def finetune_model_spec(art: Artifact, settings: Settings, model: str | None = None) -> ModelSpec:
    """The model spec that serves a `lora` artifact: its base model (or `model`, which must be the
    same GGUF by SHA-256) with the adapter loaded, under a name and endpoint tag of its own."""
    verify_artifact(art)
    manifest = art.info
    base = manifest.base_model or {}
    if not manifest.is_lora or not base.get("sha256") or ADAPTER_GGUF not in manifest.files:
        raise ConfigError(f"{art.id} is not a fine-tuned (lora) artifact")
    spec, _gguf, sha = local_base(model or base["name"], settings)
    if sha != base["sha256"]:
        raise ConfigError(f"adapter {art.id} was trained on a base model with SHA-256 {base['sha256'][:12]}…, "
                          f"but {spec.name} has {sha[:12]}…",
                          hint=f"load it on the model it was trained on ({base['name']})")
    adapter_sha = manifest.files[ADAPTER_GGUF]
    short = spec.litellm_model.split("/", 1)[1]
    return dataclasses.replace(spec, name=f"{spec.name}+{art.id}", litellm_model=f"local/{short}@lora-{adapter_sha[:12]}",
                               lora_adapter=art.folder / ADAPTER_GGUF, lora_sha256=adapter_sha)


def served_label_probabilities(spec: ModelSpec, settings: Settings, instructions: str, texts: list[str],
                               labels: tuple[str, ...], first_tokens: dict[str, str]) -> list[dict[str, float]]:
    """P(first token of each label) from llama.cpp through litellm: one call per message with
    max_tokens=1 and the top log-probabilities (a label outside the top 20 gets 0)."""

    build_lm(spec, settings)  # registers the local provider (and the adapter) with litellm; quiets litellm
    import litellm
    out = []
    for text in texts:
        resp = litellm.completion(model=spec.litellm_model, messages=render_label_chat(instructions, [], text),
                                  max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS)
        content = resp.choices[0].logprobs["content"] if isinstance(resp.choices[0].logprobs, dict) \
            else resp.choices[0].logprobs.content
        first = content[0]
        tops = first["top_logprobs"] if isinstance(first, dict) else first.top_logprobs
        by_token: dict[str, float] = {}
        for t in tops:
            tok, lp = (t["token"], t["logprob"]) if isinstance(t, dict) else (t.token, t.logprob)
            by_token.setdefault(tok, math.exp(lp))
        out.append({lab: by_token.get(first_tokens[lab], 0.0) for lab in labels})
    return out


def load_lora(art: Artifact, settings: Settings, model: str | None = None) -> tuple[str, tuple[str, ...], ModelSpec]:
    """(instructions, labels, model spec) of a `lora` artifact: what an evaluation needs to render the
    zero-shot label chat (smishctl.solve.label_chat) and score it on the base model with the adapter."""

    spec = finetune_model_spec(art, settings, model)
    program = read_json(art.folder / "program.json")
    return program["instructions"], tuple(program["labels"]), spec


def model_for(art: Artifact, settings: Settings, name: str | None) -> ModelSpec:
    """The model an artifact runs on: `name` resolved, or for a fine-tuned artifact the base model with
    its adapter (`name` may only name the same base GGUF)."""
    if is_lora(art):
        return load_lora(art, settings, model=name)[2]
    return resolve_model(name, settings)


def serving_identity(art: Artifact, spec: ModelSpec, adapter_config: AdapterConfig | None, *, harden: bool,
                     guard: bool) -> ServingIdentity:
    """THE serving identity of an artifact run on `spec` with `adapter_config` (an AdapterConfig):
    evaluate records it, promote and compare against production require it, load_production serves it."""
    program_sha = ZERO_SHOT if art.is_zero_shot else art.info.program_sha256
    return ServingIdentity(model=spec.litellm_model, endpoint=spec.endpoint_tag, program_sha256=program_sha,
                           adapter=adapter_config.to_dict() if adapter_config is not None else None,
                           harden=harden, guard=guard and harden)


def production_serving(art: Artifact, settings: Settings, model: str | None = None,
                       ) -> tuple[ModelSpec, AdapterConfig, ServingIdentity]:
    """(model spec, adapter config, serving identity) of `art` as production serves it: the model its
    manifest names (a fine-tuned artifact: its base with the adapter), its own adapter, hardened and
    guarded. `model` overrides the manifest's model (load_production(model=...))."""
    name = model or (None if is_lora(art) else art.info.model_name)
    spec = model_for(art, settings, name)
    adapter = load_adapter_config(art)
    return spec, adapter, serving_identity(art, spec, adapter, harden=True, guard=True)  # production: both on
