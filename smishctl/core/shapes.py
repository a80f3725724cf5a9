"""Type checks of decoded JSON: the fields a reader goes on to use have the types it expects, so a
hand-edited or damaged file is one DataError naming the field, never an AttributeError deep in a listing.

A shape maps a key to the kinds its value may take (NUMBER, INT, STR, BOOL, DICT, LIST, STRS, NONE, or a
tuple of them). A key that is absent passes: whether it is required is the reader's decision."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from smishctl.core.errors import DataError


class Kind:
    """One kind a value may take: a type check (bool is never a number), then an optional finer check."""

    __slots__ = ("name", "types", "no_bool", "extra")

    def __init__(self, name: str, types: type | tuple[type, ...], *, no_bool: bool = False,
                 extra: Callable[[Any], bool] | None = None):  # called only on a value of `types`
        self.name, self.types, self.no_bool, self.extra = name, types, no_bool, extra

    def fits(self, v: object) -> bool:
        return (isinstance(v, self.types) and not (self.no_bool and v.__class__ is bool)
                and (self.extra is None or self.extra(v)))


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


NUMBER = Kind("a number", (int, float), no_bool=True)
FINITE = Kind("a finite number", (int, float), no_bool=True, extra=math.isfinite)
INT = Kind("a whole number", int, no_bool=True)
COUNT = Kind("a whole number >= 0", int, no_bool=True, extra=lambda v: v >= 0)
STR = Kind("a string", str)
BOOL = Kind("true or false", bool)
DICT = Kind("an object", dict)
LIST = Kind("a list", list)
STRS = Kind("a list of strings", list, extra=lambda v: all(isinstance(x, str) for x in v))
NONE = Kind("null", type(None))
NUMBERS = Kind("an object of numbers", dict, extra=lambda v: all(_number(x) or x is None for x in v.values()))
# Label probabilities: finite numbers in [0, 1] (a hair of rounding allowed), or null. A NaN would sort above
# every number and make a perfect ROC-AUC; a 5.0 a Brier score below 0.
PROBABILITIES = Kind("an object of probabilities (numbers from 0 to 1)", dict, extra=lambda v: all(
    x is None or (_number(x) and -1e-9 <= x <= 1 + 1e-9) for x in v.values()))


_ABSENT = object()

# What a reader checks: each key's kind, or the kinds it may take.
Shape = Mapping[str, Kind | tuple[Kind, ...]]


def kind_of(v: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)


def check(obj: object, shape: Shape, where: str) -> dict[str, Any]:
    """`obj` when it is an object whose keys named in `shape` hold one of their kinds; else a DataError
    naming the first field that does not."""
    if not isinstance(obj, dict):
        raise DataError(f"{where} is not a JSON object (it is {kind_of(obj)})", hint="fix or remove the file")
    for key, kinds in shape.items():
        v = obj.get(key, _ABSENT)
        if v is _ABSENT or (kinds.fits(v) if isinstance(kinds, Kind) else any(k.fits(v) for k in kinds)):
            continue
        want = kinds.name if isinstance(kinds, Kind) else " or ".join(k.name for k in kinds)
        raise DataError(f"{where}: {key} must be {want}, not {kind_of(v)}",
                        hint="the file was edited or damaged; fix or remove it")
    return obj
