"""`smishctl runs`: list and show recorded runs."""

from __future__ import annotations

from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, fmt, handled, out, print_json, settings

runs_app = typer.Typer(help="List and inspect recorded runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_cmd(as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """All runs, oldest first, with status and headline metrics."""
    with handled(debug):
        from smishctl.runs import list_runs

        records = [r.read() for r in list_runs(settings().runs_dir)]
        if as_json:
            print_json([{k: r.get(k) for k in ("id", "status", "created_at", "model", "prompt", "dataset",
                                               "metrics")} for r in records])
            return
        from rich.table import Table

        t = Table(header_style="bold")
        for c in ("run", "status", "model", "prompt", "data", "n", "macro-F1", "errors"):
            t.add_column(c)
        for r in records:
            m = r.get("metrics", {})
            t.add_row(r["id"], r.get("status", "?"), r["model"]["name"], r["prompt"]["id"],
                      f"{r['dataset']['name']}/{r['dataset']['split']}", str(m.get("n_items", 0)),
                      fmt(m.get("macro_f1")), str(m.get("n_errors", 0)))
        out.print(t)


@runs_app.command("show")
def show_cmd(run: Annotated[str, typer.Argument(help="Run id, unique prefix, path or 'latest'.")],
             as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """One run's configuration and metrics."""
    with handled(debug):
        from smishctl.runs import open_run

        record = open_run(settings().runs_dir, run).read()
        if as_json:
            print_json(record)
            return
        from smishctl.cli.render import confusion_table, metrics_table

        out.print(metrics_table(record, title=f"run {record['id']} ({record.get('status')})"))
        out.print(confusion_table(record))


@runs_app.command("merge")
def merge_cmd(runs: Annotated[list[str], typer.Argument(help="The shard runs (ids, prefixes or paths) of one evaluation.")],
              run_id: Annotated[str | None, typer.Option("--id", help="Id of the merged run (default: generated).")] = None,
              as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """Join the runs of `smishctl evaluate --shard K/N` (all N shards) into one complete run whose items,
    config hash and metrics are those of an unsharded evaluation."""
    with handled(debug):
        from smishctl.shards import merge_runs

        record = merge_runs(settings().runs_dir, runs, run_id=run_id).read()
        if as_json:
            print_json(record)
            return
        from smishctl.cli.render import confusion_table, metrics_table

        out.print(metrics_table(record, title=f"run {record['id']} (merged from {len(runs)} shards)"))
        out.print(confusion_table(record))
