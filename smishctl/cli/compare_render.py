"""`smishctl compare` on screen and in files: the verdict lines, the tables, the items the runs answer
differently, the must-pass sets, then warnings, failures and the gates' count; --json and the reports."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from rich.pager import Pager

from smishctl.cli.common import InertConsole, console, out, plain, print_json
from smishctl.core.comparison import Comparison


class UserPager(Pager):
    """The user's $PAGER (default `less`, given -R for colours), through click: it pages only when stdin
    and stdout are terminals and prints the text as it is otherwise."""

    def show(self, content: str) -> None:
        import click

        click.echo_via_pager(content)


def render(cmp: Comparison, runs_dir: Path, *, as_json: bool, wide: bool, diff: bool) -> None:
    refs = {} if wide or as_json else short_refs(runs_dir, cmp)
    if as_json:
        print_json(cmp.to_dict())
    else:
        from smishctl.report.terminal import print_must_pass
        from smishctl.report.verdict import headline

        # --diff lists up to 50 messages: on a terminal they go through the pager, verdict line first.
        # (--wide prints tables wider than the console through consoles of their own: not paged.)
        paged = out.pager(UserPager(), styles=True) if diff and not wide and out.is_terminal else None
        with paged or contextlib.nullcontext():
            for line in headline(cmp, refs):  # the answer first, then the evidence
                out.print(plain(line))
            _print_tables(cmp, refs, wide=wide)
            if diff:
                from smishctl.cli.compare_diff import print_diff

                print_diff(cmp, refs, wide=wide)
            print_must_pass(out, cmp.must_pass)
    for name, link in cmp.langfuse_links:
        console.print(f"Langfuse: {name} — {link}", soft_wrap=True)
    for w in cmp.warnings:
        console.print(f"[yellow]warning:[/yellow] {plain(_with_refs(w, refs))}", soft_wrap=True)
    for f in cmp.failures:
        console.print(f"[red]FAIL[/red] {plain(_with_refs(f, refs))}", soft_wrap=True)
    if cmp.checked:
        console.print(f"{'[green]gates passed[/green]' if cmp.passed else '[red]gates failed[/red]'}: "
                      f"{cmp.checked - len(cmp.failures)}/{cmp.checked}")


def short_refs(runs_dir: Path, cmp: Comparison) -> dict[str, str]:
    """Each run's short reference from `runs list` (a letter for a run read from elsewhere)."""
    from smishctl.report.refs import run_refs
    from smishctl.store.runs import list_runs, short_refs

    return run_refs(cmp, short_refs([r.id for r in list_runs(runs_dir)]))


def _with_refs(text: str, refs: dict[str, str]) -> str:
    """Run ids in a message replaced by the short references the table shows."""
    for run_id in sorted(refs, key=len, reverse=True):
        text = text.replace(run_id, refs[run_id])
    return text


def _print_tables(cmp: Comparison, refs: dict[str, str], *, wide: bool) -> None:
    """Columns headed by short run references (whole run ids with --wide)."""
    from smishctl.report.terminal import comparison_table, legend, stats_table

    tables = [t for t in (comparison_table(cmp, refs), legend(cmp, refs), stats_table(cmp, refs)) if t is not None]
    console_ = out
    if wide:
        need = max(t.__rich_measure__(out, out.options.update_width(100_000)).maximum for t in tables)
        if need > out.width:
            console_ = InertConsole(width=need, file=out.file, highlight=False, force_terminal=out.is_terminal)
    for t in tables:
        console_.print(t)


def write_files(cmp: Comparison, *, markdown: Path | None, junit: Path | None, html: Path | None,
                json_file: Path | None) -> None:
    """Each report asked for, written whole or not at all; one 'wrote PATH' line each on stderr."""
    from smishctl.util.fs import atomic_write_text

    def write(path, text: str) -> None:
        atomic_write_text(path, text)
        console.print(f"wrote {path}", soft_wrap=True, markup=False)  # stderr: stdout stays the report or JSON

    if markdown:
        from smishctl.report.markdown import render_markdown

        write(markdown, render_markdown(cmp))
    if junit:
        from smishctl.report.junit import render_junit

        write(junit, render_junit(cmp))
    if html:
        from smishctl.report.html import render_html

        write(html, render_html(cmp))
    if json_file:
        write(json_file, json.dumps(cmp.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n")
