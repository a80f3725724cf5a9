"""The comparison as rich tables: one column per run, best value per row marked, deltas to the baseline."""

from __future__ import annotations

from rich.table import Table

from smishctl.compare.table import fmt_delta, fmt_value


def _header(run: dict) -> str:
    role = {"baseline": " (baseline)", "reference": " (reference)"}.get(run["role"], "")
    return f"{run['name']}{role}\n[dim]{run['id']}[/dim]"


def comparison_table(cmp: dict) -> Table:
    ds = cmp["dataset"]
    t = Table(title=f"{ds['name']}/{ds['split']}: {cmp['n_common_items']} common items "
                    f"(* best; (±) vs baseline)", header_style="bold", show_lines=False)
    t.add_column("metric")
    for run in cmp["runs"]:
        t.add_column(_header(run), justify="right")
    for row in cmp["rows"]:
        cells = []
        for i, v in enumerate(row["values"]):
            text = fmt_value(v, row["format"])
            if row["deltas"] and row["deltas"][i] is not None:
                text += f" [dim]({fmt_delta(row['deltas'][i], row['format'])})[/dim]"
            if i in row["best"]:
                text = f"[bold green]*{text}[/bold green]"
            cells.append(text)
        t.add_row(row["title"], *cells)
    return t


def print_must_pass(console, results: list[dict]) -> None:
    """Per must-pass set and run: one verdict line (never wrapped, for CI logs), then a table of
    every missed message."""
    from smishctl.mustpass import summary_line

    for res in results:
        ok = res["passed"]
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {summary_line(res)}",
                      soft_wrap=True)
        if ok:
            continue
        t = Table(header_style="bold")
        for col in ("expected", "got", "note", "message"):
            t.add_column(col, overflow="fold")
        for c in res["cases"]:
            if not c["passed"]:
                t.add_row(c["expected"], f"[red]{c['predicted']}[/red]", c["note"], c["text"])
        console.print(t)


def stats_table(cmp: dict) -> Table | None:
    if not cmp["stats"]:
        return None
    t = Table(title=f"paired statistics vs baseline {cmp['baseline']}", header_style="bold")
    for col in ("run", "paired items", "only baseline right", "only run right", "McNemar p",
                "Δ macro-F1 [95% CI]"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for s in cmp["stats"]:
        diff = "-" if s["macro_f1_diff"] is None else (
            f"{s['macro_f1_diff']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]")
        p = f"{s['mcnemar_p']:.4g}" + (" *" if s["significant"] else "")
        t.add_row(s["run"], str(s["n_paired"]), str(s["baseline_only_correct"]),
                  str(s["candidate_only_correct"]), p, diff)
    return t
