"""`smishctl init`: start a project of one's own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, handled, out, plain


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Annotated[Path, typer.Argument(help="The project folder (created if missing).")] = Path("."),
    mirror: Annotated[str | None, typer.Option("--mirror", help="Folder with copies of the registry datasets, written as mirror under \\[data] (else they are downloaded): an absolute path as given, a relative one relative to the project folder.")] = None,
    debug: bool = DebugOpt,
):
    """Create a project: smishctl.toml with every key explained, datasets/, prompts/, runs/, a .gitignore
    for runs and caches, and an example CI job. Never overwrites an existing smishctl.toml."""
    with handled(debug):
        from smishctl.ops.project import init_project

        created = init_project(folder, mirror=mirror)
        out.print(f"initialised smishctl project in {plain(created.root)}", soft_wrap=True)
        notes = {"smishctl.toml": "configuration: every key, commented", ".gitignore": "runs and caches",
                 "ci/smishctl-compare.yml": "example CI job: copy it to .github/workflows/"}
        for rel in created.written:
            out.print(f"  wrote {plain(rel.as_posix())}  [dim]{notes.get(rel.as_posix(), '')}[/dim]")
        for rel in created.kept:
            out.print(f"  kept  {plain(rel.as_posix())} (already there)")
        out.print("  made  datasets/ prompts/ runs/")
        here = Path.cwd().resolve()
        steps = ([f"cd {created.root}"] if created.root != here else []) + [
            "smishctl data                    # fetch and check the default dataset",
            "smishctl optimize                # writes a prompt version, e.g. v0001",
            "smishctl evaluate --prompt v0001 # test split, every prediction recorded",
            "smishctl compare latest~1 latest # two runs side by side, with gates",
            "smishctl promote v0001 --reason 'beats zero-shot'",
        ]
        out.print("next:\n" + "\n".join(f"  {plain(step)}" for step in steps), soft_wrap=True)
