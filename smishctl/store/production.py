"""The production folder: its layout, what is in production (readable without the CLI), and the
atomic steps that change it (staged release, renamed into place, `current` switched, history appended).

Layout of prompts/production/ (changed only by smishctl.ops.promote, under the lock):
    releases/r0001/   an immutable copy of a promoted artifact: program.json (DSPy state),
                      prompt.json (rendered chat messages, {{sms}} placeholder), manifest.json
                      (provenance, checksums), CARD.md, promotion.json (who, when, why, metrics,
                      evaluation run, previous release)
    current -> releases/r000N   a symlink, switched atomically (rename over the old link)
    history.jsonl     one line per promotion or rollback
    .lock             held while production changes

Readers that opened files of the old release keep a consistent view: releases are never modified.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from contextlib import AbstractContextManager
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.store.artifacts import (
    CARD,
    MANIFEST,
    PROGRAM,
    PROMPT,
    Artifact,
    next_numbered,
    resolve_artifact,
    verify_artifact,
)
from smishctl.util.fs import atomic_write_json, file_lock, read_json
from smishctl.util.hashing import sha256_file

CURRENT = "current"
RELEASES = "releases"
HISTORY = "history.jsonl"
RELEASE_FILE = "promotion.json"
LOCK = ".lock"
RELEASE_RE = re.compile(r"^r(\d{4,})$")
STAGING_PREFIX = ".staging-"


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


def release_dir(settings: Settings, release: str) -> Path:
    return settings.production_dir / RELEASES / release


def lock(settings: Settings) -> AbstractContextManager:
    """Held by whoever changes production, so that changes are serialised."""
    return file_lock(settings.production_dir / LOCK)


def next_release(settings: Settings) -> str:
    return next_numbered(settings.production_dir / RELEASES, RELEASE_RE, "r")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_staging(settings: Settings) -> None:
    """Remove what an interrupted change left behind (a staging folder, a link not yet renamed)."""
    prod = settings.production_dir
    for d in (prod / RELEASES).glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(d, ignore_errors=True)
    for link in prod.glob(f".{CURRENT}-*"):
        link.unlink(missing_ok=True)


def stage_release(settings: Settings, art: Artifact, promotion: dict) -> Path:
    """A verified copy of the artifact plus its promotion record, in a staging folder nobody reads."""
    staging = settings.production_dir / RELEASES / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    for name in (PROGRAM, PROMPT, MANIFEST, CARD):
        src = art.dir / name
        if src.is_file():
            shutil.copy2(src, staging / name)
            with open(staging / name, "rb") as fh:
                os.fsync(fh.fileno())
    verify_artifact(Artifact(id=art.id, dir=staging))  # the copy is exactly what was verified
    atomic_write_json(staging / RELEASE_FILE, {**promotion, "manifest_sha256": sha256_file(staging / MANIFEST)})
    return staging


def install_release(settings: Settings, staging: Path, release: str) -> None:
    """Rename the staged folder to releases/<release> (immutable from then on) and make it current."""
    staging.rename(release_dir(settings, release))
    _fsync_dir(settings.production_dir / RELEASES)
    switch_current(settings, release)


def switch_current(settings: Settings, release: str) -> None:
    """Point `current` at releases/<release> in one rename (readers see the old or the new, never neither)."""
    prod = settings.production_dir
    link = prod / CURRENT
    if link.exists() and not link.is_symlink():
        raise ConfigError(f"{link} is not managed by smishctl (a real folder, not a link)",
                          hint="move it away, then promote again")
    tmp = prod / f".{CURRENT}-{secrets.token_hex(4)}"
    os.symlink(f"{RELEASES}/{release}", tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(prod)


def append_history(settings: Settings, entry: dict) -> None:
    with open(settings.production_dir / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def find_released_artifact(settings: Settings, ref: str) -> Artifact:
    """An artifact by id from the prompt store, else from the production releases (which keep a
    copy of every promoted artifact, so a rollback works even if the store lost it)."""
    try:
        return resolve_artifact(settings.prompts_dir, ref)
    except ConfigError:
        for manifest in sorted((settings.production_dir / RELEASES).glob(f"*/{MANIFEST}"), reverse=True):
            try:
                if read_json(manifest).get("id") == ref:
                    return Artifact(id=ref, dir=manifest.parent)
            except (OSError, ValueError):
                continue
        raise
