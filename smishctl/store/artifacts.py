"""The versioned prompt store: prompts/<dataset>/<model>/vNNNN/, immutable once written.

Each version holds program.json (DSPy state, never pickle), prompt.json (the rendered chat
messages with an {{sms}} placeholder, usable without DSPy), manifest.json (provenance, scores and
file checksums) and CARD.md (for humans).
"""

from __future__ import annotations

import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smishctl.core.errors import ConfigError, SmishError
from smishctl.core.manifest import MANIFEST_SCHEMA_VERSION, MANIFEST_SHAPE, ArtifactManifest
from smishctl.util.fs import atomic_write_json, atomic_write_text, file_lock
from smishctl.util.hashing import sha256_file
from smishctl.util.jsonio import read_object
from smishctl.util.paths import safe_child

SMS_PLACEHOLDER = "{{sms}}"
VERSION_RE = re.compile(r"^v(\d{4,})$")
PROGRAM = "program.json"
PROMPT = "prompt.json"
MANIFEST = "manifest.json"
CARD = "CARD.md"
ZERO_SHOT = "zero-shot"


def slug(text: str) -> str:
    text = text.rsplit("/", 1)[-1] if text.count("/") else text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "model"


@dataclass(frozen=True)
class Artifact:
    id: str  # "<dataset>/<model>/vNNNN", or "zero-shot"
    dir: Path | None

    @property
    def manifest(self) -> dict[str, Any]:
        """manifest.json as stored (see `info` for the typed, migrated record)."""
        return read_object(self.dir / MANIFEST, MANIFEST_SHAPE) if self.dir else {}

    @property
    def info(self) -> ArtifactManifest:
        """The typed manifest, migrated from the version that wrote it (not for zero-shot)."""
        if self.dir is None:
            raise ConfigError("zero-shot has no manifest")
        try:
            return ArtifactManifest.from_dict(self.manifest, where=f"artifact {self.id}: manifest.json")
        except (OSError, ValueError):
            raise ConfigError(f"artifact {self.id} has no readable manifest",
                              hint="it is corrupt; re-run optimize") from None

    @property
    def is_zero_shot(self) -> bool:
        return self.dir is None

    @property
    def folder(self) -> Path:
        """`dir` for a stored artifact (the caller has ruled out zero-shot, which has no folder)."""
        if self.dir is None:
            raise ConfigError("zero-shot has no artifact folder")
        return self.dir


def is_lora(art: Artifact) -> bool:
    return not art.is_zero_shot and art.info.is_lora


def _file_hashes(folder: Path, extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {name: sha256_file(folder / name) for name in (PROGRAM, PROMPT, *extra) if (folder / name).is_file()}


def save_artifact(prompts_dir: Path, dataset: str, model: str, *, program_state: dict[str, Any], messages: list[dict[str, Any]],
                  manifest: dict[str, Any], card: str, files: dict[str, Path] | None = None) -> Artifact:
    """Stage every file, then take the next version number under a lock and rename into place.

    Numbers are unique and increasing across processes; an interruption leaves only a hidden
    staging folder, which is removed or ignored, never a partial version. `files` (name -> source
    path) are copied in as well and checksummed in the manifest (e.g. a LoRA adapter).
    """
    group = Path(prompts_dir) / slug(dataset) / slug(model)
    group.mkdir(parents=True, exist_ok=True)
    staging = group / f".staging-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        atomic_write_json(staging / PROGRAM, program_state)
        atomic_write_json(staging / PROMPT, {"placeholder": SMS_PLACEHOLDER, "messages": messages})
        for name, source in (files or {}).items():
            shutil.copyfile(source, safe_child(staging, name, what="artifact file"))
        with file_lock(group / ".lock"):
            version = next_version(group)
            art_id = f"{slug(dataset)}/{slug(model)}/{version}"
            full = ArtifactManifest.from_dict({
                **manifest,
                "id": art_id,
                "version": version,
                "parent": latest_version_id(group),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "schema_version": MANIFEST_SCHEMA_VERSION,
                "files": _file_hashes(staging, tuple(files or ())),
            }, where="the new artifact's manifest")
            atomic_write_json(staging / MANIFEST, full.to_dict())
            atomic_write_text(staging / CARD, card.replace("{{id}}", art_id))
            staging.rename(group / version)
        return Artifact(id=art_id, dir=group / version)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def numbered_dirs(folder: Path, pattern: re.Pattern[str]) -> list[str]:
    """Sub-folder names matching `pattern` (one numeric group), in numeric order."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), d.name) for d in folder.iterdir() if d.is_dir() and (m := pattern.match(d.name))]
    return [name for _, name in sorted(found)]


def next_numbered(folder: Path, pattern: re.Pattern[str], prefix: str) -> str:
    names = numbered_dirs(folder, pattern)
    return f"{prefix}{int(names[-1][len(prefix):]) + 1 if names else 1:04d}"


def _versions(group: Path) -> list[str]:
    return numbered_dirs(group, VERSION_RE)


def next_version(group: Path) -> str:
    return next_numbered(group, VERSION_RE, "v")


def latest_version_id(group: Path) -> str | None:
    versions = _versions(group)
    if not versions:
        return None
    return f"{group.parent.name}/{group.name}/{versions[-1]}"


def list_artifacts(prompts_dir: Path) -> list[Artifact]:
    out: list[Artifact] = []
    prompts_dir = Path(prompts_dir)
    if not prompts_dir.is_dir():
        return out
    for ds in sorted(p for p in prompts_dir.iterdir() if p.is_dir() and p.name != "production"):
        for model in sorted(p for p in ds.iterdir() if p.is_dir()):
            for v in _versions(model):
                if (model / v / MANIFEST).is_file():
                    out.append(Artifact(id=f"{ds.name}/{model.name}/{v}", dir=model / v))
    return out


def readable_artifacts(prompts_dir: Path) -> list[tuple[Artifact, ArtifactManifest]]:
    """Every artifact with its typed manifest; one whose manifest is unreadable or malformed is skipped
    with a warning on stderr (as runs are), so that one damaged version does not break a listing."""
    out = []
    for art in list_artifacts(prompts_dir):
        try:
            out.append((art, art.info))
        except SmishError as exc:
            sys.stderr.write(f"warning: skipping prompt {art.id}: {exc.one_line()}\n")
    return out


def resolve_artifact(prompts_dir: Path, ref: str | None) -> Artifact:
    """'zero-shot', 'production', an id (dataset/model/vNNNN), a unique suffix (e.g. v0003), or a path."""
    if ref in (None, "", ZERO_SHOT):
        return Artifact(id=ZERO_SHOT, dir=None)
    prompts_dir = Path(prompts_dir)
    if ref == "production":
        cur = prompts_dir / "production" / "current"
        if not (cur / MANIFEST).is_file():
            raise ConfigError("nothing is in production yet", hint="promote an artifact first")
        return Artifact(id=read_object(cur / MANIFEST, MANIFEST_SHAPE).get("id", "production"), dir=cur)
    p = Path(ref)
    if (p / MANIFEST).is_file():  # by path, e.g. outside the store: only an artifact that verifies
        try:
            art_id = read_object(p / MANIFEST, MANIFEST_SHAPE).get("id", p.name)
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"{ref} has no readable manifest", hint="it is corrupt; re-run optimize") from None
        art = Artifact(id=art_id, dir=p.resolve())
        verify_artifact(art)
        return art
    if ref.count("/") == 2:
        d = prompts_dir
        for part in ref.split("/"):
            d = safe_child(d, part, what="prompt id")
        if (d / MANIFEST).is_file():
            return Artifact(id=ref, dir=d)
    matches = [a for a in list_artifacts(prompts_dir) if a.id.endswith("/" + ref) or a.id.endswith(ref)]
    if not matches:  # a version's --name (never shaped like an id suffix: smishctl.ops.prompts_new.check_name)
        matches = [a for a in list_artifacts(prompts_dir) if version_name(a) == ref]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ConfigError(f"prompt {ref!r} is ambiguous: {', '.join(a.id for a in matches[:4])}",
                          hint="use the full id dataset/model/vNNNN")
    raise ConfigError(f"unknown prompt {ref!r}", hint="use zero-shot, a path, or an id from smishctl prompts list")


def version_name(art: Artifact) -> str | None:
    """The version's --name; None when it has none or its manifest cannot be read (it names nothing)."""
    try:
        name = art.manifest.get("name")
    except (OSError, ValueError, SmishError):
        return None
    return name if isinstance(name, str) else None


PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill")


def verify_artifact(art: Artifact) -> None:
    """Refuse an artifact whose files do not match the checksums in its manifest, whose manifest does not
    checksum its program, or that carries a pickled program (never loaded: unpickling runs code)."""
    if art.is_zero_shot:
        return
    try:
        manifest = art.manifest
    except (OSError, ValueError):
        raise ConfigError(f"artifact {art.id} has no readable manifest", hint="it is corrupt; re-run optimize") from None
    pickled = sorted(p.name for p in art.folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickled:
        raise ConfigError(f"artifact {art.id} contains {pickled[0]}: pickled programs are never loaded",
                          hint="artifacts hold program.json (JSON state) only; re-run optimize")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or PROGRAM not in files:
        raise ConfigError(f"artifact {art.id}: its manifest does not checksum {PROGRAM}",
                          hint="only artifacts written by smishctl optimize can be used; re-run optimize")
    for name, expected in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise ConfigError(f"artifact {art.id}: its manifest lists a file outside its folder ({name!r})",
                              hint="only artifacts written by smishctl optimize can be used; re-run optimize")
        path = art.folder / name
        if not path.is_file() or sha256_file(path) != expected:
            raise ConfigError(f"artifact {art.id}: {name} does not match its manifest checksum",
                              hint="the artifact was modified or corrupted; re-run optimize")
    art.info  # noqa: B018 - a manifest from a newer smishctl, or with malformed labels, is refused here too


def artifact_labels(art: Artifact, dataset_labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels the program chooses from: the artifact's own, in its order. The dataset must use
    the same label set or a part of it (e.g. a file of smishing and ham messages only)."""
    if art.is_zero_shot:
        return tuple(dataset_labels)
    own = art.info.labels or tuple(dataset_labels)
    unknown = [lab for lab in dataset_labels if lab not in own]
    if unknown:
        raise ConfigError(f"artifact {art.id} predicts {', '.join(own)}; the dataset also has "
                          f"{', '.join(unknown)}", hint="evaluate it on a dataset with the same labels or a subset")
    return own


