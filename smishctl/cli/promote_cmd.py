"""`smishctl promote`: evaluated, policy-checked, atomic promotion to prompts/production/, with history."""

from __future__ import annotations

from typing import Annotated

import typer

from smishctl.cli.common import DebugOpt, JsonOpt, console, fmt, handled, out, plain, print_json, settings, warn


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)


def promote(
    artifact: Annotated[str | None, typer.Argument(help="Artifact id (dataset/model/vNNNN), a unique suffix, or a path.", show_default=False)] = None,
    run: Annotated[str | None, typer.Option("--run", help="The test-split evaluation run of this artifact to judge it by (default: find one, or evaluate).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why: recorded in the history (required with --force).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even though the policy failed (recorded).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen; change nothing, evaluate nothing.")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Restore the previous production version.")] = False,
    show_status: Annotated[bool, typer.Option("--status", help="Show what is in production and since when.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="When evaluating: the first N test items.")] = None,
    balanced: Annotated[bool, typer.Option(help="When evaluating with --limit: the same number per label.")] = False,
    no_langfuse: Annotated[bool, typer.Option("--no-langfuse", help="Do not move the Langfuse prompt label (even if configured).")] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Promote a prompt artifact to production (prompts/production/current), guarded by the \\[promotion]
    policy of smishctl.toml: min_macro_f1, max_error_rate, and not significantly worse than production
    on the same items. Exit codes: 0 done, 1 policy failed, 2 bad input."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.ops.hooks import default_hooks
        from smishctl.ops.promote import promote as do_promote
        from smishctl.ops.promote import rollback as do_rollback
        from smishctl.ops.promote import status as do_status

        modes = sum([bool(artifact), rollback, show_status])
        if modes != 1:
            raise ConfigError("pass exactly one of: ARTIFACT, --rollback, --status")
        s = settings()
        if show_status:
            st = do_status(s)
            if as_json:
                print_json(st)
            elif not st["in_production"]:
                out.print("nothing is in production yet")
            else:
                m = st.get("metrics") or {}
                out.print(f"[bold]{st['artifact']}[/bold] (release {st['release']}) in production since "
                          f"{st['since']} ({st['last_action']} by {st['by']})")
                out.print(f"  model {st['model']}, run {st['run']}, macro-F1 {fmt(m.get('macro_f1'))}, "
                          f"error rate {fmt(m.get('error_rate'))}"
                          + (f", reason: {st['reason']}" if st.get("reason") else "")
                          + (" [yellow](forced)[/yellow]" if st.get("forced") else ""))
                out.print(f"  previous release {st['previous'] or '-'}; {st['history']} history entries; {st['dir']}")
            return
        hooks = default_hooks(s, enabled=not no_langfuse)  # Langfuse's prompt label follows production
        if rollback:
            res = do_rollback(s, reason=reason, dry_run=dry_run, hooks=hooks, on_warning=warn)
            _print_langfuse_label(res.get("langfuse"))
            if as_json:
                print_json(res)
            else:
                verb = "would roll back" if dry_run else "rolled back"
                out.print(f"{verb}: {res['from']['artifact']} ({res['from']['release']}) -> "
                          f"{res['to']['artifact']} ({res['to']['release']})")
                for skip in res.get("skipped") or []:
                    console.print(f"[yellow]skipped[/yellow] release {skip['release']}: {skip['why']}", soft_wrap=True)
            return

        def on_start(plan):
            console.print(f"evaluating {plan.record.prompt_id} with {plan.record.model_name} on "
                          f"{len(plan.items)} test items (run {plan.run.id})")

        res = do_promote(s, artifact, run=run, reason=reason, force=force, dry_run=dry_run, limit=limit,
                         balanced=balanced, on_start=on_start, hooks=hooks, on_warning=warn)
        _print_langfuse_label(res.get("langfuse"))
        if as_json:
            print_json(res)
            return
        for c in res["checks"]:
            mark = "[green]ok[/green]" if c["passed"] else "[red]FAIL[/red]"
            out.print(f"  {mark} {plain(c['name'])}: {plain(c['detail'])}")
        src = res["from"]["artifact"] if res["from"] else "(empty)"
        if dry_run:
            if res["run"] is None:
                out.print(f"would evaluate {res['artifact']} on the test split, check the policy, then promote it")
            else:
                verdict = "policy passes" if res["policy_passed"] else (
                    "policy FAILS (would be forced)" if force else "policy FAILS")
                out.print(f"would promote {res['artifact']} (run {res['run']}, {res['evaluation']}): "
                          f"{src} -> {res['artifact']}; {verdict}")
        else:
            forced = " [yellow](forced)[/yellow]" if res["forced"] else ""
            out.print(f"promoted {res['artifact']} as release {res['release']}{forced}: {src} -> {res['artifact']}")


def _print_langfuse_label(st: dict | None) -> None:
    """Where Langfuse's `production` prompt label went (the promotion stands either way)."""
    if not st:
        return
    if st["status"] == "pushed":
        console.print(f"Langfuse prompt {st['name']} version {st['version']} is labelled production", soft_wrap=True)
    elif st["status"] == "pending":
        console.print(f"[yellow]warning:[/yellow] Langfuse prompt label not moved ({plain(st.get('error'))}); "
                      "retry with: smishctl push --production", soft_wrap=True)
