"""`smishctl prompts`: list, show and diff versioned prompt artifacts (filled in by optimize)."""

from __future__ import annotations

import typer

prompts_app = typer.Typer(help="List, show and diff versioned prompt artifacts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")
