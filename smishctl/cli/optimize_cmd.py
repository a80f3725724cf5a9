"""`smishctl optimize`: compile a prompt with DSPy and write a new versioned artifact."""

from __future__ import annotations

from typing import Annotated

import typer

from smishctl.cli.common import (
    DebugOpt,
    JsonOpt,
    SplitPolicyOpt,
    console,
    fmt,
    handled,
    out,
    plain,
    print_json,
    settings,
    split_policy_options,
    warn,
    warn_unused_feedback,
)
from smishctl.cli.completion import complete_prompt


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize)


def optimize(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Student model: litellm string, alias, local/NAME or .gguf. Default: the local model.")] = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", "-o", help="zero-shot, labeled, bootstrap, random-search, mipro, gepa or knn (default).")] = None,
    teacher: Annotated[str | None, typer.Option(help="A stronger model that writes demos (bootstrap, random-search, mipro) or reflects (gepa).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registry name or file (see `smishctl data`).")] = None,
    train_size: Annotated[int | None, typer.Option(help="Training messages (balanced). Default: 60, or all of train for knn.")] = None,
    dev_size: Annotated[int, typer.Option(help="Dev messages (balanced) that score candidates and the gain.")] = 45,
    seed: Annotated[int, typer.Option(help="Seed for splits, sampling and the optimizer.")] = 13,
    split_policy: str | None = SplitPolicyOpt,
    threads: Annotated[int, typer.Option(help="Parallel calls inside the optimizer (hosted models).")] = 1,
    max_calls: Annotated[int | None, typer.Option(help="LM call budget; when spent, the best program so far is kept (marked).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Optimizer setting NAME=VALUE, e.g. k=8 or auto=medium. Repeatable.")] = None,
    adapter: Annotated[str | None, typer.Option(help="score (label log-probabilities; default), chat (bare-label answers) or json (DSPy's JSON adapter).")] = None,
    calibrate: Annotated[str, typer.Option(help="Per-label bias fitted on dev: auto (kept if it wins in cross-validation), on or off.")] = "auto",
    recall_target: Annotated[str | None, typer.Option(help="LABEL=RECALL, e.g. smishing=0.95: the p(LABEL) threshold reaching this recall on dev.")] = None,
    no_langfuse: Annotated[bool, typer.Option("--no-langfuse", help="Do not trace the trials to Langfuse.")] = False,
    with_feedback: Annotated[bool, typer.Option("--with-feedback", help="Train on the user reports in datasets/feedback/ too (never dev or test); or \\[optimize] with_feedback.")] = False,
    instructions: Annotated[str | None, typer.Option("--instructions", help="A text file of instructions (e.g. a prompt you already use) the search starts from instead of the default ones.")] = None,
    start_from: Annotated[str | None, typer.Option("--from", help="Start the search from the instructions of this version (id or short ref).", autocompletion=complete_prompt)] = None,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Optimize the classification prompt for a model with a DSPy optimizer.

    Scores the zero-shot baseline and the result on the dev split, then writes an immutable version under prompts/<dataset>/<model>/vNNNN/ (program, rendered prompt, manifest, card).
    """
    with handled(debug):
        from smishctl.ops.optimize import OptimizeConfig
        from smishctl.solve.optimizers import parse_params

        split_policy_options(split_policy)
        cfg = OptimizeConfig(model=model, optimizer=optimizer, teacher=teacher, dataset=dataset,
                             split_policy=split_policy,
                             train_size=train_size, dev_size=dev_size, seed=seed, threads=threads,
                             max_calls=max_calls, params=parse_params(param or []),
                             langfuse=not no_langfuse, adapter=adapter, calibrate=calibrate,
                             recall_target=recall_target,
                             instructions=instructions, start_from=start_from,
                             with_feedback=with_feedback or bool(settings().section("optimize").get("with_feedback")))
        result = _run_with_progress(cfg)
        warn_unused_feedback(result.summary.feedback)
        if as_json:
            print_json(result.to_dict())
            return
        _print_summary(result)


class _ProgressView:
    """Turns the workflow's events into progress lines: one task per phase, the spend on its right."""

    def __init__(self, progress):
        self.progress = progress
        self.task = None
        self.meter = None  # the last call's Meter
        self.trials = None  # the TrialRecorder, once a trial was scored

    def __call__(self, kind: str, *, name: str = "", total: int | None = None, baseline=None, message: str = "",
                 meter=None, trials=None) -> None:
        if kind == "phase":
            self.phase(name, total, baseline)
        elif kind == "item":
            self.progress.update(self.task, advance=1)
        elif kind == "warning":
            warn(message)
        elif kind in ("call", "trial") and self.task is not None:
            self.meter, self.trials = meter or self.meter, trials or self.trials
            self.progress.update(self.task, info=_spend_info(self.meter, self.trials))

    def phase(self, name: str, total: int | None, baseline) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        if baseline:  # DevFigures of the starting program
            console.print(f"zero-shot dev macro-F1: {fmt(baseline.macro_f1)}")
        head, _, settings_note = name.partition(": ")
        if settings_note and not self.progress.disable:
            self.progress.console.print(f"{head}: {plain(settings_note)}")  # whole, above the bar, kept
        self.task = self.progress.add_task(head, total=total, info="")


def _run_with_progress(cfg):
    from smishctl.ops.optimize import optimize as run_optimization
    from smishctl.util import interrupt

    progress = _progress()
    interrupt.install()
    with progress:
        return run_optimization(settings(), cfg, on_event=_ProgressView(progress))


def _progress():
    """One line per phase that fits 80 columns (candidate i/n, bar, items, elapsed, ETA; the spend note
    gives way first): the progress line every long command shows (cli.common.item_progress). A
    candidate's settings are printed whole above it."""
    from smishctl.cli.common import item_progress

    return item_progress()


def _spend_info(meter, trials) -> str:
    info = f"{meter.calls} calls, ${meter.cost_usd:.4f}" if meter else ""
    if trials and trials.trials:
        info += f" · {trials.note()}"
    return info


def _dev_table(s):
    """Baseline against result on dev: accuracy, macro-F1, F1 per label, latency and cost."""
    from rich import box
    from rich.table import Table

    b, o = s.baseline, s.optimized
    t = Table(title=f"dev split ({s.dev_size} messages, balanced)", header_style="bold",
              box=box.SIMPLE_HEAD, show_edge=False)
    t.add_column("metric")
    t.add_column("start" if s.source else "zero-shot", justify="right")
    t.add_column(s.optimizer, justify="right")
    t.add_column("gain", justify="right")
    rows = [("accuracy", b.accuracy, o.accuracy), ("macro-F1", b.macro_f1, o.macro_f1)]
    rows += [(f"F1 {lab}", b.f1(lab), o.f1(lab)) for lab in o.per_class or {}]
    for name, x, y in rows:
        gain = None if x is None or y is None else y - x
        t.add_row(name, fmt(x), fmt(y), fmt(gain, "+.3f"))
    t.add_row("latency p50 (ms)", fmt(b.latency_p50_ms, ".0f"), fmt(o.latency_p50_ms, ".0f"), "")
    t.add_row("cost per 1k msgs (USD)", fmt(b.cost_per_1k, ".4f"), fmt(o.cost_per_1k, ".4f"), "")
    return t


def _print_summary(result) -> None:
    s = result.summary
    out.print(_dev_table(s))
    sp = s.spend
    note = " [yellow](budget exhausted: best program so far)[/yellow]" if s.budget_exhausted else ""
    console.print(f"spent {sp.lm_calls} LM calls, {sp.tokens} tokens, ${sp.cost_usd:.4f}, {sp.wall_seconds} s{note}")
    if s.search.evaluations:
        console.print(f"search: {s.search.note}")
    for c in s.search.candidates:
        console.print(f"candidate {c.note}: dev macro-F1 {fmt(c.dev_macro_f1)}")
    console.print(f"adapter: {s.adapter.name}{s.decision_note}")
    console.print(f"wrote [bold]{result.artifact}[/bold]")
    console.print(f"  in {_shown_path(str(result.path))}", soft_wrap=True)  # on its own line: wrapped by the terminal only
    console.print(f"next: smishctl evaluate --prompt {_prompt_ref(result.artifact)}")


def _shown_path(path: str) -> str:
    """Relative to the working folder when inside it (shorter, and what the user would type)."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _prompt_ref(artifact_id: str) -> str:
    from smishctl.cli.render import short_prompt_refs
    from smishctl.store.artifacts import list_artifacts

    return short_prompt_refs([artifact_id] + [a.id for a in list_artifacts(settings().prompts_dir)])[artifact_id]
