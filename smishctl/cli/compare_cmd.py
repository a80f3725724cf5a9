"""`smishctl compare`: runs side by side, paired statistics, CI gates and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import (
    GATE_METRICS_HELP,
    DebugOpt,
    JsonOpt,
    SplitPolicyOpt,
    WideOpt,
    console,
    handled,
    settings,
    warn,
)
from smishctl.cli.completion import complete_run

# Examples and gate metric names live here, where they wrap, rather than in option help that an
# 80-column terminal cuts.
EPILOG = """[bold]Examples[/bold]
  smishctl compare latest~1 latest --diff     two runs, and where they differ
  smishctl compare --models local/qwen2.5-coder-0.5b,classic/tfidf-svm
  smishctl compare A B --gate 'macro_f1>=0.80' --gate 'recall\\[smishing]>=0.90'
  smishctl compare A B --no-regression --markdown summary.md --junit gates.xml

""" + GATE_METRICS_HELP + """
Exit codes: 0 passed (or no gate set), 1 a gate failed, 2 bad input."""


def register(app: typer.Typer) -> None:
    app.command("compare", epilog=EPILOG)(compare)


def compare(
    runs: Annotated[list[str] | None, typer.Argument(help="Run references: ids, short refs or prefixes from `smishctl runs list`, latest, latest~1, or run folders.", show_default=False, autocompletion=complete_run)] = None,
    models: Annotated[str | None, typer.Option("--models", help="Comma-separated models to evaluate on the same items first (an identical run is reused); see the examples.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="With --models: the prompt every model uses (default zero-shot).")] = None,
    prompts: Annotated[str | None, typer.Option("--prompts", help="With --models: comma-separated prompts; every model x prompt is evaluated.")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="With --models: the dataset.")] = None,
    split: Annotated[str, typer.Option(help="With --models: the split (train, dev, test, or all).")] = "test",
    evaluation_only: Annotated[bool, typer.Option("--evaluation-only", help="With --models: the dataset is for evaluation only (never split; every item scored).")] = False,
    train_dataset: Annotated[str | None, typer.Option("--train-dataset", help="With --models: where classic/* baselines learn (default: the evaluated dataset's train split; for an evaluation-only file the dataset the compared artifact was optimized on, else the default dataset).")] = None,
    must_pass: Annotated[list[str] | None, typer.Option("--must-pass", help="Must-pass set: a NAME under datasets/golden/ or a FILE; repeatable. Any miss fails (exit 1).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="With --models: evaluate the first N items.")] = None,
    balanced: Annotated[bool, typer.Option(help="With --models and --limit: the same number of items per label.")] = False,
    threads: Annotated[int, typer.Option(help="With --models: parallel calls.")] = 1,
    no_classic: Annotated[bool, typer.Option("--no-classic", help="With --models: do not add the classic/tfidf-svm and classic/tfidf-knn baselines.")] = False,
    split_policy: str | None = SplitPolicyOpt,
    label_map: Annotated[str | None, typer.Option("--label-map", metavar="FROM=TO,...", help="With --models: read a data file's labels as the task's: FROM=TO pairs, comma-separated, e.g. legit=ham.")] = None,
    baseline: Annotated[str | None, typer.Option("--baseline", help="RUN or 'production': the column deltas and statistics refer to (default: the first run).")] = None,
    gate: Annotated[list[str] | None, typer.Option("--gate", "-g", help="METRIC>=VALUE (or <=), repeatable; checked on every candidate, not the baseline. Metrics and examples below.")] = None,
    max_error_rate: Annotated[float | None, typer.Option("--max-error-rate", help="Fail with exit code 3 when a run's share of failed calls exceeds this (default: \\[compare] max_error_rate, 0.05).")] = None,
    no_regression: Annotated[bool, typer.Option("--no-regression", help="Fail when a candidate is significantly worse than the baseline (McNemar p<0.05 and lower macro-F1).")] = False,
    strict_items: Annotated[bool, typer.Option("--strict-items", help="Refuse (exit 2) instead of warning when runs cover different items.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the macro-F1 interval.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report (CI job summary, PR comment).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML: one test case per gate.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write one self-contained HTML page with charts.")] = None,
    json_file: Annotated[Path | None, typer.Option("--json-file", help="Write the comparison as JSON to a file.")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="List the items the runs answer differently (text, gold, each run's answer; the first 50).")] = False,
    no_langfuse: Annotated[bool, typer.Option("--no-langfuse", help="Do not send the runs this command evaluates to Langfuse.")] = False,
    wide: bool = WideOpt,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Compare runs side by side: quality, errors, latency, tokens and cost; exact McNemar and bootstrap
    statistics against the baseline; CI gates.

    Exit codes: 0 pass, 1 a quality gate failed, 2 usage or configuration error, 3 too many errors."""
    with handled(debug):
        from smishctl.cli.compare_render import render, write_files
        from smishctl.ops.compare import CompareEvents, CompareRequest
        from smishctl.ops.compare import compare as compare_door
        from smishctl.ops.compare_sources import split_list

        req = CompareRequest(
            runs=list(runs or []), models=split_list(models), prompt=prompt, prompts=split_list(prompts),
            dataset=dataset, split=split, evaluation_only=evaluation_only, train_dataset=train_dataset,
            limit=limit, balanced=balanced, threads=threads, include_classic=not no_classic,
            split_policy=split_policy, label_map=label_map, baseline=baseline, must_pass=list(must_pass or []),
            gates=list(gate or []), max_error_rate=max_error_rate, no_regression=no_regression,
            strict_items=strict_items, n_boot=bootstrap, seed=seed, langfuse=not no_langfuse)
        s = settings()
        cmp = compare_door(s, req, CompareEvents(on_start=_on_start, on_reuse=_on_reuse, on_warning=warn))
        write_files(cmp, markdown=markdown, junit=junit, html=html, json_file=json_file)
        render(cmp, s.runs_dir, as_json=as_json, wide=wide, diff=diff)
        if cmp.exit_code:
            raise typer.Exit(cmp.exit_code)


def _on_start(plan) -> None:
    console.print(f"evaluating {plan.record.model_name} · {plan.record.prompt_id} on "
                  f"{len(plan.items)} items (run {plan.run.id})")


def _on_reuse(record: dict) -> None:
    from smishctl.core.records import RunRecord

    console.print(f"reusing run {RunRecord.of(record).id} (same configuration)")
