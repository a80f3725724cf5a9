"""`smishctl review RUN`: go through a run's items in the terminal, or round-trip them through a CSV.

The screen is drawn with rich (already a dependency, so nothing new to install or keep up to date)
and keys are read one at a time with the standard library's termios; a full-screen TUI framework
would add a dependency for one list and six keys. --export/--import need no terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, InertConsole, JsonOpt, console, handled, print_json, settings

# The keys of the interactive screen, spelled out: the legend must read the same without colour.
KEYS = (("a", "accept gold"), ("r", "relabel"), ("m", "must-pass"), ("s", "skip"), ("u", "undo"), ("q", "quit"))
LEGEND = "keys: " + " · ".join(f"{key} {action}" for key, action in KEYS)


def register(app: typer.Typer) -> None:
    app.command("review")(review)


def review(
    run: Annotated[str, typer.Argument(help="Run id, unique prefix, folder or 'latest'.", show_default=False)],
    export: Annotated[Path | None, typer.Option("--export", help="Write the items, in review order, to a CSV to review in a spreadsheet (fill the decision column).")] = None,
    import_: Annotated[Path | None, typer.Option("--import", help="Apply the decisions of a CSV written by --export (accept, relabel + new_label, must-pass, skip).")] = None,
    must_pass: Annotated[str, typer.Option("--must-pass", help="The must-pass set additions go to (datasets/golden/NAME.csv).")] = "reviewed",
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Review a run: wrong and least confident items first, with the nearest training messages.
    Relabels become label corrections (datasets/corrections/), pins go to a must-pass set; progress is
    kept in the run folder and a later review resumes.

    Keys of the interactive review:
    a accept gold: the gold label is right
    r relabel: then a number picks the new label
    m must-pass: pin the item to the must-pass set
    s skip: asked again at the end
    u undo: the last decision
    q quit: a later review resumes"""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.ops.review import ReviewSession

        if export and import_:
            raise ConfigError("use --export or --import, not both")
        session = ReviewSession(settings(), run, must_pass_set=must_pass)
        if export:
            n = session.export_csv(export)
            _report(as_json, {"exported": n, "file": str(export), **session.counts()},
                    f"wrote {n} items to {export}: fill the decision column, then smishctl review {session.ref} "
                    f"--import {export}")
            return
        if import_:
            res = session.import_csv(import_)
            _report(as_json, res, f"applied {res['applied']} decisions ({res['unchanged']} already decided); "
                                  f"{_progress(session)}")
            return
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ConfigError("the interactive review needs a terminal", hint="use --export FILE.csv / --import FILE.csv")
        _interactive(session)


def _report(as_json: bool, obj: dict, line: str) -> None:
    if as_json:
        print_json(obj)
    else:
        console.print(line, soft_wrap=True)


def _progress(session) -> str:
    c = session.counts()
    return (f"{c['accept']} accepted, {c['relabel']} relabelled, {c['must-pass']} pinned, {c['skip']} skipped "
            f"of {c['total']} ({c['wrong']} wrong)")


def _read_key() -> str:
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        ch = sys.stdin.read(1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
    if ch == "\x03":
        raise KeyboardInterrupt
    return ch.lower()


def _show(screen, session, item, position: int, total: int, message: str) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from smishctl.cli import signals_view
    from smishctl.signals import extract, load_lists

    screen.clear()
    # Short lines and a short panel title: an 80-column terminal cut the title before the
    # probabilities, so they go on the panel's first line.
    screen.print(f"[bold]review[/bold] {session.ref} · item {position}/{total}")
    screen.print(f"{session.dataset} · wrong and least confident first")
    screen.print(_progress(session))
    verdict = "[red]wrong[/red]" if item.wrong else "[green]right[/green]"
    pred = item.pred if item.status == "ok" else f"<{item.status}>"
    head = Text.from_markup(f"gold [bold]{item.gold}[/bold] · predicted [bold]{pred}[/bold] {verdict}")
    if item.probs:
        probs = " ".join(f"{k} {v:.2f}" for k, v in sorted(item.probs.items(), key=lambda kv: -kv[1]))
        body = Text(f"{probs} (margin {item.margin:.2f})\n", style="dim")
    else:
        body = Text("no label probabilities in this run\n", style="dim")
    signals = extract(item.text or "", load_lists(session.settings.section("signals"))).to_dict()
    body.append(signals_view.highlighted(item.text or "", signals))
    screen.print(Panel(body, title=head, title_align="left"))
    if signals["items"]:
        screen.print(signals_view.table(item.text or "", signals))
    near = session.nearest(item)
    if near:
        t = Table(title="nearest training messages", show_header=True, header_style="bold", title_justify="left")
        t.add_column("label")
        t.add_column("sim", justify="right")
        t.add_column("message", overflow="fold")
        for text, lab, sim in near:
            t.add_row(lab, f"{sim:.2f}", text[:160])
        screen.print(t)
    screen.print(Text(LEGEND))  # plain Text: no markup, nothing that only colour shows
    if message:
        screen.print(message, soft_wrap=True)


def _interactive(session) -> None:
    screen = InertConsole(highlight=False)
    queue = session.pending()
    pos, message = 0, ""
    total = len(queue)
    while pos < len(queue):
        item = queue[pos]
        _show(screen, session, item, pos + 1, total, message)
        key = _read_key()
        message = ""
        if key == "q":
            break
        if key == "a":
            session.decide(item, "accept")
        elif key == "s":
            session.decide(item, "skip")
        elif key == "m":
            session.decide(item, "must-pass")
            message = f"pinned to must-pass set {session.must_pass_set} as {item.gold}"
        elif key == "r":
            others = [lab for lab in session.labels if lab != item.gold]
            screen.print("relabel to: " + " · ".join(f"[bold]{i}[/] {lab}" for i, lab in enumerate(others, 1))
                         + " · any other key cancels")
            choice = _read_key()
            if not (choice.isdigit() and 1 <= int(choice) <= len(others)):
                message = "relabel cancelled"
                continue
            session.decide(item, "relabel", others[int(choice) - 1])
        elif key == "u":
            undone = session.undo()
            if undone is None:
                message = "nothing to undo"
                continue
            message = f"undid {undone['action']} of {undone['item_id']}"
            back = session.by_id[undone["item_id"]]
            if back in queue[:pos]:
                pos = queue.index(back)
            else:
                queue.insert(pos, back)
            continue
        else:
            message = f"unknown key {key!r}"
            continue
        pos += 1
    screen.clear()
    # The short reference, and wrapped between words only: a long id cut mid-word could not be copied.
    console.print(f"review of {session.ref}: {_progress(session)}; "
                  f"{'done' if pos >= len(queue) else 'resume with: smishctl review ' + session.ref}")
