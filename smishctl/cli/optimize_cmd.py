"""`smishctl optimize` (not implemented yet)."""

from __future__ import annotations

import typer

from smishctl.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("optimize", help="(not implemented yet)")(optimize)


def optimize():
    console.print("[yellow]smishctl optimize is not implemented yet[/yellow]")
    raise typer.Exit(2)
