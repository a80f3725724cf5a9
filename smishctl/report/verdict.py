"""The one-word outcome of a comparison, shared by the Markdown and HTML reports."""

from __future__ import annotations

from smishctl.core.comparison import Comparison, PairedStats

NO_GATES = "no gates set"


def verdict(cmp: Comparison) -> str:
    """'passed' only when something was checked: a comparison without gates, checks or must-pass sets
    passed nothing, and a green 'passed' would read as an approval."""
    if cmp.exit_code == 0 and not cmp.checked:
        return NO_GATES
    return {0: "passed", 1: "quality gate failed", 3: "too many errors"}.get(cmp.exit_code, "failed")


def headline(cmp: Comparison, refs: dict[str, str] | None = None) -> list[str]:
    """One line per candidate against the baseline, printed before any table: who beats whom on macro-F1,
    by how much and with which interval; a difference is established only when McNemar's test finds one
    and the bootstrap interval excludes zero, else 'no established difference'."""
    return paired_lines(cmp.baseline, cmp.stats, refs)


def paired_lines(baseline: str | None, stats: list[PairedStats], refs: dict[str, str] | None = None) -> list[str]:
    """`headline` from the baseline's id and the paired statistics of each candidate against it."""
    refs = refs or {}
    base = refs.get(baseline, baseline) if baseline else None
    lines = []
    for s in stats:
        run = refs.get(s.run, s.run)
        d, low, high = s.macro_f1_diff, s.ci_low, s.ci_high
        if d is None or low is None or high is None:
            lines.append(f"{run} vs {base}: no paired macro-F1 difference to report")
            continue
        interval = f"{d:+.3f} [{low:+.3f}, {high:+.3f}]"
        p = f"{s.mcnemar_p:.2g}"  # McNemar's; short, so the line fits 80 columns with short references
        if s.significant and (low > 0 or high < 0) and d != 0:
            winner, loser = (run, base) if d > 0 else (base, run)
            signed = interval if d > 0 else f"{-d:+.3f} [{-high:+.3f}, {-low:+.3f}]"
            lines.append(f"{winner} beats {loser} on macro-F1 by {signed} (McNemar p={p})")
        else:
            lines.append(f"{run} vs {base}: no established difference; macro-F1 {interval}, p={p}")
    return lines
