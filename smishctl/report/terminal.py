"""The comparison as rich tables: one column per run, best value per row marked, deltas to the baseline."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from smishctl.core.comparison import ComparedRun, Comparison, MustPassResult
from smishctl.report.cells import cell, delta, interval
from smishctl.score.must_pass import summary_line


def _header(run: ComparedRun, ref: str) -> str:
    """The run's short reference (never cut: it is what the user pastes back) and its role; what the run
    is goes in the legend under the table, where it has the whole width."""
    role = {"baseline": " (baseline)", "reference": " (reference)"}.get(run.role, "")
    m = run.metrics
    cached = f"\n[yellow]cached {m.get('cache_hits', 0)}/{m.get('n_items', 0)}[/yellow]" if run.cached else ""
    errors = "\n[red]over error budget[/red]" if run.over_error_budget else ""
    return f"{escape(ref)}{role}{cached}{errors}"


def legend(cmp: Comparison, refs: dict[str, str] | None = None) -> Table:
    """One line per run: its reference, then its whole id, model and prompt (wrapped at spaces, so an id
    narrower than the terminal is never cut)."""
    refs = refs or {}
    t = Table.grid(padding=(0, 1), pad_edge=True)
    t.add_column(no_wrap=True)
    t.add_column(overflow="fold")
    for run in cmp.runs:
        ref = refs.get(run.id, run.id)
        about = escape(run.name) if ref == run.id else f"{escape(run.id)} [dim]({escape(run.name)})[/dim]"
        t.add_row(f"[bold]{escape(ref)}[/bold]", about)
    return t


CACHED_NOTE = "; cached: some items answered from the cache, speed and cost not compared"


def _any_cached(cmp: Comparison) -> bool:
    return any(r.cached for r in cmp.runs)


def comparison_table(cmp: Comparison, refs: dict[str, str] | None = None) -> Table:
    """`refs` maps run ids to the short references to show (default: the whole ids)."""
    refs = refs or {}
    ds = cmp.dataset
    t = Table(title=f"{ds.name}/{ds.split}: {cmp.n_common_items} common items "
                    f"(* best; (±) vs baseline{CACHED_NOTE if _any_cached(cmp) else ''})",
              header_style="bold", show_lines=False,
              box=box.SIMPLE_HEAD, show_edge=False,
              collapse_padding=True)
    t.add_column("metric")
    for run in cmp.runs:
        ref = refs.get(run.id, run.id)
        t.add_column(_header(run, ref), justify="right", min_width=len(ref), overflow="fold")
    for row in cmp.rows:
        cells = []
        for i in range(len(row.values)):
            text = cell(row, i)
            if (d := delta(row, i)) is not None:
                text += f" [dim]({d})[/dim]"
            if i in row.best:
                text = f"[bold green]*{text}[/bold green]"
            cells.append(text)
        t.add_row(row.title, *cells)
    return t


def print_must_pass(console, results: list[MustPassResult] | list[dict]) -> None:
    """Per must-pass set and run: one verdict line (never wrapped, for CI logs), then a table of
    every missed message."""

    for res in map(MustPassResult.of, results):
        ok = res.passed
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {summary_line(res)}",
                      soft_wrap=True)
        if ok:
            continue
        t = Table(header_style="bold")
        for col in ("expected", "got", "note", "message"):
            t.add_column(col, overflow="fold")
        for c in res.missed:
            t.add_row(c.expected, f"[red]{c.predicted}[/red]", c.note, c.text)
        console.print(t)


def stats_table(cmp: Comparison, refs: dict[str, str] | None = None) -> Table | None:
    if not cmp.stats:
        return None
    refs = refs or {}
    t = Table(title=f"paired statistics vs baseline {refs.get(cmp.baseline or '', cmp.baseline)}",
              header_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
              collapse_padding=True)
    t.add_column("run", no_wrap=True, min_width=max(len(refs.get(s.run, s.run)) for s in cmp.stats))
    for col in ("paired\nitems", "only\nbaseline\nright", "only\nrun\nright", "McNemar p"):
        t.add_column(col, justify="right")
    t.add_column("Δ macro-F1\n[95% CI]", justify="right", no_wrap=True)
    for s in cmp.stats:
        p = f"{s.mcnemar_p:.4g}" + (" *" if s.significant else "")
        t.add_row(refs.get(s.run, s.run), str(s.n_paired), str(s.baseline_only_correct),
                  str(s.candidate_only_correct), p, interval(s))
    return t
