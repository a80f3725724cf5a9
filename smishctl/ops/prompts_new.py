"""Prompts someone already has: instructions from a text file, a Langfuse text prompt, or an existing
artifact. `new_prompt` stores them as the zero-shot program `optimize` writes (same program state,
adapter and rendered messages, through `save_artifact`), so evaluate, compare and promote treat the
version like any other; `starting_prompt` gives `optimize` the instructions its search starts from.
The manifest's `source` says where the instructions came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.data.prepare import load_dataset_splits
from smishctl.models.registry import resolve_model
from smishctl.ops.evaluate import library_versions
from smishctl.solve.adapters import DEFAULT_ADAPTER, AdapterConfig
from smishctl.solve.signature import DEFAULT_INSTRUCTIONS, make_program
from smishctl.store.artifacts import (
    PROGRAM,
    SMS_PLACEHOLDER,
    Artifact,
    resolve_artifact,
    save_artifact,
    verify_artifact,
)
from smishctl.store.programs import render_messages
from smishctl.tracking.prompt_source import fetch_text_prompt, parse_prompt_ref
from smishctl.util.fs import read_json

# Instructions are a system prompt: anything larger is a wrong file (a dataset, a binary), not a prompt.
MAX_INSTRUCTIONS_BYTES = 64 * 1024
HAND_WRITTEN = "hand-written"  # the optimizer name of a version no optimizer made


@dataclass(frozen=True)
class StartingPrompt:
    instructions: str
    source: dict  # the manifest's "source": kind (instructions-file | langfuse | artifact) and where


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_instructions(text: str, where: str) -> str:
    """The instructions as they go into the system turn (line endings normalised, outer blanks off)."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ConfigError(f"{where} is empty", hint="put the prompt's instructions in it")
    if "\x00" in text:
        raise ConfigError(f"{where} is not text", hint="pass a UTF-8 text file with the instructions")
    if len(text.encode("utf-8")) > MAX_INSTRUCTIONS_BYTES:
        raise ConfigError(f"{where} holds more than {MAX_INSTRUCTIONS_BYTES // 1024} KiB of instructions",
                          hint="instructions are a system prompt, not a dataset")
    # The rendered prompt marks the SMS with this variable (and Langfuse fills it in): it may appear once.
    if SMS_PLACEHOLDER in text:
        raise ConfigError(f"{where} contains {SMS_PLACEHOLDER}",
                          hint="remove it: the message is sent as its own turn after the instructions")
    return text


def read_instructions_file(path: str | Path) -> StartingPrompt:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"instructions file {path} not found", hint="pass a text file holding the instructions")
    size = p.stat().st_size
    if size > MAX_INSTRUCTIONS_BYTES:
        raise ConfigError(f"instructions file {path} is {size:,} bytes, over the {MAX_INSTRUCTIONS_BYTES // 1024} KiB "
                          "a prompt may have", hint="instructions are a system prompt, not a dataset")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"instructions file {path} is not UTF-8 text", hint="save it as UTF-8") from None
    return StartingPrompt(check_instructions(text, f"instructions file {path}"),
                          {"kind": "instructions-file", "path": str(p.resolve()), "sha256": hashlib.sha256(raw).hexdigest()})


def langfuse_prompt(settings: Settings, ref: str) -> StartingPrompt:
    name, label = parse_prompt_ref(ref)
    got = fetch_text_prompt(settings, name, label)
    text = check_instructions(got["text"], f"Langfuse prompt {got['name']}@{got['label']}")
    return StartingPrompt(text, {"kind": "langfuse", "name": got["name"], "label": got["label"],
                                 "version": got["version"], "host": got["host"], "sha256": _sha256(text)})


def artifact_instructions(art: Artifact) -> str:
    """The instructions an artifact's program sends (predict, knn and lora states alike), read from its
    verified program.json without loading DSPy."""
    verify_artifact(art)
    state = read_json(art.dir / PROGRAM)
    # kNN and lora store them at the top; a DSPy Predict dump under "signature" (older dumps: one level down)
    signature = state.get("signature") or next(
        (v.get("signature") for v in state.values() if isinstance(v, dict) and "signature" in v), None) or {}
    text = state.get("instructions") or signature.get("instructions")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"artifact {art.id} stores no instructions", hint="start from another version")
    return text


def artifact_prompt(settings: Settings, ref: str) -> StartingPrompt:
    art = resolve_artifact(settings.prompts_dir, ref)
    if art.is_zero_shot:
        raise ConfigError("--from zero-shot is where optimize starts anyway", hint="drop --from")
    text = artifact_instructions(art)
    return StartingPrompt(text, {"kind": "artifact", "id": art.id, "program_sha256": art.info.program_sha256,
                                 "sha256": _sha256(text)})


def starting_prompt(settings: Settings, *, instructions_file: str | None = None,
                    from_artifact: str | None = None, from_langfuse: str | None = None) -> StartingPrompt | None:
    """At most one source of instructions; None when none is named (the default instructions)."""
    named = [(flag, v) for flag, v in (("--instructions", instructions_file), ("--from", from_artifact),
                                       ("--from-langfuse", from_langfuse)) if v]
    if len(named) > 1:
        raise ConfigError(f"{' and '.join(f for f, _ in named)} both name the instructions", hint="pass one of them")
    if instructions_file:
        return read_instructions_file(instructions_file)
    if from_artifact:
        return artifact_prompt(settings, from_artifact)
    if from_langfuse:
        return langfuse_prompt(settings, from_langfuse)
    return None


def new_prompt(settings: Settings, start: StartingPrompt, *, name: str | None = None, model: str | None = None,
               dataset: str | None = None) -> dict:
    """Write a new version holding `start`'s instructions as a zero-shot program; returns its manifest."""
    from dspy.utils.saving import get_dependency_versions

    spec = resolve_model(model, settings)
    if spec.extra.get("classic"):
        raise ConfigError(f"{spec.name} is a classic baseline: it reads no prompt", hint="pick a language model")
    ds = load_dataset_splits(dataset, settings)
    adapter = AdapterConfig(name=DEFAULT_ADAPTER)  # as optimize writes it: rendered and decided by label scoring
    program = make_program(ds.labels, start.instructions)
    state = {**program.dump_state(), "metadata": {"dependency_versions": get_dependency_versions()},
             "adapter": adapter.to_dict()}
    manifest = {
        "labels": list(ds.labels),
        "program_kind": "predict",
        "model": spec.public(),
        "dataset": {"name": ds.name, "provenance": ds.provenance},
        "optimizer": {"name": HAND_WRITTEN},
        "source": start.source,
        **({"name": name} if name else {}),
        "adapter": adapter.to_dict(),
        "demos": "0 fixed demos",
        "instructions_changed": start.instructions != DEFAULT_INSTRUCTIONS,
        "versions": library_versions(),
    }
    art = save_artifact(settings.prompts_dir, ds.name, spec.name, program_state=state,
                        messages=render_messages(program, ds.labels, adapter), manifest=manifest,
                        card=_card(manifest, start.instructions))
    return art.manifest


def source_note(source: dict) -> str:
    """Where instructions came from, in a few words (cards and summaries)."""
    kind = source.get("kind")
    if kind == "instructions-file":
        return f"instructions file `{source['path']}` (sha256 {source['sha256'][:12]})"
    if kind == "langfuse":
        return (f"Langfuse prompt `{source['name']}` version {source['version']} (label {source['label']}) "
                f"at {source['host']}")
    if kind == "artifact":
        return f"the instructions of `{source['id']}`"
    return str(kind)


def _card(m: dict, instructions: str) -> str:
    return "\n".join([
        "# Prompt {{id}}" + (f" — {m['name']}" if m.get("name") else ""),
        "",
        f"- source: {source_note(m['source'])}",
        f"- model: `{m['model']['name']}`; dataset: `{m['dataset']['name']}`; labels: {', '.join(m['labels'])}",
        f"- no optimizer, no demos; adapter: `{m['adapter']['name']}`",
        "- next: `smishctl evaluate --prompt {{id}}`",
        "",
        "## Instructions",
        "",
        instructions,
        "",
    ])
