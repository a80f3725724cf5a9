"""`smishctl prompts`: list, show and diff versioned prompt artifacts."""

from __future__ import annotations

from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, WideOpt, fmt, handled, out, print_json, settings
from smishctl.cli.completion import complete_prompt

prompts_app = typer.Typer(help="List, show and diff versioned prompt artifacts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")


@prompts_app.command("list")
def list_cmd(wide: bool = WideOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Every version with its optimizer and dev scores. REF is the short reference (`v0003` while no other
    dataset/model has a v0003) that --prompt and the prompts commands accept in place of the id."""
    with handled(debug):
        from smishctl.store.artifacts import list_artifacts

        arts = [(a, a.info) for a in list_artifacts(settings().prompts_dir)]
        if as_json:
            print_json([m.to_dict() for _, m in arts])
            return
        if not arts:
            out.print("no prompt versions yet: smishctl optimize writes one")
            return
        from smishctl.cli.render import short_prompt_refs
        from smishctl.cli.tables import Column, fit_table, print_fitted

        refs = short_prompt_refs([a.id for a, _ in arts])
        columns = [Column("ref"), Column("id", drop=4), Column("created", drop=3), Column("optimizer", wrap=True),
                   Column("dev F1\nzero-shot", "right"), Column("dev F1\noptimized", "right"),
                   Column("calls", "right", drop=1), Column("parent", drop=2)]
        rows = []
        for a, m in arts:
            d = m.extra.get("dev_metrics", {})
            parent = m.parent
            rows.append([refs[a.id], a.id, (m.created_at or "")[:16].replace("T", " "),
                         m.optimizer_name or "?", fmt(d.get("baseline", {}).get("macro_f1")),
                         fmt(d.get("optimized", {}).get("macro_f1")), str(m.extra.get("spend", {}).get("lm_calls", "")),
                         (parent if wide else refs.get(parent, parent)) if parent else "-"])
        print_fitted(out, fit_table(out, columns, rows, wide=wide))


@prompts_app.command("show")
def show_cmd(prompt: Annotated[str, typer.Argument(help="Artifact id, short ref from `smishctl prompts list` (e.g. v0003), path, or production.", autocompletion=complete_prompt)],
             as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """The rendered chat messages of a version ({{sms}} marks where the message goes)."""
    with handled(debug):
        from smishctl.store.artifacts import PROMPT, resolve_artifact
        from smishctl.util.fs import read_json

        art = resolve_artifact(settings().prompts_dir, prompt)
        if art.is_zero_shot:
            raise typer.BadParameter("zero-shot has no stored artifact")
        rendered = read_json(art.dir / PROMPT)
        if as_json:
            print_json({"id": art.id, "manifest": art.manifest, **rendered})
            return
        out.print(f"[bold]{art.id}[/bold] — {art.info.extra.get('demos', '')}")
        for msg in rendered["messages"]:
            out.rule(msg["role"])
            out.print(msg["content"], markup=False, highlight=False)


@prompts_app.command("diff")
def diff_cmd(a: Annotated[str, typer.Argument(help="First artifact.", autocompletion=complete_prompt)],
             b: Annotated[str, typer.Argument(help="Second artifact.", autocompletion=complete_prompt)], debug: bool = DebugOpt):
    """Instructions, demos and settings of two versions, side by side."""
    with handled(debug):
        from rich.table import Table

        from smishctl.store.artifact_diff import describe
        from smishctl.store.artifacts import resolve_artifact

        s = settings()
        da, db = (describe(resolve_artifact(s.prompts_dir, x)) for x in (a, b))
        t = Table(header_style="bold", show_lines=True)
        t.add_column("")
        t.add_column(da["id"])
        t.add_column(db["id"])
        for key in ("model", "optimizer", "dev macro-F1", "instructions", "demos"):
            va, vb = da[key], db[key]
            style = "" if va == vb else "yellow"
            t.add_row(key, va, vb, style=style)
        out.print(t)
