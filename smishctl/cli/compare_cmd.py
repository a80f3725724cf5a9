"""`smishctl compare` (not implemented yet)."""

from __future__ import annotations

import typer

from smishctl.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("compare", help="(not implemented yet)")(compare)


def compare():
    console.print("[yellow]smishctl compare is not implemented yet[/yellow]")
    raise typer.Exit(2)
