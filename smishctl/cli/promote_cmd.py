"""`smishctl promote`: evaluated, policy-checked, atomic promotion to prompts/production/, with history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from smishctl.cli.common import (
    GATE_METRICS_HELP,
    DebugOpt,
    JsonOpt,
    console,
    fmt,
    handled,
    out,
    plain,
    print_json,
    settings,
    warn,
)

if TYPE_CHECKING:
    from smishctl.ops.promotion_result import EvaluationPlan, ProductionStatus, PromotionResult

EPILOG = """[bold]Policy[/bold]: \\[promotion] in smishctl.toml
  min_macro_f1, max_error_rate     bounds on the test-split evaluation
  require                          gates, e.g. ["recall\\[smishing] >= 0.95"]
  max_attack_success_rate,         bounds on the robustness set, which is
  min_control_ham_accuracy         then evaluated too
  alpha                            not significantly worse than production
  must_pass                        must-pass sets: any miss fails
  min_items                        fewest test items (default: all of them)
  require_reason                   false: --reason becomes optional

""" + GATE_METRICS_HELP + """

[bold]Examples[/bold]
  smishctl promote v0003 --dry-run     the policy, the items, about how long
  smishctl promote v0003 --reason '...'  evaluate if needed, check, promote
  smishctl promote --status            what is in production
  smishctl promote --rollback          back to the previous release

Exit codes: 0 done, 1 policy failed, 2 bad input."""


def register(app: typer.Typer) -> None:
    app.command("promote", epilog=EPILOG)(promote)


def promote(
    artifact: Annotated[str | None, typer.Argument(help="Artifact id, a unique suffix (v0003) or a path.", show_default=False)] = None,
    run: Annotated[str | None, typer.Option("--run", metavar="RUN", help="The test-split run to judge it by (default: find one, or evaluate).")] = None,
    reason: Annotated[str | None, typer.Option("--reason", metavar="TEXT", help="Why (kept in the history); required unless \\[promotion] require_reason = false.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Start an evaluation estimated over 10 minutes without asking.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Promote even though the policy failed (recorded).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing, evaluate nothing.")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Restore the previous production version.")] = False,
    show_status: Annotated[bool, typer.Option("--status", help="Show what is in production and since when.")] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="When evaluating: N test items (the first N of a seeded shuffle).")] = None,
    balanced: Annotated[bool, typer.Option("--balanced", help="With --limit: N spread evenly over the labels.")] = False,
    no_langfuse: Annotated[bool, typer.Option("--no-langfuse", help="Do not move the Langfuse prompt label.")] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Promote a prompt artifact to production (prompts/production/current) if it passes the policy."""
    with handled(debug):
        from smishctl.core.errors import ConfigError
        from smishctl.ops.hooks import default_hooks

        if sum([bool(artifact), rollback, show_status]) != 1:
            raise ConfigError("pass exactly one of: ARTIFACT, --rollback, --status")
        s = settings()
        if show_status:
            _show_status(s, as_json=as_json)
            return
        hooks = default_hooks(s, enabled=not no_langfuse)  # Langfuse's prompt label follows production
        if rollback:
            _rollback(s, reason=reason, dry_run=dry_run, hooks=hooks, as_json=as_json)
            return
        if not dry_run:
            _require_reason(s, reason)
        from smishctl.ops.promote import promote as do_promote

        shown = _EvaluationProgress(lambda plan: _confirm_evaluation(s, plan, yes=yes))
        try:
            res = do_promote(s, artifact or "", run=run, reason=reason, force=force, dry_run=dry_run, limit=limit,
                             balanced=balanced, on_start=shown.start, on_item=shown.advance, hooks=hooks,
                             on_warning=warn)
        finally:
            shown.stop()
        _print_langfuse_label(res.langfuse)
        if as_json:
            print_json(res.to_dict())
        else:
            _print_promotion(res, force=force)


def _show_status(s, *, as_json: bool) -> None:
    from smishctl.ops.promote import status as do_status

    st = do_status(s)
    if as_json:
        print_json(st.to_dict())
    elif not st.in_production:
        out.print("nothing is in production yet")
    else:
        _print_status(s, st)


def _rollback(s, *, reason: str | None, dry_run: bool, hooks, as_json: bool) -> None:
    from smishctl.ops.promote import rollback as do_rollback

    res = do_rollback(s, reason=reason, dry_run=dry_run, hooks=hooks, on_warning=warn)
    _print_langfuse_label(res.langfuse)
    if as_json:
        print_json(res.to_dict())
        return
    verb = "would roll back" if dry_run else "rolled back"
    out.print(f"{verb}: {res.from_.artifact} ({res.from_.release}) -> {res.to.artifact} ({res.to.release})")
    for skip in res.skipped:
        console.print(f"[yellow]skipped[/yellow] release {skip.release}: {skip.why}", soft_wrap=True)


def _print_promotion(res: PromotionResult, *, force: bool) -> None:
    """The checks, one a line, then what was (or would be) promoted and on which evidence."""
    for c in res.checks:
        mark = "[green]ok[/green]" if c.passed else "[red]FAIL[/red]"
        out.print(f"  {mark} {plain(c.name)}: {plain(c.detail)}")
    src = res.from_.artifact if res.from_ else "(empty)"
    if res.dry_run:
        if res.would_evaluate is not None:
            _print_evaluation_plan(res.artifact, res.would_evaluate)
        else:
            verdict = "policy passes" if res.policy_passed else (
                "policy FAILS (would be forced)" if force else "policy FAILS")
            out.print(f"would promote {res.artifact} (evidence: run {_short(res.run)}, {res.evaluation}): "
                      f"{src} -> {res.artifact}; {verdict}")
    else:
        forced = " [yellow](forced)[/yellow]" if res.forced else ""
        out.print(f"promoted {res.artifact} as release {res.release}{forced}: {src} -> {res.artifact}")
        out.print(f"  evidence: run {_short(res.run)} ({res.evaluation})")


LONG_EVALUATION_S = 600  # an evaluation estimated longer than this is confirmed first (on a terminal)


def _require_reason(s, reason: str | None) -> None:
    """A promotion records why: --reason, unless [promotion] require_reason = false. Checked before
    anything is evaluated, so a long evaluation never ends in this refusal."""
    from smishctl.core.errors import ConfigError

    if reason and reason.strip():
        return
    if s.section("promotion").get("require_reason", True) is not False:
        raise ConfigError("promote needs --reason '...' (it is recorded in the history)",
                          hint="or set [promotion] require_reason = false in smishctl.toml")


class _EvaluationProgress:
    """The shared progress line (cli/common.item_progress) over each evaluation promote runs, started
    once the evaluation is confirmed, so a question is never drawn over."""

    def __init__(self, confirm) -> None:
        self.confirm = confirm  # announces the evaluation and, when it is long, asks first
        self.progress: Any = None
        self.task: Any = None

    def start(self, plan) -> None:
        from smishctl.cli.common import item_progress

        self.confirm(plan)
        if self.progress is None:
            self.progress = item_progress()
            self.progress.start()
        self.task = self.progress.add_task("evaluating", total=len(plan.items), info=plain(plan.record.prompt_id))

    def advance(self, _row) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _confirm_evaluation(s, plan, *, yes: bool) -> None:
    """Say what is evaluated and for about how long; on a terminal, ask before one estimated over
    LONG_EVALUATION_S, unless --yes or CI (where nobody could answer)."""
    import os
    import sys

    from smishctl.cli.render import duration
    from smishctl.core.errors import SmishError
    from smishctl.ops.promote import seconds_per_item

    speed = seconds_per_item(s, plan.record.serving)
    n = len(plan.items)
    about = f", about {duration(speed[0] * n)} ({speed[0]:.2f} s per item in run {_short(speed[1])})" if speed else ""
    console.print(f"evaluating {plain(plan.record.prompt_id)} with {plain(plan.record.model_name)} on {n} test "
                  f"items{about}")
    if not speed or speed[0] * n <= LONG_EVALUATION_S or yes:
        return
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    if ci or not sys.stdin.isatty():
        return
    if not typer.confirm("start this evaluation?", default=False, err=True):
        raise SmishError("not promoted: nothing was evaluated", hint="promote with --yes to skip this question",
                         exit_code=1)


def _short(run_id: str | None) -> str:
    """A run's short reference (what `runs list` shows), so a long id never wraps mid-word."""
    from smishctl.store.runs import short_ref

    return short_ref(settings().runs_dir, run_id) if run_id else "-"


def _print_status(s, st: ProductionStatus) -> None:
    """What is in production, one fact a line, fitted to the terminal: short run references and the
    release folder relative to the project, so nothing long is cut or wrapped mid-word."""
    from pathlib import Path

    from rich.markup import escape
    from rich.table import Table

    m = st.metrics or {}
    folder = Path(st.dir or "")
    try:
        folder = folder.relative_to(s.root.resolve())
    except ValueError:
        pass  # a production folder outside the project is shown whole
    since = str(st.since or "?")
    facts = [("production", f"[bold]{escape(st.artifact or '?')}[/bold] (release {escape(str(st.release))})"
                            + (" [yellow](forced)[/yellow]" if st.forced else "")),
             ("since", f"{escape(since[:10])} {escape(since[11:16])} ({escape(str(st.last_action))} by {escape(str(st.by))})"),
             ("model", escape(str(st.model))),
             ("evidence", f"run {escape(_short(st.run))}: macro-F1 {fmt(m.get('macro_f1'))}, "
                          f"error rate {fmt(m.get('error_rate'))}"),
             ("reason", escape(st.reason or "-")),
             ("previous", f"release {escape(st.previous or '-')}; {st.history} history entries"),
             ("folder", escape(str(folder)))]
    if st.serving_problem:
        facts.append(("[red]not served[/red]", plain(st.serving_problem)))
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for key, value in facts:
        t.add_row(key, value)
    out.print(t)


def _print_evaluation_plan(artifact: str, plan: EvaluationPlan) -> None:
    """A dry run that would evaluate: what, for about how long, and the policy the result must pass."""
    from smishctl.cli.render import duration
    from smishctl.store.runs import list_runs, short_refs

    n = plan.n_items
    given = f" (--limit {plan.limit}{', --balanced' if plan.balanced else ''})" if plan.limit else ""
    out.print(f"would evaluate {plain(artifact)}")
    out.print(f"  on {n} test items of {plain(plan.dataset)}{given}")
    if plan.estimate_seconds is None or plan.seconds_per_item is None:
        out.print("  time: no earlier run of this model to estimate from")
    else:
        source = plan.estimate_from or "?"
        source = short_refs([r.id for r in list_runs(settings().runs_dir)]).get(source, source)
        out.print(f"  time: about {duration(plan.estimate_seconds)} ({plan.seconds_per_item:.2f} s per item "
                  f"in run {plain(source)})")
    out.print("then check the \\[promotion] policy of smishctl.toml:")
    for line in plan.policy:
        out.print(f"  {plain(line)}")
    needed = f"at least {plan.min_items} test items" if plan.min_items else "the whole test split"
    out.print(f"  evidence: {needed} (min_items)")
    out.print("and promote it if every check passes")


def _print_langfuse_label(st: dict | None) -> None:
    """Where Langfuse's `production` prompt label went (the promotion stands either way)."""
    if not st:
        return
    if st["status"] == "pushed":
        console.print(f"Langfuse prompt {st['name']} version {st['version']} is labelled production", soft_wrap=True)
    elif st["status"] == "pending":
        console.print(f"[yellow]warning:[/yellow] Langfuse prompt label not moved ({plain(st.get('error'))}); "
                      "retry with: smishctl push --production", soft_wrap=True)
