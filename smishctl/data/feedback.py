"""Feedback from production: messages users reported, with the label they should have had.

Stored in datasets/feedback/<dataset>.jsonl (one report per line: id, text, label, note, source,
masked, author, time), de-duplicated against the dataset and earlier reports by the normalised text.
`--mask` replaces phone numbers, e-mail addresses, URL paths and long digit runs before anything is
written, and the report says so. The file is an evaluation-only dataset (`evaluate --dataset
datasets/feedback/<dataset>.jsonl`, then `review`), and `optimize --with-feedback` adds the reports to
the training pool only: never to dev or test, nor a report that near-copies one of their messages
(smishctl.data.leaks), which `add`/`import` keep and count.
"""

from __future__ import annotations

import csv
import getpass
import io
import re
import time
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.core.errors import DataError
from smishctl.core.shapes import STR, check
from smishctl.data.leaks import near_copies
from smishctl.data.load import decode_utf8
from smishctl.data.overlay import append_lines, overlay_path, read_lines
from smishctl.data.prepare import Example, example_id, normalise_text, text_key
from smishctl.util.fs import file_lock
from smishctl.util.hashing import sha256_file
from smishctl.util.jsonio import BadJSON, loads

FOLDER = "feedback"
REQUIRED = ("id", "text", "label")
REPORT_SHAPE = {"text": STR, "label": STR}  # an imported report (smishctl.core.shapes)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_PATH = re.compile(r"\b((?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?)(/[^\s]*)", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w/])\+?\d[\d ()-]{7,}\d(?![\w/])")
_DIGITS = re.compile(r"\d{6,}")


def mask_text(text: str) -> str:
    """Personal data out, shape kept: the domain of a link stays (it is the signal), its path goes."""
    text = _EMAIL.sub("<email>", text)
    text = _URL_PATH.sub(lambda m: f"{m.group(1)}/<path>", text)
    text = _PHONE.sub("<phone>", text)
    return _DIGITS.sub("<digits>", text)


def feedback_path(settings: Settings, dataset_name: str) -> Path:
    return overlay_path(settings.datasets_dir / FOLDER, dataset_name)


def read_feedback(settings: Settings, dataset_name: str) -> list[dict]:
    return read_lines(feedback_path(settings, dataset_name), REQUIRED)


def parse_reports(data: bytes, where: str) -> list[dict]:
    """User reports from a CSV or JSON Lines file: text, label and an optional note per report."""
    text = decode_utf8(data, where)
    rows: list[tuple[int, dict]] = []
    if where.lower().endswith((".jsonl", ".json")):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    obj = loads(line, where=f"{where}:{n}")
                except BadJSON as exc:
                    raise DataError(str(exc), hint="one JSON object per line") from None
                if not isinstance(obj, dict):
                    raise DataError(f"{where}:{n} is not a JSON object")
                check(obj, REPORT_SHAPE, f"{where}:{n}")
                rows.append((n, obj))
    else:
        reader = csv.DictReader(io.StringIO(text))
        rows = list(enumerate(reader, 2))
        fields = reader.fieldnames or []
        for col in ("text", "label"):
            if col not in fields:
                raise DataError(f"{where} has no column {col!r} (columns: {', '.join(fields) or 'none'})",
                                hint="write a header line: text,label,note")
    out = []
    for n, row in rows:
        for col in ("text", "label"):
            if not str(row.get(col) or "").strip():
                raise DataError(f"{where}:{n}: missing {col}", hint="every report needs a text and a label")
        out.append({"text": str(row["text"]), "label": str(row["label"]).strip().lower(),
                    "note": str(row.get("note") or "").strip(), "row": n})
    if not out:
        raise DataError(f"{where} holds no reports")
    return out


def add_reports(settings: Settings, ds, reports: list[dict], *, source: str, mask: bool = False) -> dict:
    """Check every report, then append the new ones in one write: a bad report writes nothing.

    `ds` is the PreparedDataset the reports are for (its labels, and its texts for de-duplication)."""
    for r in reports:
        if r["label"] not in ds.labels:
            where = f"row {r['row']}: " if r.get("row") else ""
            raise DataError(f"{where}unknown label {r['label']!r}", hint=f"use one of: {', '.join(ds.labels)}")
    path = feedback_path(settings, ds.name)
    known = {ex.id for items in ds.splits.values() for ex in items}
    with file_lock(path.with_name(path.name + ".add.lock")):
        known |= {r["id"] for r in read_feedback(settings, ds.name)}
        new, dup = [], 0
        author = _author()
        for r in reports:
            text = normalise_text(mask_text(r["text"]) if mask else r["text"])
            if not text:
                raise DataError(f"empty message{' in row ' + str(r['row']) if r.get('row') else ''}")
            item_id = example_id(text_key(text))
            if item_id in known:
                dup += 1
                continue
            known.add(item_id)
            new.append({"id": item_id, "text": text, "label": r["label"], "note": r.get("note", ""),
                        "source": r.get("source") or source, "masked": mask, "author": author,
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        append_lines(path, new)
    # Kept (they are real traffic, and evaluating the feedback file scores them), but never trained on:
    # training_feedback drops them. Counted so that the user hears it now, not at the next optimize.
    held_out = held_out_copies(ds, [r["text"] for r in new]).n_learned
    return {"added": len(new), "duplicates": dup, "held_out_copies": held_out, "file": str(path),
            "total": len(read_feedback(settings, ds.name))}


def held_out_copies(ds, texts: list[str]):
    """Which `texts` are near-copies of the dataset's dev or test messages (smishctl.data.leaks)."""
    return near_copies(texts, [ex.text for name in ("dev", "test") for ex in ds.split(name)])


def training_feedback(settings: Settings, ds) -> tuple[list[Example], dict]:
    """Reports for the training pool: never an item of the dataset's dev or test split, nor a near-copy
    of one (the same template with another number, URL, case or punctuation). Such reports are dropped,
    not refused: the file keeps growing from production, and one report that resembles a held-out
    message must not stop every later run; the count is recorded (`held_out_copies`)."""
    rows = read_feedback(settings, ds.name)
    held_out_ids = {ex.id for name in ("dev", "test") for ex in ds.split(name)}
    usable = [r for r in rows if r["label"] in ds.labels]
    leaked = held_out_copies(ds, [r["text"] for r in usable]).learned
    examples = [Example(id=r["id"], text=r["text"], label=r["label"], raw_text=r["text"])
                for r, leak in zip(usable, leaked, strict=True) if not leak and r["id"] not in held_out_ids]
    path = feedback_path(settings, ds.name)
    return examples, {"file": str(path), "sha256": sha256_file(path) if path.is_file() else None,
                      "reports": len(rows), "used": len(examples), "held_out_copies": int(leaked.sum())}


def _author() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"
