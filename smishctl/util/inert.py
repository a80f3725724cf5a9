"""Text from messages, models and records made inert before it leaves smishctl: in reports and on the
terminal no control character acts (an ESC sequence that retitles or clears the terminal, a BEL, a
bidirectional override that reorders what is shown), and in CSV no cell starts a spreadsheet formula.

`inert_text` is the one sanitiser of every reporter (Markdown, HTML, JUnit XML, the terminal): control
characters become visible stand-ins (ESC -> U+241B '␛', the C1 and bidirectional controls -> U+FFFD),
which are valid in every one of those formats, JSON strings inside HTML included. `csv_cell` follows
OWASP's CSV-injection guidance (a cell that starts with = + - @, tab or CR gets a leading single quote);
`csv_value` undoes exactly that, so a file written by `csv_cell` reads back to the same texts.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _stand_in(m: re.Match) -> str:
    c = ord(m.group())
    if c < 0x20:
        return chr(0x2400 + c)  # the Control Pictures block: ␀ … ␟
    return "\u2421" if c == 0x7F else "\ufffd"


def inert_text(text: str) -> str:
    """`text` with every control character (but tab and newline) replaced by a visible stand-in."""
    return _CONTROL.sub(_stand_in, text)


def _guarded(text: str) -> bool:
    # Quotes already in front count too ("'=x" is guarded again), so that csv_value undoes exactly one.
    return text.lstrip("'").startswith(_FORMULA_START)


def csv_cell(value) -> str:
    """A CSV cell that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if _guarded(text) else text


def csv_value(cell: str | None) -> str:
    """What `csv_cell` was given: the guarding quote removed (only in front of a formula start)."""
    text = cell or ""
    return text[1:] if text.startswith("'") and _guarded(text[1:]) else text
