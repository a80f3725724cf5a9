"""The one JSON reader: every JSON file and JSON Lines line smishctl reads goes through `loads` or
`read_json`, which bound its size and its nesting before anything uses it, so a damaged or hostile file
is one clear error (`BadJSON`) instead of a RecursionError, a MemoryError or a hang.

Python's parser recurses once per nesting level: a 100,000-deep list raises RecursionError, and a
structure just under the interpreter's limit parses but breaks whatever walks it next (json.dumps,
copy). Records are shallow, so anything deeper than MAX_DEPTH is refused. The types of the fields a
reader uses are checked after this, by `smishctl.core.shapes` (records check their own in from_dict).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smishctl.core.errors import DataError
from smishctl.core.shapes import Shape, check

MAX_DEPTH = 64
MAX_FILE_BYTES = 64 * 1024 * 1024  # a JSON document (run.json, manifest.json, program.json ...)
MAX_LINE_BYTES = 4 * 1024 * 1024  # one JSON Lines record (a prediction row, a history entry, a report)


class BadJSON(DataError, ValueError):
    """Not JSON, too large or too deeply nested. A ValueError too, like json's own decode error, so the
    readers that skip an unreadable record keep doing so."""


def loads(text: str | bytes, *, where: str, max_bytes: int = MAX_LINE_BYTES):
    """`text` decoded, or BadJSON naming `where` (a file, or file:line) and what is wrong."""
    if len(text) > max_bytes:
        raise BadJSON(f"{where} is larger than {max_bytes // (1024 * 1024)} MiB, the most smishctl reads",
                      hint="fix or remove it")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJSON(f"{where} is not UTF-8 (byte {exc.start})", hint="fix or remove it") from None
    try:
        obj = json.loads(text)
    except RecursionError:
        obj = None  # reported just below, as any structure nested too deeply
        deep = True
    except json.JSONDecodeError as exc:
        raise BadJSON(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                      hint="fix or remove it") from None
    else:
        # Fewer brackets than the limit cannot nest deeper: the walk runs only for large documents.
        deep = text.count("[") + text.count("{") > MAX_DEPTH and depth(obj) > MAX_DEPTH
    if deep:
        raise BadJSON(f"{where} is nested more than {MAX_DEPTH} levels deep", hint="fix or remove it")
    return obj


def read_json(path: Path | str, *, max_bytes: int = MAX_FILE_BYTES):
    """A JSON file decoded through `loads`; its size is checked before it is read."""
    path = Path(path)
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    return loads(data, where=str(path), max_bytes=max_bytes)


def depth(obj) -> int:
    """How deeply lists and objects nest in `obj` (a scalar: 0), without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:  # deeper than the limit is all the caller needs to know
            stack.extend((child, level + 1) for child in node)
    return deepest


def read_object(path: Path | str, shape: Shape | None = None, *, what: str | None = None) -> dict[str, Any]:
    """A JSON file that must hold an object whose fields named in `shape` have their types
    (smishctl.core.shapes): BadJSON or DataError otherwise, naming `what` (default: the path)."""
    return check(read_json(path), shape or {}, what or str(path))
