"""Tables that fit the terminal: drop the least useful columns first, let long text wrap or shorten free
text (a message) to one line, never cut an identifier (a reference that is cut cannot be pasted back into
another command)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace

from rich import box
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from smishctl.cli.common import InertConsole

SHORTEST = 12  # cells of a `shorten` column keep at least this many characters


@dataclass
class Column:
    header: str
    justify: JustifyMethod = "left"
    drop: int | None = None  # dropped when the table is too wide, lowest first; None: always shown
    wrap: bool = False  # may wrap onto several lines; identifiers (wrap=False) are never cut nor wrapped
    wide_only: bool = False  # only with --wide
    shorten: bool = False  # plain text (not markup) cut to one line with '…' to fill the width left over


@dataclass
class Fitted:
    table: Table
    width: int  # the width to print it at (wider than the console with --wide)
    hidden: list[str]  # headers of the columns left out


def fit_table(console: Console, columns: list[Column], rows: list[list[str]], *, wide: bool = False,
              title: str | None = None) -> Fitted:
    """Build the table at the console's width; with `wide`, every column at its natural width."""
    short = [i for i, c in enumerate(columns) if c.shorten]
    if short:
        rows = [[escape(one_line(cell)) if i in short else cell for i, cell in enumerate(r)] for r in rows]
        if not wide:
            return _fit_shortened(console, columns, rows, short, title)
    keep = [i for i, c in enumerate(columns) if wide or not c.wide_only]
    if wide:
        t = _build(columns, rows, keep, title)
        return Fitted(t, max(console.width, _natural_width(console, t)), [])
    by_priority = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None and i in keep)

    def fits(cols: list[int]) -> bool:
        return _natural_width(console, _build(columns, rows, cols, title)) <= console.width

    dropped = []
    while by_priority and not fits(keep):
        dropped.append(by_priority.pop(0)[1])
        keep.remove(dropped[-1])
    for i in reversed(dropped[:-1]):  # a less important column may fit where a wider one did not
        if fits(sorted(keep + [i])):
            keep = sorted(keep + [i])
    t = _build(columns, rows, keep, title)
    hidden = [c.header for i, c in enumerate(columns) if i not in keep and not c.wide_only]
    return Fitted(t, console.width, hidden)


def _fit_shortened(console: Console, columns: list[Column], rows: list[list[str]], short: list[int],
                   title: str | None) -> Fitted:
    """Fit the other columns as if the shortened ones were SHORTEST wide, then give those what is left."""
    as_short = [replace(c, shorten=False) for c in columns]
    narrow = [[_cut(cell, SHORTEST) if i in short else cell for i, cell in enumerate(r)] for r in rows]
    fitted = fit_table(console, as_short, narrow, title=title)
    keep = [i for i, c in enumerate(columns) if c.header not in fitted.hidden and not c.wide_only]
    spare = console.width - _natural_width(console, fitted.table)
    room = SHORTEST + max(0, spare) // max(1, len([i for i in short if i in keep]))
    cut = [[_cut(cell, room) if i in short else cell for i, cell in enumerate(r)] for r in rows]
    return Fitted(_build(as_short, cut, keep, title), console.width, fitted.hidden)


def one_line(text: str | None) -> str:
    """Free text on one line: runs of whitespace become one space, control characters are dropped (an SMS
    may carry terminal escape sequences)."""
    text = "".join(c for c in (text or "") if c.isspace() or not unicodedata.category(c).startswith("C"))
    return " ".join(text.split())


def _cut(cell: str, width: int) -> str:
    """An escaped cell cut to `width` terminal cells, ending in '…' when something was cut."""
    plain = Text.from_markup(cell)
    if plain.cell_len <= width:
        return cell
    plain.truncate(width, overflow="ellipsis")
    return escape(plain.plain)


def print_fitted(console: Console, fitted: Fitted, *, what: str = "columns") -> None:
    if fitted.width > console.width:  # Console.print never prints wider than the console
        console = InertConsole(width=fitted.width, file=console.file, highlight=False, no_color=console.no_color,
                          force_terminal=console.is_terminal)
    console.print(fitted.table)
    if fitted.hidden:
        console.print(f"[dim]{what} left out at this width: {', '.join(fitted.hidden)} (--wide shows all)[/dim]")


def _build(columns: list[Column], rows: list[list[str]], keep: list[int], title: str | None) -> Table:
    t = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True,
              title_justify="left")
    for i in keep:
        c = columns[i]
        longest = max([_plain_len(c.header)] + [_plain_len(r[i]) for r in rows])
        if c.wrap:
            t.add_column(c.header, justify=c.justify, overflow="fold")
        else:
            t.add_column(c.header, justify=c.justify, no_wrap=True, min_width=longest, overflow="fold")
    for r in rows:
        t.add_row(*[r[i] for i in keep])
    return t


def _plain_len(cell: str) -> int:
    from rich.text import Text

    return max((len(line) for line in Text.from_markup(cell).plain.splitlines()), default=0)


def _natural_width(console: Console, t: Table) -> int:
    options = console.options.update_width(100_000)
    return t.__rich_measure__(console, options).maximum
