"""Must-pass sets ("prompt unit tests"): datasets/golden/<name>.csv with columns text, label (the
expected label; `expected` is accepted too) and note. Read strictly: a must-pass set is a test, so
an empty text, a missing column or a repeated message is an error, not something to clean away."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, DataError
from smishctl.data.load import decode_utf8
from smishctl.data.prepare import example_id, text_key
from smishctl.util.fs import atomic_write_text, file_lock
from smishctl.util.inert import csv_cell, csv_value
from smishctl.util.paths import safe_child

FOLDER = "golden"
COLUMNS = ("text", "label", "note")


@dataclass
class GoldenSet:
    name: str
    path: Path
    items: list[dict] = field(default_factory=list)  # {id, text, label, note}

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({it["label"] for it in self.items}))


# Sets shipped with smishctl (inside the wheel); a project's datasets/golden/NAME.csv takes precedence.
BUNDLED = Path(__file__).resolve().parents[1] / "bundled" / FOLDER


def golden_dir(settings: Settings) -> Path:
    return settings.datasets_dir / FOLDER


def list_golden(settings: Settings) -> list[str]:
    return sorted({p.stem for folder in (golden_dir(settings), BUNDLED) if folder.is_dir()
                   for p in folder.glob("*.csv")})


def golden_path(settings: Settings, ref: str, *, must_exist: bool = True) -> Path:
    """A set name (datasets/golden/NAME.csv) or a path to a CSV file."""
    if not ref or not ref.strip():
        raise ConfigError("empty must-pass set name", hint="pass NAME (datasets/golden/NAME.csv) or a CSV file")
    as_path = Path(ref).expanduser()
    if as_path.suffix or "/" in ref or as_path.exists():
        path = as_path
    else:
        path = safe_child(golden_dir(settings), f"{ref}.csv", what="must-pass set")
        if must_exist and not path.is_file() and (BUNDLED / f"{ref}.csv").is_file():
            path = BUNDLED / f"{ref}.csv"
    if must_exist and not path.is_file():
        known = list_golden(settings)
        raise ConfigError(f"no must-pass set {ref!r} ({path})",
                          hint=f"use one of: {', '.join(known)}" if known else "write datasets/golden/NAME.csv")
    return path


def parse_golden(data: bytes, where: str) -> list[dict]:
    text = decode_utf8(data, where)
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    reader.fieldnames = fields
    label_col = "label" if "label" in fields else "expected" if "expected" in fields else None
    if "text" not in fields or label_col is None:
        raise DataError(f"{where} needs the columns text and label (found: {', '.join(fields) or 'none'})",
                        hint="write a header line: text,label,note")
    items: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(reader, 2):
        row = {k: csv_value(v) for k, v in row.items() if isinstance(v, str)}  # undo _write's formula guard
        msg = (row.get("text") or "").strip()
        label = (row.get(label_col) or "").strip().lower()
        if not msg:
            raise DataError(f"{where}:{n}: empty text", hint="every must-pass row needs a message")
        if not label:
            raise DataError(f"{where}:{n}: empty label", hint="give the expected label")
        item_id = example_id(text_key(msg))
        if item_id in seen:
            raise DataError(f"{where}:{n}: the same message as line {seen[item_id]}", hint="remove one of them")
        seen[item_id] = n
        items.append({"id": item_id, "text": msg, "label": label, "note": (row.get("note") or "").strip()})
    if not items:
        raise DataError(f"{where} has no messages")
    return items


def load_golden(settings: Settings, ref: str) -> GoldenSet:
    path = golden_path(settings, ref)
    return GoldenSet(name=path.stem, path=path.resolve(), items=parse_golden(path.read_bytes(), str(path)))


def _write(path: Path, items: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for it in items:
        w.writerow([csv_cell(it["text"]), csv_cell(it["label"]), csv_cell(it.get("note", ""))])
    atomic_write_text(path, buf.getvalue())


def add_golden(settings: Settings, ref: str, text: str, label: str, note: str = "") -> bool:
    """Add a message to a set (created if new); False when the message is already in it."""
    path = golden_path(settings, ref, must_exist=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock")):
        seed = path if path.is_file() else BUNDLED / path.name  # a shipped set is copied, then extended
        items = parse_golden(seed.read_bytes(), str(seed)) if seed.is_file() and seed.stat().st_size else []
        item_id = example_id(text_key(text))
        if any(it["id"] == item_id for it in items):
            return False
        _write(path, [*items, {"id": item_id, "text": " ".join(text.split()), "label": label, "note": note}])
    return True


def remove_golden(settings: Settings, ref: str, text: str) -> bool:
    path = golden_path(settings, ref, must_exist=False)
    if not path.is_file():
        return False
    with file_lock(path.with_name(path.name + ".lock")):
        items = parse_golden(path.read_bytes(), str(path))
        item_id = example_id(text_key(text))
        kept = [it for it in items if it["id"] != item_id]
        if len(kept) == len(items):
            return False
        if kept:
            _write(path, kept)
        else:
            path.unlink()
    return True
