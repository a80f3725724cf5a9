"""What a prompt version is, told from its stored files without loading DSPy: the instructions its
program sends, what smishctl adds to them in the rendered system turn, and where it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.store.artifacts import PROGRAM, PROMPT, Artifact, verify_artifact
from smishctl.util.fs import read_json


def artifact_instructions(art: Artifact) -> str:
    """The instructions an artifact's program sends (predict, knn and lora states alike), read from its
    verified program.json without loading DSPy."""
    verify_artifact(art)
    state = read_json(art.folder / PROGRAM)
    # kNN and lora store them at the top; a DSPy Predict dump under "signature" (older dumps: one level down)
    signature = state.get("signature") or next(
        (v.get("signature") for v in state.values() if isinstance(v, dict) and "signature" in v), None) or {}
    text = state.get("instructions") or signature.get("instructions")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"artifact {art.id} stores no instructions", hint="start from another version")
    return text


def added_text(messages: list[dict], instructions: str) -> str | None:
    """What the rendered system turn holds beyond the user's instructions ("Answer with the label only."),
    so that it is said, not slipped in; None when it is the instructions alone or does not start with them
    (an adapter with its own layout, shown whole by `prompts show`)."""
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    if not isinstance(system, str) or not system.startswith(instructions) or system == instructions:
        return None
    return system[len(instructions):].strip() or None


def artifact_additions(art: Artifact) -> str | None:
    """`added_text` of a stored version, from its instructions and its rendered prompt.json."""
    try:
        return added_text(read_json(art.folder / PROMPT).get("messages") or [], artifact_instructions(art))
    except (ConfigError, OSError, ValueError, AttributeError):
        return None


def lineage(m: dict, ref=lambda i: i) -> str:
    """Where a version came from, in a few words: the file (and its sha256) or the Langfuse prompt a
    hand-written version holds, the version it started from, else its parent (the version before it).
    `ref` shortens an artifact id."""
    given = m.get("source")
    source: dict[str, Any] = given if isinstance(given, dict) else {}
    kind = source.get("kind")
    if kind == "instructions-file":
        return f"file {Path(str(source.get('path', '?'))).name} ({str(source.get('sha256', ''))[:8]})"
    if kind == "langfuse":
        return f"Langfuse {source.get('name')} v{source.get('version')}"
    if kind == "artifact" and source.get("id"):
        return f"from {ref(source['id'])}"
    return ref(m["parent"]) if m.get("parent") else "-"


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
