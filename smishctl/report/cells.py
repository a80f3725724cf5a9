"""A row of the comparison table as text, cell by cell: the same in the terminal, Markdown and HTML."""

from __future__ import annotations

from smishctl.core.comparison import MetricRow, PairedStats
from smishctl.score.rows import CACHED, fmt_delta, fmt_value


def cell(row: MetricRow, i: int) -> str:
    """Run i's value as text: CACHED where the value is a cache's, not the model's."""
    return CACHED if i in row.cached else fmt_value(row.values[i], row.format)


def delta(row: MetricRow, i: int) -> str | None:
    """Run i's difference to the baseline as text ('+0.012'); None where there is none to show."""
    d = row.deltas[i] if row.deltas else None
    return None if d is None else fmt_delta(d, row.format)


def interval(s: PairedStats) -> str:
    """The macro-F1 difference to the baseline with its bootstrap interval: '+0.012 [-0.020, +0.045]'."""
    if s.macro_f1_diff is None:
        return "-"
    return f"{s.macro_f1_diff:+.3f} [{s.ci_low:+.3f}, {s.ci_high:+.3f}]"
