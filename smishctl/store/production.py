"""What is in production, readable without the CLI; and `load_production()`, a ready classifier.

Layout of prompts/production/ (written only by smishctl.ops.promote, under a lock):
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
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.store.artifacts import MANIFEST, Artifact, verify_artifact
from smishctl.util.fs import read_json
from smishctl.util.hashing import sha256_file

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
