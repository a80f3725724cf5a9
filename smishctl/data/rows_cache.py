"""The parsed rows of a local dataset file, kept so that a command that only needs to know the split
(promote and compare of recorded runs) does not import HF `datasets` and pandas to parse the same file again.

Only parsing is cached; cleaning, deduplication, the split and label corrections are recomputed by the
code of the day on every load. An entry is served only when everything the parse depends on is the
same: the file's bytes (sha256), how it is read (format, encoding, columns, header), the versions of
the parsing libraries, and the source of the modules that turn a table into rows. An entry whose rows
do not hash to what it records, or that names another key, is recomputed and rewritten, never served.
A cache that cannot be written only costs the next command the parse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from smishctl.data import load
from smishctl.util.fs import atomic_write_bytes
from smishctl.util.hashing import code_fingerprint, sha256_file
from smishctl.util.jsonio import read_json

SCHEMA = "smishctl.rows/1"
MAX_CACHED_BYTES = 64 * 2**20  # a bigger file is parsed each time rather than copied into the cache
MAX_ENTRY_BYTES = 4 * MAX_CACHED_BYTES  # JSON escapes can make an entry bigger than its file
_LIBRARIES = ("datasets", "pandas", "pyarrow")
Rows = list[dict[str, Any]]


def rows_key(file_sha256: str, source: load.TableSource, fmt: str) -> dict[str, Any]:
    """What the parse of a file whose bytes hash to `file_sha256` depends on."""
    return {
        "schema": SCHEMA,
        "file_sha256": file_sha256,
        "format": fmt,
        "encoding": source.encoding,
        "text_column": source.text_column,
        "label_column": source.label_column,
        "header": source.header,
        **code_fingerprint([load.__file__, __file__], _LIBRARIES),
    }


def read_rows(source: load.TableSource, *, cache_dir: Path, max_bytes: int) -> Rows:
    """`load.read_rows`, served from `cache_dir / "rows"` for a local file parsed before. The file's
    checks (size, encoding, Parquet expansion) run every time, so a lowered limit still refuses it.

    A local file is parsed with HF's Arrow cache in a folder named by its content: HF knows a file by its
    path and modification time only, so a rewrite that keeps the time (cp -p, rsync -t, tar, two
    writes within the file system's clock tick) would be handed the old file's rows."""
    hf_cache = cache_dir / "hf-datasets"
    if source.hub_id:
        return load.read_rows(source, cache_dir=hf_cache, max_bytes=max_bytes)
    assert source.path is not None  # a source is a hub id or a file
    path = Path(source.path)
    fmt = source.format or load.detect_format(path)
    load.check_file(path, fmt, source.encoding, max_bytes, (source.text_column, source.label_column))
    sha = sha256_file(path)
    parse_cache = hf_cache / f"sha256-{sha[:32]}"
    if path.stat().st_size > MAX_CACHED_BYTES:
        return load.read_rows(source, cache_dir=parse_cache, max_bytes=max_bytes)
    key = rows_key(sha, source, fmt)
    entry = cache_dir / "rows" / f"{_digest(key)}.json"
    rows = read_entry(entry, key)
    if rows is None:
        rows = load.read_rows(source, cache_dir=parse_cache, max_bytes=max_bytes)
        if sha256_file(path) == sha:  # not rewritten meanwhile: the rows are those of the bytes keyed
            write_entry(entry, key, rows)
    return rows


def read_entry(entry: Path, key: dict[str, Any]) -> Rows | None:
    """The rows stored at `entry` for `key`, or None when absent, for another key, or damaged."""
    try:
        doc = read_json(entry, max_bytes=MAX_ENTRY_BYTES)  # bounded like every JSON read
    except (OSError, ValueError):  # absent, unreadable, not JSON (jsonio.BadJSON is a ValueError)
        return None
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    rows = doc.get("rows")
    if not _well_formed(rows) or _rows_sha256(rows) != doc.get("rows_sha256"):
        return None
    return rows


def write_entry(entry: Path, key: dict[str, Any], rows: Rows) -> None:
    try:
        body = {"key": key, "rows_sha256": _rows_sha256(rows), "rows": rows}
        data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):  # values JSON does not keep exactly (bytes, NaN): not cached
        return
    if len(data) > MAX_ENTRY_BYTES:  # read_entry would refuse it: writing it would only cost time
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(entry, data)
    except OSError:
        pass


def _well_formed(rows: object) -> bool:
    return isinstance(rows, list) and all(
        isinstance(r, dict) and r.keys() == {"text", "label", "row"} and isinstance(r["row"], int) for r in rows)


def _rows_sha256(rows: object) -> str:
    text = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:32]
