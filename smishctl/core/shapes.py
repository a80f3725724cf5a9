"""Type checks of decoded JSON: the fields a reader goes on to use have the types it expects, so a
hand-edited or damaged file is one DataError naming the field, never an AttributeError deep in a listing.

A shape maps a key to the kinds its value may take (NUMBER, INT, STR, BOOL, DICT, LIST, STRS, NONE, or a
tuple of them). A key that is absent passes: whether it is required is the reader's decision."""

from __future__ import annotations

import math
from collections.abc import Callable

from smishctl.core.errors import DataError


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# kind -> (how an error names it, the check)
Kind = tuple[str, Callable[[object], bool]]
NUMBER: Kind = ("a number", _number)
FINITE: Kind = ("a finite number", lambda v: _number(v) and math.isfinite(v))
INT: Kind = ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool))
COUNT: Kind = ("a whole number >= 0", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)
STR: Kind = ("a string", lambda v: isinstance(v, str))
BOOL: Kind = ("true or false", lambda v: isinstance(v, bool))
DICT: Kind = ("an object", lambda v: isinstance(v, dict))
LIST: Kind = ("a list", lambda v: isinstance(v, list))
STRS: Kind = ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
NONE: Kind = ("null", lambda v: v is None)
NUMBERS: Kind = ("an object of numbers",
                 lambda v: isinstance(v, dict) and all(_number(x) or x is None for x in v.values()))


def kind_of(v: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)


def check(obj: object, shape: dict[str, Kind | tuple[Kind, ...]], where: str) -> dict:
    """`obj` when it is an object whose keys named in `shape` hold one of their kinds; else a DataError
    naming the first field that does not."""
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a JSON object (it is {kind_of(obj)})", hint="fix or remove the file")
    for key, kinds in shape.items():
        if key not in obj:
            continue
        options = kinds if isinstance(kinds[0], tuple) else (kinds,)
        if not any(ok(obj[key]) for _, ok in options):
            want = " or ".join(name for name, _ in options)
            raise DataError(f"{where}: {key} must be {want}, not {kind_of(obj[key])}",
                            hint="the file was edited or damaged; fix or remove it")
    return obj
