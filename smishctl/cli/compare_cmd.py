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
    out,
    plain,
    print_json,
    settings,
    split_policy_options,
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
        from smishctl.core.errors import ConfigError
        from smishctl.ops.compare import CompareOptions, compare_runs, error_budget, parse_gates
        from smishctl.ops.compare_sources import production_run, runs_from_models, split_list
        from smishctl.ops.pairing import load_run

        gates = list(gate or [])
        parse_gates(gates, None)  # malformed gates fail before any evaluation runs
        if bootstrap < 100:
            raise ConfigError(f"--bootstrap must be at least 100, got {bootstrap}")
        if prompt and prompts:
            raise ConfigError("use --prompt or --prompts, not both")
        data_options = split_policy_options(split_policy)
        if split_policy and not models:
            raise ConfigError("--split-policy needs --models", hint="runs passed by id keep their own split")
        if label_map:
            if not models:
                raise ConfigError("--label-map needs --models", hint="runs passed by id keep the labels they were scored on")
            from smishctl.data.label_map import parse_label_map

            data_options["label_map"] = parse_label_map(label_map)
        if (prompt or prompts) and not models:
            raise ConfigError("--prompt/--prompts need --models", hint="or pass run ids")
        s = settings()
        data = [load_run(s.runs_dir, ref) for ref in runs or []]

        def on_start(plan):
            console.print(f"evaluating {plan.record.model_name} · {plan.record.prompt_id} on "
                          f"{len(plan.items)} items (run {plan.run.id})")

        def on_reuse(record):
            console.print(f"reusing run {record['id']} (same configuration)")

        golden_sets = []
        if must_pass:
            from smishctl.data.golden import load_golden

            golden_sets = [load_golden(s, ref) for ref in must_pass]  # bad names fail before any call
        if models:
            data += runs_from_models(s, split_list(models), split_list(prompts or prompt), dataset=dataset,
                                     split=split, limit=limit, balanced=balanced, threads=threads,
                                     include_classic=not no_classic, data_options=data_options,
                                     on_start=on_start, on_reuse=on_reuse,
                                     evaluation_only=evaluation_only, train_dataset=train_dataset)
        baseline_index: int | None = 0 if len(data) > 1 else None
        if baseline:
            if baseline == "production":
                base = production_run(s, data[0] if data else None, on_start=on_start, on_reuse=on_reuse)
            else:
                base = load_run(s.runs_dir, baseline)
            ids = [d.id for d in data]
            if base.id in ids:
                baseline_index = ids.index(base.id)
            else:
                data.insert(0, base)
                baseline_index = 0
        if not data:
            raise ConfigError("nothing to compare", hint="pass run ids (see smishctl runs list) or --models a,b")
        options = CompareOptions(gates=gates, max_error_rate=max_error_rate, error_budget=error_budget(s),
                                 no_regression=no_regression,
                                 n_boot=bootstrap, seed=seed, strict_items=strict_items)
        _report_new_runs(s, data, enabled=not no_langfuse)
        check = None
        if golden_sets:
            from smishctl.ops.must_pass import check_record

            def check(run):
                return [check_record(s, run.record, g, on_start=on_start) for g in golden_sets]

        cmp = compare_runs(data, baseline_index=baseline_index, options=options, must_pass=check)
        _write_files(cmp, markdown=markdown, junit=junit, html=html, json_file=json_file)
        refs = {} if wide or as_json else _short_refs(s.runs_dir, cmp)
        if as_json:
            print_json(cmp)
        else:
            from smishctl.report.verdict import headline

            for line in headline(cmp, refs):  # the answer first, then the evidence
                out.print(plain(line))
            _print_tables(cmp, refs, wide=wide)
            if diff:
                _print_diff(cmp, refs, wide=wide)
            from smishctl.report.terminal import print_must_pass

            print_must_pass(out, cmp["must_pass"])
        _print_langfuse_links(data)
        for w in cmp["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {plain(_with_refs(w, refs))}", soft_wrap=True)
        for f in cmp["failures"]:
            console.print(f"[red]FAIL[/red] {plain(_with_refs(f, refs))}", soft_wrap=True)
        if cmp["gates"] or cmp["checks"] or cmp["must_pass"]:
            n = len(cmp["gates"]) + len(cmp["checks"]) + len(cmp["must_pass"])
            console.print(f"{'[green]gates passed[/green]' if cmp['passed'] else '[red]gates failed[/red]'}: "
                          f"{n - len(cmp['failures'])}/{n}")
        if cmp["exit_code"]:
            raise typer.Exit(cmp["exit_code"])


def _short_refs(runs_dir: Path, cmp: dict) -> dict[str, str]:
    """Each run's short reference from `runs list` (a letter for a run read from elsewhere)."""
    from smishctl.report.refs import run_refs
    from smishctl.store.runs import list_runs, short_refs

    return run_refs(cmp, short_refs([r.id for r in list_runs(runs_dir)]))


def _with_refs(text: str, refs: dict[str, str]) -> str:
    """Run ids in a message replaced by the short references the table shows."""
    for run_id in sorted(refs, key=len, reverse=True):
        text = text.replace(run_id, refs[run_id])
    return text


def _print_tables(cmp: dict, refs: dict[str, str], *, wide: bool) -> None:
    """Columns headed by short run references (whole run ids with --wide)."""
    from smishctl.cli.common import InertConsole
    from smishctl.report.terminal import comparison_table, legend, stats_table

    tables = [t for t in (comparison_table(cmp, refs), legend(cmp, refs), stats_table(cmp, refs)) if t is not None]
    console_ = out
    if wide:
        need = max(t.__rich_measure__(out, out.options.update_width(100_000)).maximum for t in tables)
        if need > out.width:
            console_ = InertConsole(width=need, file=out.file, highlight=False, force_terminal=out.is_terminal)
    for t in tables:
        console_.print(t)


def _print_diff(cmp: dict, refs: dict[str, str], *, wide: bool) -> None:
    """The items the runs answer differently: id, gold, one column per run (its reference), the text."""
    from rich.markup import escape

    from smishctl.cli.tables import Column, fit_table, print_fitted

    d = cmp["diff"]
    if not d["items"]:
        out.print(f"the runs answer all {cmp['n_common_items']} common items alike")
        return
    columns = ([Column("item", wide_only=not wide and _ids_crowd_text(cmp, refs)), Column("gold")]
               + [Column(refs.get(r["id"], r["id"])) for r in cmp["runs"]] + [Column("text", shorten=True)])
    rows = [[escape(it["item_id"]), escape(it["gold"])]
            + [escape(a) if ok else f"[red]{escape(a)}[/red]" for a, ok in zip(it["answers"], it["correct"], strict=True)]
            + [it["text"] or ""] for it in d["items"]]
    title = f"{d['n']} of {cmp['n_common_items']} common items answered differently"
    print_fitted(out, fit_table(out, columns, rows, wide=wide, title=title))
    if columns[0].wide_only:
        out.print("item ids: --wide or --json")
    if d["left_out"]:
        out.print(f"{d['left_out']} more not listed (the first {len(d['items'])} are)")


DIFF_TEXT_MIN = 40  # below this the item ids give their room to the messages (they stay in --wide / --json)


def _ids_crowd_text(cmp: dict, refs: dict[str, str]) -> bool:
    """Whether, with the item column, the text of --diff would get fewer than DIFF_TEXT_MIN characters."""
    items = cmp["diff"]["items"]
    widths = [max(len(it["item_id"]) for it in items), max(len("gold"), *(len(it["gold"]) for it in items))]
    for k, r in enumerate(cmp["runs"]):
        widths.append(max(len(refs.get(r["id"], r["id"])), *(len(it["answers"][k]) for it in items)))
    used = sum(widths) + 2 * (len(widths) + 1)  # the table's padding: two spaces a column
    return out.width - used < DIFF_TEXT_MIN


def _report_new_runs(s, data, *, enabled: bool) -> None:
    """The runs this command just evaluated go to the hooks (Langfuse); one warning line per run it did not take."""
    from smishctl.ops.compare import report_new_runs
    from smishctl.ops.hooks import default_hooks

    for d in report_new_runs(s, data, hooks=default_hooks(s, enabled=enabled), on_warning=warn):
        if d.record.langfuse.get("status") == "pending":
            console.print(f"[yellow]warning:[/yellow] Langfuse did not take run {d.id}; "
                          f"send it later with: smishctl push {d.id}", soft_wrap=True)


def _print_langfuse_links(data) -> None:
    from smishctl.tracking import experiment_link

    for d in data:
        link = experiment_link(d.record)
        if link:
            console.print(f"Langfuse: {d.name} — {link}", soft_wrap=True)


def _write_files(cmp: dict, *, markdown, junit, html, json_file) -> None:
    import json

    from smishctl.util.fs import atomic_write_text

    def write(path, text: str) -> None:
        atomic_write_text(path, text)
        console.print(f"wrote {path}", soft_wrap=True, markup=False)  # stderr: stdout stays the report or JSON

    if markdown:
        from smishctl.report.markdown import render_markdown

        write(markdown, render_markdown(cmp))
    if junit:
        from smishctl.report.junit import render_junit

        write(junit, render_junit(cmp))
    if html:
        from smishctl.report.html import render_html

        write(html, render_html(cmp))
    if json_file:
        write(json_file, json.dumps(cmp, indent=2, ensure_ascii=False, default=str) + "\n")
