"""Prompts someone already has: instructions from a text file, a Langfuse text prompt, or an existing
artifact. `new_prompt` stores them as the zero-shot program `optimize` writes (same program state,
adapter and rendered messages, through `save_artifact`), so evaluate, compare and promote treat the
version like any other; `starting_prompt` gives `optimize` the instructions its search starts from.
The manifest's `source` says where the instructions came from."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.data.prepare import load_dataset_splits
from smishctl.models.registry import resolve_model
from smishctl.ops.evaluate import library_versions
from smishctl.report.prompt_facts import added_text, artifact_instructions, source_note
from smishctl.solve.adapters import DEFAULT_ADAPTER, AdapterConfig
from smishctl.solve.signature import DEFAULT_INSTRUCTIONS, make_program
from smishctl.store.artifacts import (
    VERSION_RE,
    ZERO_SHOT,
    list_artifacts,
    resolve_artifact,
    save_artifact,
    slug,
    version_name,
)
from smishctl.store.programs import render_messages
from smishctl.tracking.prompt_source import fetch_text_prompt, parse_prompt_ref

# Instructions are a system prompt: anything larger is a wrong file (a dataset, a binary), not a prompt.
MAX_INSTRUCTIONS_BYTES = 64 * 1024
HAND_WRITTEN = "hand-written"  # the optimizer name of a version no optimizer made
# Template variables other tools fill in ({{sms}} is ours, in the rendered prompt.json). Nothing fills them
# here: the message is its own user turn, so the model would read the placeholder literally.
PLACEHOLDER_RE = re.compile(r"\{\{[^{}]*\}\}|\{\s*(?:message|text|input|sms|msg|content|query)\s*\}", re.IGNORECASE)
# A name is a prompt reference: it must not look like a version (v0003), an id suffix or a keyword.
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
RESERVED_NAMES = {ZERO_SHOT, "production", "latest"}


@dataclass(frozen=True)
class StartingPrompt:
    instructions: str
    source: dict[str, Any]  # the manifest's "source": kind (instructions-file | langfuse | artifact) and where


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
    found = PLACEHOLDER_RE.search(text)
    if found:
        raise ConfigError(f"{where} contains {found.group(0)}, a template placeholder nothing fills in",
                          hint="remove it: the message is sent as its own turn after the instructions")
    return text


def check_name(name: str) -> str:
    """A version's name, usable wherever a prompt reference is (see store.artifacts.resolve_artifact)."""
    if not NAME_RE.match(name) or VERSION_RE.match(name) or name.lower() in RESERVED_NAMES:
        raise ConfigError(f"--name {name!r} cannot be a prompt reference",
                          hint="use a letter, then letters, digits, '.', '_' or '-' (not vNNNN, production or "
                               "zero-shot)")
    return name


def named_versions(prompts_dir: Path, name: str, dataset: str, model: str) -> list[str]:
    """The ids of the versions of this dataset and model that already carry `name`."""
    group = f"{slug(dataset)}/{slug(model)}/"
    out = []
    for art in list_artifacts(prompts_dir):
        if art.id.startswith(group):
            if version_name(art) == name:  # an unreadable manifest names nothing
                out.append(art.id)
    return out


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
               dataset: str | None = None) -> dict[str, Any]:
    """Write a new version holding `start`'s instructions as a zero-shot program; returns its manifest."""
    from dspy.utils.saving import get_dependency_versions

    if name is not None:
        check_name(name)
    spec = resolve_model(model, settings)
    if spec.extra.get("classic"):
        raise ConfigError(f"{spec.name} is a classic baseline: it reads no prompt", hint="pick a language model")
    ds = load_dataset_splits(dataset, settings)
    if name is not None:
        taken = named_versions(settings.prompts_dir, name, ds.name, spec.name)
        if taken:
            raise ConfigError(f"--name {name} is taken by {taken[0]} (same dataset and model)",
                              hint="pick another name, or use that version")
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
    messages = render_messages(program, ds.labels, adapter)
    added = added_text(messages, start.instructions)
    if added:
        manifest["added_by_smishctl"] = added
    art = save_artifact(settings.prompts_dir, ds.name, spec.name, program_state=state, messages=messages,
                        manifest=manifest, card=_card(manifest, start.instructions))
    return art.manifest


def _card(m: dict[str, Any], instructions: str) -> str:
    return "\n".join([
        "# Prompt {{id}}" + (f" — {m['name']}" if m.get("name") else ""),
        "",
        f"- source: {source_note(m['source'])}",
        f"- model: `{m['model']['name']}`; dataset: `{m['dataset']['name']}`; labels: {', '.join(m['labels'])}",
        f"- no optimizer, no demos; adapter: `{m['adapter']['name']}`",
        *([f"- smishctl adds to these instructions: \"{m['added_by_smishctl']}\" (after them, in the system turn)"]
          if m.get("added_by_smishctl") else []),
        "- next: `smishctl evaluate --prompt {{id}}`",
        "",
        "## Instructions",
        "",
        instructions,
        "",
    ])
