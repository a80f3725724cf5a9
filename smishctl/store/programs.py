"""From a stored artifact to what runs it: the DSPy program, its adapter configuration and the chat
messages it renders. Kept apart from smishctl.store.artifacts (files, ids, checksums), which listing
and completion import without loading DSPy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from smishctl.solve.adapters import DEFAULT_ADAPTER, AdapterConfig
from smishctl.solve.knn import KNNClassifier
from smishctl.solve.signature import make_program
from smishctl.store.artifacts import PROGRAM, SMS_PLACEHOLDER, Artifact, artifact_labels, is_lora, verify_artifact
from smishctl.util.fs import read_json


def render_messages(program: Any, labels: tuple[str, ...], adapter_config: AdapterConfig | None = None) -> list[dict[str, Any]]:
    """The exact chat messages DSPy sends, with the SMS replaced by a placeholder."""

    predictor = program.predictors()[0] if hasattr(program, "predictors") else program
    demos = [d.toDict() if hasattr(d, "toDict") else dict(d) for d in getattr(predictor, "demos", [])]
    adapter = (adapter_config or AdapterConfig(name="json")).build()
    messages: list[dict[str, Any]] = adapter.format(predictor.signature, demos, {"sms": SMS_PLACEHOLDER})
    return messages


def load_adapter_config(art: Artifact, override: str | None = None) -> AdapterConfig:
    """How an artifact's program is rendered and decided (program.json's `adapter`; artifacts written
    before adapters were recorded used JSON). `override` names another adapter, keeping the rest."""
    if art.is_zero_shot:
        return AdapterConfig(name=override or DEFAULT_ADAPTER)
    state = read_json(art.folder / PROGRAM)
    # Fine-tuned (lora) artifacts were trained on the label chat and are decided by label scoring.
    # (lora: `adapter` is the adapter file's name; `label_adapter` the decision, with its calibration)
    data = state.get("label_adapter") if is_lora(art) else state.get("adapter")
    data = data if isinstance(data, dict) else None
    cfg = AdapterConfig.from_dict(data or ({"name": "score"} if is_lora(art) else None))
    return replace(cfg, name=override) if override and override != cfg.name else cfg


def load_program(art: Artifact, labels: tuple[str, ...]) -> Any:  # a DSPy module (DSPy is untyped)
    """A ready DSPy module for an artifact (zero-shot when art is the baseline)."""
    if art.is_zero_shot:
        return make_program(labels)
    verify_artifact(art)
    labels = artifact_labels(art, labels)
    kind = art.info.program_kind
    if kind == "knn":
        return KNNClassifier.from_state(read_json(art.folder / PROGRAM), labels)
    if kind == "lora":  # a fine-tuned model: the zero-shot program with its stored instructions
        return make_program(labels, read_json(art.folder / PROGRAM)["instructions"])
    program = make_program(labels)
    program.load(str(art.folder / PROGRAM), allow_pickle=False)
    return program
