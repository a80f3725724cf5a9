"""`smishctl promote` (not implemented yet)."""

from __future__ import annotations

import typer

from smishctl.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("promote", help="(not implemented yet)")(promote)


def promote():
    console.print("[yellow]smishctl promote is not implemented yet[/yellow]")
    raise typer.Exit(2)
