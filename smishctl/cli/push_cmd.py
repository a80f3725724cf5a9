"""`smishctl push`: send runs to Langfuse that could not be sent when they were made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, console, handled, out, plain, print_json, settings
from smishctl.cli.completion import complete_run

if TYPE_CHECKING:
    from smishctl.tracking.push_status import PushStatus


def register(app: typer.Typer) -> None:
    app.command("push")(push)


def push(
    runs: Annotated[list[str] | None, typer.Argument(help="Run references (ids, short refs, latest, latest~1, paths). Default: every run whose push is pending.", autocompletion=complete_run)] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every finished run not yet pushed (also those made with Langfuse off).")] = False,
    production: Annotated[bool, typer.Option("--production", help="Also (re)publish the production prompt and move Langfuse's production label to it.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up on a run after this many seconds (default: push_timeout of \\[langfuse], 30).")] = None,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Push runs to Langfuse (dataset items, one trace per item, scores, the experiment).

    Safe to repeat: ids are deterministic, so a re-push updates the same objects in Langfuse.
    Exits 1 if a run is still pending (Langfuse unreachable or refusing)."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.store.runs import open_run, short_ref
        from smishctl.tracking import langfuse_settings, pending_runs

        s = settings()
        lf = langfuse_settings(s)
        if lf is None:
            raise ConfigError("Langfuse is not configured",
                              hint="set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (see docs/langfuse.md)")
        targets = ([open_run(s.runs_dir, ref) for ref in runs] if runs
                   else pending_runs(s, include_unpushed=all_runs))
        results: list[dict] = []
        if production:
            from smishctl.tracking import publish_prompt

            st = publish_prompt(s, "production", lf=lf)
            results.append({"prompt": "production", **st})
            if not as_json and st["status"] == "pushed":
                console.print(f"production prompt: Langfuse {st['name']} version {st['version']} "
                              f"({st['artifact_id']}) is labelled production", soft_wrap=True)
            elif not as_json:
                console.print(f"[yellow]warning:[/yellow] production prompt not published ({plain(st.get('error'))})",
                              soft_wrap=True)
        for run in targets:
            status = _push_with_progress(s, run, lf, timeout)
            results.append({"run": run.id, **status.to_dict()})
            if as_json:
                continue
            ref = short_ref(s.runs_dir, run.id)
            if status.pushed:
                console.print(f"run {ref}: pushed to Langfuse — {status.url or lf.host}", soft_wrap=True)
            else:
                console.print(f"[yellow]warning:[/yellow] run {ref}: still pending ({plain(status.error)})",
                              soft_wrap=True)
        if as_json:
            print_json(results)
        elif not targets and not production:
            out.print("nothing to push (no pending runs)")
        if any(r["status"] != "pushed" for r in results):
            raise typer.Exit(1)


def _push_with_progress(s, run, lf, timeout: float | None) -> PushStatus:
    """One run pushed, with the progress line of every long command (dataset items created, then traces
    built: count, elapsed, ETA) on a terminal; the run is named by its short reference there, so the line fits 80 columns."""
    from smishctl.cli.common import item_progress
    from smishctl.store.runs import short_ref
    from smishctl.tracking import push_run

    progress = item_progress()
    with progress:
        task = progress.add_task(f"pushing {short_ref(s.runs_dir, run.id)}", total=None, info="")

        def on_item(step: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, info=step)

        return push_run(s, run, lf=lf, timeout=timeout, on_item=on_item)
