"""Label corrections: a versioned overlay on a dataset, never an edit of its source file.

datasets/corrections/<dataset>.jsonl holds one line per correction (id, item id, text hash, old
label, new label, reason, author, time); for an item corrected twice the last line wins. The data
layer applies the file after splitting, so a corrected item keeps its split and no other item
moves; the file's SHA-256 is recorded in the dataset provenance (so in runs and artifacts). A
correction whose item is gone, or whose text changed, is stale: counted and warned about, not fatal.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
import sys
import time
from dataclasses import replace

from smishctl.core.config import Settings
from smishctl.core.errors import DataError
from smishctl.data.overlay import append_lines, overlay_path, read_lines, remove_lines
from smishctl.util.hashing import sha256_file

FOLDER = "corrections"
REQUIRED = ("id", "item_id", "text_sha256", "new_label")
_warned: set[str] = set()


def corrections_path(settings: Settings, dataset_name: str):
    return overlay_path(settings.datasets_dir / FOLDER, dataset_name)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_corrections(settings: Settings, dataset_name: str) -> list[dict]:
    return read_lines(corrections_path(settings, dataset_name), REQUIRED)


def add_correction(settings: Settings, dataset_name: str, *, item_id: str, text: str, old_label: str,
                   new_label: str, reason: str = "", author: str | None = None) -> dict:
    entry = {"id": secrets.token_hex(6), "item_id": item_id, "text_sha256": text_sha256(text),
             "old_label": old_label, "new_label": new_label, "reason": reason, "author": author or _author(),
             "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    append_lines(corrections_path(settings, dataset_name), [entry])
    return entry


def remove_correction(settings: Settings, dataset_name: str, correction_id: str) -> int:
    return remove_lines(corrections_path(settings, dataset_name), "id", {correction_id}, REQUIRED)


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


def apply_corrections(settings: Settings, dataset_name: str, splits: dict, stats: dict, provenance: dict,
                      labels: tuple[str, ...] | None = None) -> dict:
    """The splits with corrected labels; counts go to `stats`, the overlay's identity to `provenance`."""
    path = corrections_path(settings, dataset_name)
    rows = read_corrections(settings, dataset_name)
    if not rows:
        return splits
    latest = {r["item_id"]: r for r in rows}
    applied, changed, stale = 0, 0, []
    out = {}
    for name, items in splits.items():
        fixed = []
        for ex in items:
            c = latest.pop(ex.id, None)
            if c is None:
                fixed.append(ex)
                continue
            if c["text_sha256"] != text_sha256(ex.text):
                stale.append(f"{c['item_id']} (text changed)")
                fixed.append(ex)
                continue
            if labels and c["new_label"] not in labels:
                raise DataError(f"{path}: correction {c['id']} sets unknown label {c['new_label']!r}",
                                hint=f"use one of: {', '.join(labels)}")
            applied += 1
            changed += c["new_label"] != ex.label
            fixed.append(replace(ex, label=c["new_label"]))
        out[name] = fixed
    stale += [f"{item_id} (no longer in the dataset)" for item_id in latest]
    stats["corrections_applied"] = applied
    stats["labels_corrected"] = changed
    if stale:
        stats["corrections_stale"] = len(stale)
        key = f"{path}:{len(stale)}"
        if key not in _warned:
            _warned.add(key)
            sys.stderr.write(f"warning: {len(stale)} stale label correction(s) in {path}: "
                             f"{', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''}\n")

    provenance["corrections"] = {"file": str(path), "sha256": sha256_file(path), "lines": len(rows),
                                 "applied": applied, "stale": len(stale)}
    return out
