"""`smishctl evaluate`: run a prompt over a dataset split and record every prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from smishctl.cli.common import (
    DebugOpt,
    JsonOpt,
    SplitPolicyOpt,
    console,
    handled,
    out,
    plain,
    print_json,
    settings,
    split_policy_options,
    warn,
    warn_unused_feedback,
)
from smishctl.cli.completion import complete_prompt, complete_run

if TYPE_CHECKING:
    from smishctl.core.records import RunRecord

EPILOG = """[bold]Examples[/bold]
  smishctl evaluate --limit 50             the local model, 50 test items
  smishctl evaluate -p v0003 --full        an optimized prompt, every table
  smishctl evaluate -m classic/tfidf-svm   a TF-IDF baseline, no LLM
  smishctl evaluate --robustness           the prompt-injection set
  smishctl evaluate -d my-sms.csv --evaluation-only   a whole file

The summary starts with accuracy and macro-F1; --full (or smishctl runs show
REF) adds per-class scores, the confusion matrix, latency, tokens and cost."""


def register(app: typer.Typer) -> None:
    app.command("evaluate", epilog=EPILOG)(evaluate)


def evaluate(
    model: Annotated[str | None, typer.Option("--model", "-m", help="litellm string, alias, local/NAME or a .gguf file. Default: the local model.")] = None,
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="zero-shot, production, a prompt id or short ref, or a path.", autocompletion=complete_prompt)] = "zero-shot",
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registry name, a data file (CSV, JSON, Parquet...) or hf:ID.")] = None,
    split: Annotated[str, typer.Option(help="train, dev, test or all.")] = "test",
    evaluation_only: Annotated[bool, typer.Option("--evaluation-only", help="Never split the file: score all of it (automatic for golden/ and feedback/ files).")] = False,
    train_dataset: Annotated[str | None, typer.Option("--train-dataset", help="classic/* models: the dataset they train on (default: this one).")] = None,
    with_feedback: Annotated[bool, typer.Option("--with-feedback", help="classic/* models: also train on the user reports in datasets/feedback/ (never dev or test).")] = False,
    must_pass: Annotated[list[str] | None, typer.Option("--must-pass", metavar="NAME", help="Also check must-pass set NAME or FILE and list every miss. Repeatable.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Score N items: the first N of the split's seeded shuffle, a fair sample.")] = None,
    balanced: Annotated[bool, typer.Option("--balanced", help="With --limit: N spread evenly over the labels instead.")] = False,
    threads: Annotated[int, typer.Option(help="Parallel calls (hosted endpoints).")] = 1,
    timeout: Annotated[float | None, typer.Option(help="Seconds per call (default 60).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries per call, with backoff (default 3).")] = None,
    max_errors: Annotated[int, typer.Option(help="Stop once this many errors are half the items so far.")] = 50,
    resume: Annotated[str | None, typer.Option(metavar="RUN", help="Finish an interrupted run.", autocompletion=complete_run)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not answer from DSPy's cache.")] = False,
    text_column: Annotated[str | None, typer.Option(help="Text column of a data file.")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of a data file.")] = None,
    labels: Annotated[str | None, typer.Option(help="A data file's allowed labels, comma-separated.")] = None,
    label_map: Annotated[str | None, typer.Option("--label-map", metavar="FROM=TO,...", help="Read a data file's labels as the task's: FROM=TO pairs, comma-separated, e.g. legit=ham (kept in the run record).")] = None,
    encoding: Annotated[str, typer.Option(help="Encoding of a data file.")] = "utf-8",
    split_policy: str | None = SplitPolicyOpt,
    shard: Annotated[str | None, typer.Option(metavar="K/N", help="Score only shard K of N; join the runs with `smishctl runs merge`.")] = None,
    robustness: Annotated[bool, typer.Option("--robustness", help="Score the prompt-injection robustness set.")] = False,
    adapter: Annotated[str | None, typer.Option(help="score, chat or json. Default: the prompt's own.")] = None,
    no_harden: Annotated[bool, typer.Option("--no-harden", help="Send the SMS as is (to measure the hardening).")] = False,
    no_guard: Annotated[bool, typer.Option("--no-guard", help="Let texts that address the classifier come out as ham (to measure the guard).")] = False,
    no_langfuse: Annotated[bool, typer.Option("--no-langfuse", help="Do not send this run to Langfuse.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Also print per-class scores, the confusion matrix, latency, tokens and cost.")] = False,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Evaluate a prompt on a dataset split; every prediction is written to runs/<run-id>/."""
    with handled(debug):
        s = settings()
        _check_names(s, model, dataset, robustness=robustness, shard=shard)
        from smishctl.ops.evaluate import EvalConfig

        data_options = _data_options(split_policy, text_column, label_column, labels, encoding, label_map)
        cfg = EvalConfig(model=model, prompt=prompt, dataset=dataset, split=split, limit=limit,
                         balanced=balanced, threads=threads, timeout=timeout, num_retries=retries,
                         max_errors=max_errors, cache=not no_cache, data_options=data_options,
                         shard=shard, harden=not no_harden, guard=not no_guard, adapter=adapter, evaluation_only=evaluation_only,
                         train_dataset=train_dataset, with_feedback=with_feedback)
        if robustness:
            cfg.dataset, cfg.split = "robustness", "test"
        golden_sets = _golden_sets(s, must_pass or [])  # bad names fail before any call
        record = _run_with_progress(s, cfg, resume, langfuse=not no_langfuse)
        warn_unused_feedback((record.train_dataset or {}).get("feedback"))
        _print_langfuse(record)
        results = _check_must_pass(s, record, golden_sets)
        if as_json:
            print_json({**record.to_dict(), "must_pass": results} if must_pass else record.to_dict())
        else:
            _print_summary(s, record, results, full=full)


def _golden_sets(s, refs: list[str]) -> list:
    if not refs:
        return []
    from smishctl.data.golden import load_golden

    return [load_golden(s, ref) for ref in refs]


def _check_must_pass(s, record: RunRecord, golden_sets: list) -> list[dict]:
    """The evaluated model and prompt on each must-pass set (smishctl.ops.must_pass), every miss listed."""
    if not golden_sets:
        return []
    from smishctl.ops.must_pass import check_record

    return [check_record(s, record, g, on_start=_announce) for g in golden_sets]


def _check_names(s, model: str | None, dataset: str | None, *, robustness: bool, shard: str | None) -> None:
    """Refuse a mistyped model, --robustness beside --dataset and a malformed --shard before the model
    stack is imported: such mistakes fail in a moment."""
    if model:
        from smishctl.models.registry import check_model_name

        check_model_name(model, s)
    if robustness and dataset not in (None, "robustness"):
        from smishctl.core.errors import ConfigError

        raise ConfigError("--robustness evaluates the robustness set: do not also pass --dataset")
    if shard:
        from smishctl.data.shards import parse_shard

        parse_shard(shard)


def _data_options(split_policy, text_column, label_column, labels, encoding, label_map) -> dict:
    """How a data file is read (smishctl.data.prepare.load_dataset_splits's options)."""
    data_options = split_policy_options(split_policy)
    if text_column:
        data_options["text_column"] = text_column
    if label_column:
        data_options["label_column"] = label_column
    if labels:
        data_options["labels"] = tuple(x.strip().lower() for x in labels.split(",") if x.strip())
    if encoding != "utf-8":
        data_options["encoding"] = encoding
    if label_map:
        from smishctl.data.label_map import parse_label_map

        data_options["label_map"] = parse_label_map(label_map)
    return data_options


def _print_summary(s, record: RunRecord, results: list[dict], *, full: bool) -> None:
    """The headline first, so that it stays on a 24-line screen; the tables only with --full."""
    from smishctl.cli.render import confusion_table, headline, macro_f1_interval, metrics_table
    from smishctl.store.runs import list_runs, open_run, short_refs

    ref = short_refs([r.id for r in list_runs(s.runs_dir)]).get(record.id, record.id)
    for line in headline(record, ref, macro_f1_interval(open_run(s.runs_dir, record.id))):
        out.print(line)
    if full:
        out.print(metrics_table(record))
        out.print(confusion_table(record))
    else:
        out.print(f"[dim]per class, confusion matrix, latency, cost: --full, or smishctl runs show {ref}[/dim]")
    if results:
        from smishctl.report.terminal import print_must_pass

        print_must_pass(out, results)


def _announce(plan) -> None:
    console.print(f"must-pass: evaluating {plan.record.model_name} · {plan.record.prompt_id} on "
                  f"{len(plan.items)} messages of {plan.record.dataset_name} (run {plan.run.id})")


def _print_langfuse(record: RunRecord) -> None:
    """What became of the run in Langfuse: its experiment link, or one warning line."""
    status = record.langfuse
    run_id = record.id
    if status.get("status") == "pending":
        console.print(f"[yellow]warning:[/yellow] Langfuse did not take run {run_id} ({plain(status.get('error'))}); "
                      f"kept locally, send it later with: smishctl push {run_id}", soft_wrap=True)
    elif status.get("status") == "pushed":
        console.print(f"Langfuse experiment: {status.get('url') or status.get('host')}", soft_wrap=True)


def _run_with_progress(s, cfg, resume, *, langfuse: bool):
    from smishctl.cli.common import item_progress
    from smishctl.ops.evaluate import evaluate as run_eval
    from smishctl.ops.hooks import default_hooks

    progress = item_progress()  # the one progress line: count, elapsed, ETA, fitting 80 columns
    state: dict[str, Any] = {"task": None, "ok": 0, "bad": 0, "err": 0}

    def on_start(plan):
        # damaged rows are dropped and asked again by the resume itself, not refused here
        done = len(plan.run.predictions(allow_damaged=True)) if plan.run.predictions_path.exists() else 0
        console.print(f"run {plan.run.id}: {len(plan.items)} items of {plan.record.dataset_name}/"
                      f"{plan.record.split}, model {plan.record.model_name}, prompt {plan.record.prompt_id}")
        state["task"] = progress.add_task("evaluating", total=len(plan.items), completed=done,
                                          info=plain(plan.record.model_name))

    def on_item(row):
        key = {"ok": "ok", "invalid": "bad", "error": "err"}[row["status"]]
        state[key] += 1
        progress.update(state["task"], advance=1,
                        info=f"invalid {state['bad']} errors {state['err']}")

    from smishctl.util import interrupt

    interrupt.install()
    with progress:
        return run_eval(s, cfg, resume=resume, on_start=on_start, on_item=on_item,
                        hooks=default_hooks(s, enabled=langfuse), on_warning=warn)
