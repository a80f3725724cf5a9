"""`smishctl compare --diff`: the items the runs answer differently, as a table on screen."""

from __future__ import annotations

from rich.markup import escape

from smishctl.cli.common import out
from smishctl.cli.tables import Column, fit_table, print_fitted
from smishctl.core.comparison import Comparison

DIFF_TEXT_MIN = 40  # below this the item ids give their room to the messages (they stay in --wide / --json)


def print_diff(cmp: Comparison, refs: dict[str, str], *, wide: bool) -> None:
    """The items the runs answer differently: id, gold, one column per run (its reference), the text."""
    d = cmp.diff
    if not d.items:
        out.print(f"the runs answer all {cmp.n_common_items} common items alike")
        return
    columns = ([Column("item", wide_only=not wide and _ids_crowd_text(cmp, refs)), Column("gold")]
               + [Column(refs.get(r.id, r.id)) for r in cmp.runs] + [Column("text", shorten=True)])
    rows = [[escape(it.item_id), escape(it.gold)]
            + [escape(a) if ok else f"[red]{escape(a)}[/red]" for a, ok in zip(it.answers, it.correct, strict=True)]
            + [it.text or ""] for it in d.items]
    title = f"{d.n} of {cmp.n_common_items} common items answered differently"
    print_fitted(out, fit_table(out, columns, rows, wide=wide, title=title))
    if columns[0].wide_only:
        out.print("item ids: --wide or --json")
    if d.left_out:
        out.print(f"{d.left_out} more not listed (the first {len(d.items)} are)")


def _ids_crowd_text(cmp: Comparison, refs: dict[str, str]) -> bool:
    """Whether, with the item column, the text of --diff would get fewer than DIFF_TEXT_MIN characters."""
    items = cmp.diff.items
    widths = [max(len(it.item_id) for it in items), max(len("gold"), *(len(it.gold) for it in items))]
    for k, r in enumerate(cmp.runs):
        widths.append(max(len(refs.get(r.id, r.id)), *(len(it.answers[k]) for it in items)))
    used = sum(widths) + 2 * (len(widths) + 1)  # the table's padding: two spaces a column
    return out.width - used < DIFF_TEXT_MIN
