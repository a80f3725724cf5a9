"""What is in production, readable without the CLI; and `load_production()`, a ready classifier.

Layout of prompts/production/ (written only by smishctl.promote, under a lock):

    releases/r0001/   an immutable copy of a promoted artifact: program.json (DSPy state),
                      prompt.json (rendered chat messages, {{sms}} placeholder), manifest.json
                      (provenance, checksums), CARD.md, promotion.json (who, when, why, metrics,
                      evaluation run, previous release)
    current -> releases/r000N   a symlink, switched atomically (rename over the old link)
    history.jsonl     one line per promotion or rollback

Readers that opened files of the old release keep a consistent view: releases are never modified.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from smishctl.artifacts import MANIFEST, PROGRAM, Artifact, load_program, verify_artifact
from smishctl.config import Settings, load_settings
from smishctl.errors import ConfigError, SmishError
from smishctl.fsutil import read_json, sha256_file

CURRENT = "current"
RELEASES = "releases"
HISTORY = "history.jsonl"
RELEASE_FILE = "promotion.json"
LOCK = ".lock"


def current_dir(settings: Settings) -> Path:
    return settings.production_dir / CURRENT


def read_current(settings: Settings) -> dict | None:
    """The current release's promotion record (plus `release` and `dir`), or None when empty."""
    cur = current_dir(settings)
    if not (cur / MANIFEST).is_file():
        return None
    info = read_json(cur / RELEASE_FILE) if (cur / RELEASE_FILE).is_file() else {}
    manifest = read_json(cur / MANIFEST)
    info.setdefault("artifact", manifest.get("id"))
    info.setdefault("model", manifest.get("model") or {})
    info["release"] = cur.resolve().name if cur.is_symlink() else info.get("release", CURRENT)
    info["dir"] = str(cur.resolve())
    return info


def verify_release(release_dir: Path) -> Artifact:
    """The release as an artifact, refused unless its manifest is the one promoted (its SHA-256 is in
    promotion.json: a manifest rewritten together with a swapped program would pass the file checksums)
    and its files match that manifest."""
    release_dir = Path(release_dir)
    try:
        manifest = read_json(release_dir / MANIFEST)
        info = read_json(release_dir / RELEASE_FILE) if (release_dir / RELEASE_FILE).is_file() else {}
    except (OSError, ValueError):
        raise ConfigError(f"release {release_dir.name} has an unreadable manifest or promotion record",
                          hint="it is corrupt; promote the artifact again") from None
    want = info.get("manifest_sha256")
    if want and sha256_file(release_dir / MANIFEST) != want:
        raise ConfigError(f"release {release_dir.name}: manifest.json is not the one that was promoted",
                          hint="the release was modified; promote the artifact again")
    art = Artifact(id=manifest.get("id", release_dir.name), dir=release_dir.resolve())
    verify_artifact(art)
    return art


def read_history(settings: Settings) -> list[dict]:
    path = settings.production_dir / HISTORY
    if not path.is_file():
        return []
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # a torn last line (crash mid-append)
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


@dataclass
class ProductionClassifier:
    """The production prompt over its model: `classify(text) -> label`."""

    artifact_id: str
    release: str
    labels: tuple[str, ...]
    manifest: dict
    solver: object

    def predict(self, text: str) -> dict:
        """The full record: pred, status (ok | invalid | error), latency, tokens, cost."""
        return self.solver(text)

    def classify(self, text: str) -> str:
        row = self.solver(text)
        if row["status"] == "ok":
            return row["pred"]
        if row["status"] == "invalid":
            raise SmishError(f"the model gave no valid label (raw output: {row.get('raw')!r})", exit_code=1)
        raise SmishError(f"the model call failed: {row.get('error')}", exit_code=3)


def load_production(root: str | os.PathLike | None = None, *, model: str | None = None) -> ProductionClassifier:
    """A ready classifier from prompts/production/current (checksums verified).

    `model` overrides the model recorded in the artifact's manifest (e.g. another endpoint)."""
    from smishctl.artifacts import is_lora, load_adapter_config, model_for
    from smishctl.models.lm import build_lm
    from smishctl.solver import build_solver

    settings = load_settings(Path(root) if root else None)
    cur = current_dir(settings)
    if not (cur / MANIFEST).is_file() or not (cur / PROGRAM).is_file():
        raise ConfigError(f"nothing is in production under {settings.production_dir}",
                          hint="promote an artifact first: smishctl promote ARTIFACT")
    manifest = read_json(cur / MANIFEST)
    art = verify_release(cur)
    labels = tuple(manifest.get("labels") or ())
    if not labels:
        raise ConfigError(f"production artifact {art.id} has no labels in its manifest")
    program = load_program(art, labels)
    spec = model_for(art, settings, model or (None if is_lora(art) else (manifest.get("model") or {}).get("name")))
    lm = build_lm(spec, settings)
    # The same builder as `evaluate`: production is hardened and decided exactly as it was evaluated.
    solver = build_solver(program, lm, spec, labels, load_adapter_config(art))
    return ProductionClassifier(artifact_id=art.id, release=cur.resolve().name, labels=labels,
                                manifest=manifest, solver=solver)
