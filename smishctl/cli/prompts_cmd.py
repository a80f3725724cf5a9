"""`smishctl prompts`: list, show and diff versioned prompt artifacts."""

from __future__ import annotations

from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, WideOpt, fmt, handled, out, plain, print_json, settings
from smishctl.cli.completion import complete_prompt

prompts_app = typer.Typer(help="List, show, diff and add versioned prompt artifacts.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")


@prompts_app.command("list")
def list_cmd(wide: bool = WideOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Every version with its optimizer and dev scores. REF is the short reference (`v0003` while no other
    dataset/model has a v0003) that --prompt and the prompts commands accept in place of the id."""
    with handled(debug):
        from smishctl.store.artifacts import readable_artifacts

        arts = readable_artifacts(settings().prompts_dir)
        if as_json:
            print_json([m.to_dict() for _, m in arts])
            return
        if not arts:
            out.print("no prompt versions yet: smishctl optimize writes one, smishctl prompts new stores yours")
            return
        from rich.markup import escape

        from smishctl.cli.render import short_prompt_refs
        from smishctl.cli.tables import Column, fit_table, print_fitted
        from smishctl.report.prompt_facts import lineage

        refs = short_prompt_refs([a.id for a, _ in arts])
        columns = [Column("ref"), Column("name", wrap=True), Column("id", drop=4), Column("created", drop=2),
                   Column("optimizer", wrap=True), Column("dev F1\nzero-shot", "right"),
                   Column("dev F1\noptimized", "right"), Column("calls", "right", drop=1),
                   Column("from", drop=3, wrap=True)]
        rows = []
        for a, m in arts:
            d = m.extra.get("dev_metrics", {})
            name = m.extra.get("name")
            rows.append([refs[a.id], escape(name) if isinstance(name, str) else "-", a.id,
                         (m.created_at or "")[:16].replace("T", " "),
                         m.optimizer_name or "?", fmt(d.get("baseline", {}).get("macro_f1")),
                         fmt(d.get("optimized", {}).get("macro_f1")), str(m.extra.get("spend", {}).get("lm_calls", "")),
                         escape(lineage(m.to_dict(), (lambda i: i) if wide else (lambda i: refs.get(i, i))))])
        if not any(isinstance(m.extra.get("name"), str) for _, m in arts):
            columns.pop(1)  # nothing named: no empty column
            rows = [r[:1] + r[2:] for r in rows]
        print_fitted(out, fit_table(out, columns, rows, wide=wide))


@prompts_app.command("show")
def show_cmd(prompt: Annotated[str, typer.Argument(help="Artifact id, short ref from `smishctl prompts list` (e.g. v0003), path, or production.", autocompletion=complete_prompt)],
             for_text: Annotated[str | None, typer.Option("--for", help="Show the exact messages sent for this SMS: its demos (retrieved for it by a kNN program), the instructions and the hardened text.")] = None,
             as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """The rendered chat messages of a version ({{sms}} marks where the message goes)."""
    with handled(debug):
        from smishctl.store.artifacts import PROMPT, resolve_artifact
        from smishctl.util.fs import read_json

        if for_text is not None:
            _show_for(prompt, for_text, as_json)
            return
        art = resolve_artifact(settings().prompts_dir, prompt)
        if art.is_zero_shot:
            raise typer.BadParameter("zero-shot has no stored artifact")
        rendered = read_json(art.folder / PROMPT)
        if as_json:
            print_json({"id": art.id, "manifest": art.manifest, **rendered})
            return
        from rich.markup import escape

        from smishctl.report.prompt_facts import artifact_additions, lineage

        info = art.info
        name = info.extra.get("name")
        named = f" ({escape(name)})" if isinstance(name, str) else ""
        out.print(f"[bold]{art.id}[/bold]{named} — {info.extra.get('demos', '')}")
        out.print(f"from {escape(lineage(info.to_dict()))}")
        added = artifact_additions(art)
        if added:
            out.print(f"smishctl adds to the instructions: {escape(repr(added))}")
        for msg in rendered["messages"]:
            out.rule(msg["role"])
            out.print(msg["content"], markup=False, highlight=False)


def _show_for(prompt: str, text: str, as_json: bool) -> None:
    from smishctl.ops.prompt_preview import messages_for

    p = messages_for(settings(), prompt, text)
    if as_json:
        print_json(p.messages)
        return
    demos = f"{p.demos} demos" + (" retrieved for this message" if p.retrieved else "")
    hardening = "sanitised and fenced" if p.fenced else "sanitised"
    out.print(f"[bold]{p.artifact}[/bold] — {demos}; the message {hardening}")
    for msg in p.messages:
        out.rule(msg["role"])
        out.print(msg["content"], markup=False, highlight=False)
    if p.guard:
        out.print(f"guard: {', '.join(p.guard)} — this message cannot come out as ham", markup=False)


@prompts_app.command("new")
def new_cmd(
    instructions: Annotated[str | None, typer.Option("--instructions", help="A text file holding the instructions (e.g. a prompt you already use).")] = None,
    from_langfuse: Annotated[str | None, typer.Option("--from-langfuse", help="A text prompt in Langfuse prompt management: NAME or NAME@LABEL (default label: production).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name for this prompt (unique per dataset and model): shown in prompts list and on its card, and a reference like v0003.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model it is for (litellm string, alias, local/<name>). Default: the embedded local model.")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset whose labels it chooses from (registry name or file).")] = None,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """A new version from instructions you already have: a zero-shot program, evaluated, compared and
    promoted like any optimized version."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.ops.prompts_new import new_prompt, starting_prompt

        start = starting_prompt(settings(), instructions_file=instructions, from_langfuse=from_langfuse)
        if start is None:
            raise ConfigError("prompts new needs instructions", hint="pass --instructions FILE or --from-langfuse NAME[@LABEL]")
        manifest = new_prompt(settings(), start, name=name, model=model, dataset=dataset)
        if as_json:
            print_json(manifest)
            return
        from smishctl.cli.render import short_prompt_refs
        from smishctl.report.prompt_facts import source_note
        from smishctl.store.artifacts import list_artifacts

        ref = name or short_prompt_refs([a.id for a in list_artifacts(settings().prompts_dir)]).get(manifest["id"], manifest["id"])
        out.print(f"wrote [bold]{manifest['id']}[/bold] from {plain(source_note(manifest['source']))}", soft_wrap=True)
        if manifest.get("added_by_smishctl"):
            out.print(f"smishctl adds to the instructions: {plain(repr(manifest['added_by_smishctl']))}")
        out.print(f"next: smishctl prompts show {ref} --for \"...\" · smishctl evaluate --prompt {ref}")


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
