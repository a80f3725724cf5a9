"""Shortest unique tails of ids: the short references `runs list` and `prompts list` show."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def shortest_unique_tails(ids: Iterable[str], sep: str, unique: Callable[[str, str], bool]) -> dict[str, str]:
    """For each id, its shortest tail of `sep`-separated parts for which `unique(tail, id)` holds (the
    caller says what resolves back to that id alone); the whole id when no shorter tail does."""
    out: dict[str, str] = {}
    for whole in ids:
        parts = whole.split(sep)
        out[whole] = next((tail for k in range(1, len(parts))
                           if unique(tail := sep.join(parts[-k:]), whole)), whole)
    return out
