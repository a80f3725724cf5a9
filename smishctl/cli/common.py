"""What every command shares: the console, one-line errors, JSON output, settings."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.segment import Segment

from smishctl.util.inert import inert_text


class InertConsole(Console):
    """A rich Console whose printed text holds no control character: a message, a model's answer or a
    field of a record cannot move the cursor, retitle or clear the terminal (smishctl.util.inert). Only
    the text is changed, at the last step, so rich's own styles and control segments still work."""

    def _render_buffer(self, buffer) -> str:
        return super()._render_buffer(s if s.control else Segment(inert_text(s.text), s.style) for s in buffer)


console = InertConsole(stderr=True, highlight=False)
out = InertConsole(highlight=False)


def _no_type_after_flags() -> None:
    """Typer prints a value type after every option in --help, `<bool>` after flags too, which take no
    value: show none there (one place, so it also holds for Typer's own --help and completion flags)."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]  # flags show no type


_no_type_after_flags()

DebugOpt = typer.Option(False, "--debug", help="Show full tracebacks.", envvar="SMISHCTL_DEBUG")
JsonOpt = typer.Option(False, "--json", help="Print one JSON document on stdout (for scripts).")
SplitPolicyOpt = typer.Option(
    None, "--split-policy", metavar="POLICY",
    help="template (default): near-duplicate texts stay in one split; exact: only identical ones. "
         "Or \\[data] split_policy.")


def split_policy_options(policy: str | None) -> dict:
    """The data_options entry for --split-policy (checked here, so a bad name fails before any work)."""
    if policy is None:
        return {}
    from smishctl.data.prepare import check_split_policy

    return {"split": {"policy": check_split_policy(policy)}}


WideOpt = typer.Option(False, "--wide", help="Every column at full width, whatever the terminal's width.")


@contextlib.contextmanager
def handled(debug: bool = False) -> Iterator[None]:
    """Turn library errors into one red line and the right exit code (with --debug: the traceback,
    redacted like everything else, since an exception may quote a key a provider echoed back)."""
    from smishctl.core.errors import SmishError
    from smishctl.util.redact import install_log_redaction, register_env_secrets

    register_env_secrets()
    install_log_redaction()
    try:
        yield
    except SmishError as exc:
        if debug:
            _print_traceback(exc)
            raise typer.Exit(exc.exit_code) from None
        console.print(f"[red]error:[/red] {plain(_redact(exc.one_line()))}", soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # an unexpected failure: still one line unless --debug
        if debug:
            _print_traceback(exc)
            raise typer.Exit(1) from None
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # expected, not a bug
            where = f", writing {exc.filename}" if exc.filename else ""
            console.print(f"[red]error:[/red] the disk is full ({plain(exc.strerror)}{plain(where)}) — free some "
                          f"space, then run the command again", soft_wrap=True)
            raise typer.Exit(1) from None
        first = str(exc).splitlines()[0] if str(exc) else ""
        console.print(f"[red]error:[/red] unexpected {type(exc).__name__}: {plain(_redact(first))} (re-run with --debug)",
                      soft_wrap=True)
        raise typer.Exit(1) from None


def _print_traceback(exc: BaseException) -> None:
    from smishctl.util.redact import redact_exception

    sys.stderr.write(redact_exception(exc))
    sys.stderr.flush()


def plain(text) -> str:
    """Text printed as it is: rich would take `[data]` in a hint for markup and drop it."""
    from rich.markup import escape

    return escape(str(text))


def _redact(text: str) -> str:
    from smishctl.util.redact import redact

    return redact(text)


def warn(message: str) -> None:
    """One warning line (e.g. a library hook that failed: the command itself did not)."""
    console.print(f"[yellow]warning:[/yellow] {plain(message)}", soft_wrap=True)


def warn_unused_feedback(info: dict | None) -> None:
    """One line when --with-feedback added nothing (otherwise silent: an empty file, a misspelt dataset)
    or left reports out as near-copies of dev/test messages (smishctl.data.feedback.training_feedback)."""
    if info is None:
        return
    n, copies, file = info.get("reports") or 0, info.get("held_out_copies") or 0, info.get("file")
    near = f"{copies} near-copies of dev/test messages, which training must never see" if copies else ""
    if info.get("used"):
        if copies:
            warn(f"--with-feedback left out {copies} report(s) in {file}: {near}")
        return
    why = (f"none of the {n} report(s) in {file} can train ({near or 'dev/test items or other labels'})" if n
           else f"{file} holds no reports (smishctl feedback add or import)")
    warn(f"--with-feedback added nothing: {why}")


def settings():
    from smishctl.core.config import load_settings

    return load_settings()


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def fmt(value, spec: str = ".3f", none: str = "-") -> str:
    if value is None:
        return none
    return format(value, spec)


def show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("SMISHCTL_NO_PROGRESS")


# The gate metrics, for the epilogs of compare and promote (tests/test_eighty_columns.py checks that
# every metric smishctl.score.gates knows is named here).
GATE_METRICS_HELP = """[bold]Gate metrics[/bold] (METRIC OP NUMBER, OP one of >= <= > < ==)
  accuracy, macro_f1, f1\\[LABEL], precision\\[LABEL], recall\\[LABEL],
  error_rate, invalid_rate, n_errors, n_invalid, p50_latency_ms,
  p95_latency_ms, mean_latency_ms, tokens_per_msg, cost_per_1k, cost_usd,
  attack_success_rate, control_ham_accuracy, roc_auc\\[LABEL],
  pr_auc\\[LABEL], ece, brier
"""


def item_progress():
    """The progress line every long command shows, one per task, fitting 80 columns: a spinner, what is
    running, a bar, items done/total, elapsed time and the ETA once an item is done; the note
    (`info` field) gives way first, cut with '…'. Quiet with SMISHCTL_NO_PROGRESS or when stderr is no
    terminal. Add tasks with `add_task(what, total=N, info="")`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column
    from rich.text import Text

    class NoteColumn(TextColumn):
        # The one column rich may narrow (the others never wrap); its text is cut, never wrapped.
        def render(self, task) -> Text:
            text = super().render(task)
            text.no_wrap, text.overflow = True, "ellipsis"
            return text

    def whole():
        return Column(no_wrap=True)

    return Progress(SpinnerColumn(table_column=whole()), TextColumn("[bold]{task.description}[/bold]", table_column=whole()),
                    BarColumn(bar_width=12, table_column=whole()), MofNCompleteColumn(table_column=whole()),
                    TimeElapsedColumn(table_column=whole()),
                    TextColumn("ETA", style="progress.remaining", table_column=whole()),
                    TimeRemainingColumn(table_column=whole()),
                    NoteColumn("{task.fields[info]}", table_column=Column(overflow="ellipsis")),
                    console=console, transient=True, disable=not show_progress(), expand=False)


def spinner(what: str):
    """A spinner on stderr while one step of unknown length runs (loading a model, one answer); nothing
    without a terminal or with SMISHCTL_NO_PROGRESS."""
    if not show_progress():
        return contextlib.nullcontext()
    return console.status(what, spinner="dots")
