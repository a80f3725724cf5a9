"""Append-only JSON Lines files that sit next to a dataset (corrections, feedback): read strictly,
appended under a lock with fsync, rewritten atomically (undo)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from smishctl.core.errors import DataError
from smishctl.core.shapes import STR, check
from smishctl.util.fs import atomic_write_text, file_lock
from smishctl.util.jsonio import BadJSON, loads


def overlay_path(folder: Path, dataset_name: str) -> Path:
    """datasets/<kind>/<dataset>.jsonl; the name is made a safe file name (no folders)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", dataset_name).strip(".-") or "dataset"
    return Path(folder) / f"{stem}.jsonl"


def read_lines(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Every record of the file; a malformed line is an error naming it (a torn last line, from a
    crash mid-append, is ignored)."""
    if not path.is_file():
        return []
    out = []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8 (offset {exc.start})", hint="fix or remove the file") from None
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = loads(line, where=f"{path}:{n}")
        except BadJSON as exc:
            if n == len(lines):  # no newline after it: torn by a crash
                break
            raise DataError(str(exc), hint="fix or remove that line") from None
        missing = [k for k in required if k not in row] if isinstance(row, dict) else list(required)
        if missing:
            raise DataError(f"{path}:{n} lacks {missing[0]!r}", hint="fix or remove that line")
        check(row, dict.fromkeys(required, STR), f"{path}:{n}")
        out.append(row)
    return out


def append_lines(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock")):
        # A torn tail (crash mid-append) would glue onto the next line: start on a fresh line.
        prefix = ""
        if path.is_file() and path.stat().st_size:
            with open(path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                prefix = "" if fh.read(1) == b"\n" else "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(prefix + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            fh.flush()
            os.fsync(fh.fileno())


def remove_lines(path: Path, key: str, values: set[str], required: tuple[str, ...]) -> int:
    """Rewrite the file without the records whose `key` is in `values`; the number removed."""
    with file_lock(path.with_name(path.name + ".lock")):
        rows = read_lines(path, required)
        kept = [r for r in rows if r.get(key) not in values]
        if len(kept) != len(rows):
            atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
        return len(rows) - len(kept)
