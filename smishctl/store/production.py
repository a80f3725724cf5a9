"""The production folder: its layout, what is in production (readable without the CLI), and the
atomic steps that change it (staged release, renamed into place, `current` switched, history appended).

Layout of prompts/production/ (changed only by smishctl.ops.promote, under the lock):
    releases/r0001/   an immutable copy of a promoted artifact: every file its manifest lists
                      (program.json: DSPy state; prompt.json: rendered chat messages, {{sms}}
                      placeholder; a fine-tuned artifact's adapter too), manifest.json (provenance,
                      checksums), CARD.md, promotion.json (who, when, why, metrics, evaluation run,
                      previous release, the SHA-256 of manifest.json: a release without it is refused)
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
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, DataError
from smishctl.core.manifest import MANIFEST_SHAPE
from smishctl.core.shapes import DICT, NONE, STR, Shape, check
from smishctl.store.artifacts import (
    CARD,
    MANIFEST,
    PROGRAM,
    Artifact,
    next_numbered,
    resolve_artifact,
    verify_artifact,
)
from smishctl.util.fs import atomic_write_json, file_lock, read_json
from smishctl.util.hashing import sha256_file
from smishctl.util.jsonio import loads, read_object
from smishctl.util.paths import safe_child

CURRENT = "current"
RELEASES = "releases"
HISTORY = "history.jsonl"
RELEASE_FILE = "promotion.json"
LOCK = ".lock"
RELEASE_RE = re.compile(r"^r(\d{4,})$")
# The types of the fields readers use (smishctl.core.shapes).
PROMOTION_SHAPE: Shape = {"manifest_sha256": STR, "artifact": (STR, NONE), "release": STR, "model": (DICT, NONE),
                   "metrics": (DICT, NONE), "run": (STR, NONE), "previous": (STR, NONE), "serving": (DICT, NONE)}
HISTORY_SHAPE: Shape = {"action": STR, "when": (STR, NONE), "user": (STR, NONE), "from": (DICT, NONE), "to": (DICT, NONE)}
STAGING_PREFIX = ".staging-"
RESTORE_HINT = ("restore the previous release with smishctl promote --rollback, or promote an artifact with "
                "--force --reason '...'")


@dataclass(frozen=True)
class ReleaseRef:
    """A release and the artifact it held: the `from` and `to` of a history line or a promotion."""

    release: str | None
    artifact: str | None

    @classmethod
    def of(cls, value: object) -> ReleaseRef | None:
        if not isinstance(value, dict):
            return None
        return cls(release=value.get("release"), artifact=value.get("artifact"))

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "artifact": self.artifact}


@dataclass(frozen=True)
class Release:
    """What is (or was) in production: a release's promotion record (promotion.json: who, when, why,
    evidence run, metrics, checks, the serving identity promoted) with the release name and folder.
    Readers use the attributes; `to_dict()` is the record as read (what the site and reports print)."""

    data: dict[str, Any] = field(repr=False)

    @property
    def release(self) -> str:
        return str(self.data["release"])

    @property
    def dir(self) -> str | None:
        return self.data.get("dir")

    @property
    def artifact(self) -> str | None:
        return self.data.get("artifact")

    @property
    def run(self) -> str | None:
        return self.data.get("run")

    @property
    def model(self) -> dict[str, Any]:
        return self.data.get("model") or {}

    @property
    def model_name(self) -> str | None:
        return self.model.get("name")

    @property
    def metrics(self) -> dict[str, Any] | None:
        return self.data.get("metrics")

    @property
    def serving(self) -> dict[str, Any] | None:
        """The serving identity promoted (smishctl.core.identity.ServingIdentity.to_dict())."""
        return self.data.get("serving")

    @property
    def previous(self) -> str | None:
        return self.data.get("previous")

    @property
    def promoted_at(self) -> str | None:
        return self.data.get("promoted_at")

    @property
    def user(self) -> str | None:
        return self.data.get("user")

    @property
    def reason(self) -> str | None:
        return self.data.get("reason")

    @property
    def forced(self) -> bool | None:
        return self.data.get("forced")

    @property
    def damaged(self) -> str | None:
        """Why production refuses this release (damaged_current); None for a release read whole."""
        return self.data.get("damaged")

    @property
    def ref(self) -> ReleaseRef:
        return ReleaseRef(release=self.release, artifact=self.artifact)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of history.jsonl: a promotion or a rollback (who, when, from which release to which, the
    evidence run and why). `to_dict()` is the line as stored."""

    data: dict[str, Any] = field(repr=False)

    @property
    def action(self) -> str:
        return str(self.data["action"])

    @property
    def when(self) -> str | None:
        return self.data.get("when")

    @property
    def user(self) -> str | None:
        return self.data.get("user")

    @property
    def from_(self) -> ReleaseRef | None:
        return ReleaseRef.of(self.data.get("from"))

    @property
    def to(self) -> ReleaseRef | None:
        return ReleaseRef.of(self.data.get("to"))

    @property
    def release(self) -> str | None:
        """The release this line put in production."""
        to = self.to
        return to.release if to else None

    @property
    def run(self) -> str | None:
        return self.data.get("run")

    @property
    def reason(self) -> str | None:
        return self.data.get("reason")

    @property
    def metrics(self) -> dict[str, Any] | None:
        return self.data.get("metrics")

    @property
    def forced(self) -> bool | None:
        return self.data.get("forced")

    @property
    def failed_checks(self) -> list[str]:
        return list(self.data.get("failed_checks") or [])

    @property
    def repaired(self) -> str | None:
        """Why this line was written late (a switch a crash kept out of the history), when it was."""
        return self.data.get("repaired")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


def current_dir(settings: Settings) -> Path:
    return settings.production_dir / CURRENT


def read_current(settings: Settings) -> Release | None:
    """The current release's promotion record (plus `release` and `dir`); None only when production never
    had a release (no history). Refused (ConfigError) when `current`, its release folder or its manifest
    is missing, when the release has no promotion record, or when its manifest is not the one promoted."""
    cur = current_dir(settings)
    if not cur.is_symlink() and not cur.exists():
        history = read_history(settings)
        if not history:
            return None
        raise ConfigError(f"production has no current release: the {CURRENT} link is missing, although "
                          f"{HISTORY} records {len(history)} changes (last: release {last_release(history)})",
                          hint=RESTORE_HINT)
    if not (cur / MANIFEST).is_file():
        what = "its release folder is missing" if not cur.exists() else "its manifest.json is missing"
        raise ConfigError(f"production's current release {_release_name(cur)}: {what}", hint=RESTORE_HINT)
    info = promotion_record(cur)
    manifest = read_json(cur / MANIFEST)
    info.setdefault("artifact", manifest.get("id"))
    info.setdefault("model", manifest.get("model") or {})
    info["release"] = cur.resolve().name if cur.is_symlink() else info.get("release", CURRENT)
    info["dir"] = str(cur.resolve())
    return Release(info)


def last_release(history: list[HistoryEntry]) -> str | None:
    """The release the last history line put in production."""
    for entry in reversed(history):
        release = entry.release
        if isinstance(release, str) and RELEASE_RE.match(release):  # a name, never a path
            return release
    return None


def damaged_current(settings: Settings, why: str) -> Release | None:
    """What production is when read_current refuses it (a tampered or missing release): the release name
    from the `current` link, or without a link from the history, so that a rollback can still leave it.
    None when neither names one."""
    link = current_dir(settings)
    release: str | None
    if link.is_symlink():
        release = Path(os.readlink(link)).name
    else:
        release = last_release(read_history(settings))
        if release is None:
            return None
    try:
        artifact = read_json(release_dir(settings, release) / MANIFEST).get("id")
    except (OSError, ValueError, AttributeError):
        artifact = None
    return Release({"release": release, "artifact": artifact, "damaged": why})


def _release_name(release_dir: Path) -> str:
    release_dir = Path(release_dir)
    return release_dir.resolve().name if release_dir.is_symlink() else release_dir.name


def promotion_record(release_dir: Path) -> dict[str, Any]:
    """The release's promotion.json, refused unless it names the SHA-256 of the release's manifest.json.

    The record is what binds a release to what was promoted: without it, a manifest rewritten together
    with a swapped program would pass the file checksums, so a release without one is never served."""
    release_dir = Path(release_dir)
    name = _release_name(release_dir)
    if not (release_dir / RELEASE_FILE).is_file():
        raise ConfigError(f"release {name} has no {RELEASE_FILE}: it cannot be checked against what was promoted",
                          hint="the release was modified; promote the artifact again")
    try:
        info = read_json(release_dir / RELEASE_FILE)
        want = info.get("manifest_sha256") if isinstance(info, dict) else None
        have = sha256_file(release_dir / MANIFEST)
    except (OSError, ValueError):
        raise ConfigError(f"release {name} has an unreadable manifest or promotion record",
                          hint="it is corrupt; promote the artifact again") from None
    try:
        check(info, PROMOTION_SHAPE, f"release {name}: {RELEASE_FILE}")
    except DataError as exc:  # a release that cannot be read is refused like a modified one
        raise ConfigError(str(exc), hint="the release was modified; promote the artifact again") from None
    if not isinstance(want, str) or not want:
        raise ConfigError(f"release {name}: {RELEASE_FILE} does not record the SHA-256 of its manifest",
                          hint="the release was modified; promote the artifact again")
    if have != want:
        raise ConfigError(f"release {name}: manifest.json is not the one that was promoted",
                          hint="the release was modified; promote the artifact again")
    return dict(info)


def verify_release(release_dir: Path) -> Artifact:
    """The release as an artifact, refused unless its manifest is the one promoted (promotion_record)
    and its files match that manifest."""
    release_dir = Path(release_dir)
    promotion_record(release_dir)
    try:
        manifest = read_object(release_dir / MANIFEST, MANIFEST_SHAPE)
    except (OSError, DataError):
        raise ConfigError(f"release {_release_name(release_dir)} has an unreadable manifest",
                          hint="it is corrupt; promote the artifact again") from None
    art = Artifact(id=manifest.get("id", release_dir.name), dir=release_dir.resolve())
    verify_artifact(art)
    return art


def read_history(settings: Settings) -> list[HistoryEntry]:
    path = settings.production_dir / HISTORY
    if not path.is_file():
        return []
    out = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith(b"\n"):
                break  # a torn last line (crash mid-append)
            try:
                out.append(HistoryEntry(check(loads(line, where=f"{path}:{n}"), HISTORY_SHAPE, f"{path}:{n}")))
            except DataError as exc:  # one bad line is left out, not the history after it
                sys.stderr.write(f"warning: skipping a history entry: {exc.one_line()}\n")
    return out


def release_dir(settings: Settings, release: str) -> Path:
    return settings.production_dir / RELEASES / release


def lock(settings: Settings) -> AbstractContextManager[Any]:
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


def release_files(art: Artifact) -> list[str]:
    """What a release of `art` holds: every file its manifest lists (a LoRA adapter too), the manifest
    and the card. A name that would leave the folder is refused."""
    manifest = art.manifest
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or PROGRAM not in files:
        raise ConfigError(f"artifact {art.id}: its manifest does not checksum {PROGRAM}",
                          hint="only artifacts written by smishctl optimize or finetune can be promoted")
    for name in files:
        safe_child(art.folder, name, what="artifact file")
    return [*files, MANIFEST, CARD]


def stage_release(settings: Settings, art: Artifact, promotion: dict[str, Any]) -> Path:
    """A verified copy of the artifact plus its promotion record, in a staging folder nobody reads
    (removed again when staging fails: only a crash leaves one, for clean_staging)."""
    names = release_files(art)
    staging = settings.production_dir / RELEASES / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    try:
        for name in names:
            src = art.folder / name
            if src.is_file():  # a listed file that is missing fails the verification below
                shutil.copy2(src, staging / name)
                with open(staging / name, "rb") as fh:
                    os.fsync(fh.fileno())
        verify_artifact(Artifact(id=art.id, dir=staging))  # the copy is exactly what was verified
        atomic_write_json(staging / RELEASE_FILE, {**promotion, "manifest_sha256": sha256_file(staging / MANIFEST)})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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


def append_history(settings: Settings, entry: HistoryEntry) -> None:
    with open(settings.production_dir / HISTORY, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
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
                if read_object(manifest, MANIFEST_SHAPE).get("id") == ref:
                    return verify_release(manifest.parent)  # a release not as promoted is no copy of it
            except (OSError, ValueError, DataError, ConfigError):
                continue
        raise
