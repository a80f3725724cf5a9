"""`smishctl runs`: list and show recorded runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, WideOpt, fmt, handled, out, print_json, settings, warn
from smishctl.cli.completion import complete_run

if TYPE_CHECKING:
    from smishctl.core.records import RunRecord

runs_app = typer.Typer(help="List and inspect recorded runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_cmd(wide: bool = WideOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """All runs, oldest first, with status and headline metrics. REF is the short reference every
    command accepts in place of the run id (as do `latest` and `latest~1`, the one before)."""
    with handled(debug):
        from smishctl.store.runs import list_runs, short_refs

        # list_runs skips (with a warning) the runs whose run.json is not a valid record
        records = [r.record() for r in list_runs(settings().runs_dir)]
        refs = short_refs([r.id for r in records])
        if as_json:
            print_json([{"ref": refs[r.id], "id": r.id, "status": r.status, "created_at": r.created_at,
                         "model": r.model, "prompt": r.prompt, "dataset": r.dataset, "metrics": r.metrics}
                        for r in records])
            return
        if not records:
            out.print("no runs yet: smishctl evaluate records one")
            return
        from smishctl.cli.render import short_prompt_refs
        from smishctl.cli.tables import Column, fit_table, print_fitted
        from smishctl.store.artifacts import list_artifacts

        stored = [a.id for a in list_artifacts(settings().prompts_dir)]
        prompts = short_prompt_refs([_prompt_id(r) for r in records] + stored)
        columns = [Column("ref"), Column("run id", wide_only=True), Column("created", drop=1),
                   Column("status", drop=5), Column("model", wrap=True), Column("prompt", wrap=True),
                   Column("data", drop=3, wrap=True), Column("n", "right", drop=2),
                   Column("macro-F1", "right"), Column("errors", "right", drop=4)]
        rows = []
        for r in records:
            m = r.metrics or {}
            prompt = _prompt_id(r) if wide else prompts[_prompt_id(r)]
            rows.append([refs[r.id], r.id, _when(r.created_at or ""), r.status,
                         r.model.get("name", "?"), prompt,
                         f"{r.dataset_name or '?'}/{r.split or '?'}",
                         str(m.get("n_items", 0)), fmt(m.get("macro_f1")), str(m.get("n_errors", 0))])
        print_fitted(out, fit_table(out, columns, rows, wide=wide))


def _prompt_id(record: RunRecord) -> str:
    """A valid record may still lack the fields a listing shows (a hand-made or partly written run)."""
    return record.prompt.get("id", "?")


def _when(created_at: str) -> str:
    """'2026-11-27T02:51:13+0000' -> '11-27 02:51' (the year and seconds rarely matter in a listing)."""
    return f"{created_at[5:10]} {created_at[11:16]}" if len(created_at) >= 16 else created_at


@runs_app.command("show")
def show_cmd(run: Annotated[str, typer.Argument(help="Run reference: id, short ref or prefix from `smishctl runs list`, latest, latest~1, or a path.", autocompletion=complete_run)],
             errors: Annotated[bool, typer.Option("--errors", help="List the items the run got wrong (a wrong label, an invalid answer or a failed call).")] = False,
             items: Annotated[bool, typer.Option("--items", help="List every item: text, gold label, prediction, probability.")] = False,
             limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="With --errors/--items: list the first N.")] = None,
             wide: bool = WideOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """One run: what it evaluated (model, prompt, dataset), its metrics, or its items."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.store.runs import open_run

        if errors and items:
            raise ConfigError("use --errors or --items, not both", hint="--errors lists the wrong items only")
        if limit is not None and not (errors or items):
            raise ConfigError("--limit needs --errors or --items")
        found = open_run(settings().runs_dir, run)
        if errors or items:
            _show_items(found, only_wrong=errors, limit=limit, wide=wide, as_json=as_json)
            return
        record = found.record()
        if as_json:
            print_json(record.to_dict())
            return
        from smishctl.cli.render import confusion_table, metrics_table

        out.print(_about(record))
        out.print(metrics_table(record, title="metrics"))
        out.print(confusion_table(record))


def _about(record: RunRecord):
    """What the run evaluated, at the top of `runs show` (values wrap, so nothing is cut)."""
    from rich.markup import escape
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    ds = f"{record.dataset_name or '?'}/{record.split or '?'}"
    for key, value in (("run", f"{record.id} ({record.status})"), ("model", record.model_name),
                       ("prompt", record.prompt_id), ("dataset", f"{ds} ({record.n_items} items)")):
        t.add_row(key, escape(value))
    return t


def _show_items(run, *, only_wrong: bool, limit: int | None, wide: bool, as_json: bool) -> None:
    from smishctl.ops.items import item_dict, run_items

    listed = run_items(run, only_wrong=only_wrong, limit=limit)
    if listed.damaged:
        d = listed.damaged[0]
        warn(f"{run.predictions_path}:{d.line}: {len(listed.damaged)} damaged prediction row(s) left out ({d.reason})")
    from smishctl.cli import signals_view
    from smishctl.signals import extract, load_lists

    lists = load_lists(settings().section("signals"))  # read from each item's text now, as the model saw it
    found = [extract(p.text or "", lists).to_dict() for p in listed.items]
    if as_json:
        print_json([{**item_dict(p), "signals": s} for p, s in zip(listed.items, found, strict=True)])
        return
    from rich.markup import escape

    from smishctl.cli.tables import Column, fit_table, print_fitted
    from smishctl.ops.items import answer, is_right

    out.print(_about(listed.record))
    probs = any(p.probs for p in listed.items)
    columns = [Column("#", "right", drop=2), Column("item"), Column("gold"), Column("pred"),
               Column("p(pred)", "right", drop=1), Column("signals", drop=0, wrap=True), Column("text", shorten=True)]
    rows = []
    for p, sig in zip(listed.items, found, strict=True):
        said = escape(answer(p))
        p_pred = (p.probs or {}).get(p.pred) if p.pred is not None else None
        rows.append([str(p.index), escape(p.item_id), escape(p.gold), said if is_right(p) else f"[red]{said}[/red]",
                     fmt(p_pred, ".2f") if probs else "", escape(signals_view.summary(sig)), p.text or ""])
    if not probs:  # nothing recorded: no empty column
        columns.pop(4)
        rows = [r[:4] + r[5:] for r in rows]
    what = "wrong, invalid or failed items" if only_wrong else "items"
    if rows:
        print_fitted(out, fit_table(out, columns, rows, wide=wide))
    more = f" (first {len(rows)} listed; --limit)" if len(rows) < listed.n_matching else ""
    out.print(f"{listed.n_matching} {what} of {listed.n_items}{more}")


@runs_app.command("merge")
def merge_cmd(runs: Annotated[list[str], typer.Argument(help="The shard runs (references or paths) of one evaluation.", autocompletion=complete_run)],
              run_id: Annotated[str | None, typer.Option("--id", help="Id of the merged run (default: generated).")] = None,
              as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Join the runs of `smishctl evaluate --shard K/N` (all N shards) into one complete run whose items,
    config hash and metrics are those of an unsharded evaluation."""
    with handled(debug):
        from smishctl.ops.merge import merge_runs

        record = merge_runs(settings().runs_dir, runs, run_id=run_id).record()
        if as_json:
            print_json(record.to_dict())
            return
        from smishctl.cli.render import confusion_table, metrics_table

        out.print(metrics_table(record, title=f"run {record.id} (merged from {len(runs)} shards)"))
        out.print(confusion_table(record))


DryRunOpt = typer.Option(False, "--dry-run", help="List what would be removed; remove nothing.")


@runs_app.command("rm")
def rm_cmd(runs: Annotated[list[str], typer.Argument(help="Runs to remove: short refs, ids, latest, latest~1.", show_default=False, autocompletion=complete_run)],
           dry_run: bool = DryRunOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Remove runs from the store. A run a promotion cites as its evidence is refused."""
    with handled(debug):
        from smishctl.ops.runs_remove import plan_removal

        _remove(plan_removal(settings(), runs), dry_run=dry_run, as_json=as_json)


@runs_app.command("prune")
def prune_cmd(aborted: Annotated[bool, typer.Option("--aborted", help="Remove every aborted run (a missing key, a dead endpoint).")] = False,
              dry_run: bool = DryRunOpt, as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Remove runs that scored nothing; a run a promotion cites is kept."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.ops.runs_remove import plan_prune_aborted

        if not aborted:
            raise ConfigError("say what to prune", hint="smishctl runs prune --aborted")
        _remove(plan_prune_aborted(settings()), dry_run=dry_run, as_json=as_json)


def _remove(removals, *, dry_run: bool, as_json: bool) -> None:
    from rich.markup import escape

    from smishctl.ops.runs_remove import remove

    if not dry_run:
        remove(removals)
    if as_json:
        print_json({"dry_run": dry_run, "removed": [] if dry_run else [r.run.id for r in removals],
                    "would_remove": [r.run.id for r in removals] if dry_run else []})
        return
    verb = "would remove" if dry_run else "removed"
    for r in removals:
        out.print(f"{verb} {escape(r.ref)} ({escape(r.model)}, {r.status}, {r.n_rows} items)")
    if not removals:
        out.print("nothing to remove")
