"""`smishctl runs`: list and show recorded runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, WideOpt, fmt, handled, out, print_json, settings
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
             as_json: bool = JsonOpt, debug: bool = DebugOpt):
    """One run's configuration and metrics."""
    with handled(debug):
        from smishctl.store.runs import open_run

        record = open_run(settings().runs_dir, run).record()
        if as_json:
            print_json(record.to_dict())
            return
        from smishctl.cli.render import confusion_table, metrics_table

        out.print(metrics_table(record, title=f"run {record.id} ({record.status})"))
        out.print(confusion_table(record))


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
