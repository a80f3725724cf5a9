"""Put runs side by side: rows, paired statistics against the baseline, gates and the exit code."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from smishctl.core.comparison import (
    CheckResult,
    ComparedRun,
    Comparison,
    DatasetInfo,
    Disagreements,
    GateResult,
    MetricRow,
    MustPassResult,
    PairedStats,
)
from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.records import Prediction, RunRecord
from smishctl.data.golden import load_golden
from smishctl.data.label_map import parse_label_map
from smishctl.data.prepare import check_split_policy
from smishctl.ops.compare_sources import production_run, runs_from_models
from smishctl.ops.evaluate import EvalPlan
from smishctl.ops.hooks import RunHooks, Warn, default_hooks, notify
from smishctl.ops.items import disagreements
from smishctl.ops.must_pass import check_record
from smishctl.ops.pairing import RunData, check_comparable, common_items, load_run, metrics_on, paired_codes
from smishctl.ops.run_source import RunSource
from smishctl.score.evidence import verified_metrics
from smishctl.score.gates import DEFAULT_MAX_ERROR_RATE, Gate, NoRegressionGate, bound, check_gate, parse_gate
from smishctl.score.must_pass import summary_line
from smishctl.score.rows import build_rows, is_cached
from smishctl.score.stats import SIGNIFICANCE, bootstrap_macro_f1_diff, discordant, mcnemar_exact, significantly_worse
from smishctl.tracking.push import experiment_link

EXIT_PASS, EXIT_GATE, EXIT_USAGE, EXIT_ERRORS = 0, 1, 2, 3
# must_pass(run) -> the results of each must-pass set on that run's model and prompt (ops.must_pass)
MustPassCheck = Callable[[RunData], list[dict[str, Any]]]
DIFF_LIMIT = 50  # items the runs disagree on that a comparison keeps (reports stay readable and bounded)


def error_budget(settings: Settings) -> float:
    """[compare] max_error_rate of smishctl.toml (default DEFAULT_MAX_ERROR_RATE; its range is checked
    when the file is loaded): the largest share of errored items a compared run may have."""
    return float(settings.section("compare").get("max_error_rate", DEFAULT_MAX_ERROR_RATE))


@dataclass
class CompareOptions:
    gates: list[str] = field(default_factory=list)
    max_error_rate: float | None = None  # a requested check (--max-error-rate); None: `error_budget` alone
    error_budget: float = DEFAULT_MAX_ERROR_RATE  # always enforced ([compare] max_error_rate of the project)
    no_regression: bool = False
    n_boot: int = 2000
    seed: int = 0
    strict_items: bool = False  # refuse (exit 2) instead of warning when runs cover different items
    diff_limit: int = DIFF_LIMIT


def paired_stats(base: RunData, cand: RunData, labels: tuple[str, ...], *, n_boot: int = 2000,
                 seed: int = 0) -> dict[str, Any]:
    codes = paired_codes(base, cand, labels)
    gold, pb, pc, k = codes["gold"], codes["base"], codes["cand"], codes["k"]
    b, c = discordant(pb == gold, pc == gold)
    p = mcnemar_exact(b, c)
    boot = bootstrap_macro_f1_diff(gold, pb, pc, k, n_boot=n_boot, seed=seed)
    return {
        "run": cand.id, "baseline": base.id, "n_paired": len(gold),
        "baseline_only_correct": b, "candidate_only_correct": c, "mcnemar_p": p,
        "macro_f1_diff": boot["diff"], "ci_low": boot["low"], "ci_high": boot["high"],
        "confidence": boot["confidence"], "n_boot": boot["n_boot"], "seed": seed,
        "significant": p < SIGNIFICANCE, "significantly_worse": significantly_worse(p, boot["diff"]),
    }


def diff_items(runs: list[RunData], common: list[str], *, limit: int = DIFF_LIMIT) -> Disagreements:
    """The common items the runs answer differently (answers in the order of `runs`), at most `limit`."""
    paired = [[Prediction.from_dict(r.by_item[i], where=f"run {r.id} item {i}") for r in runs] for i in common]
    return Disagreements.from_dict(disagreements(paired, limit=limit))


def report_new_runs(settings: Settings, runs: list[RunData], *, hooks: RunHooks | None = None,
                    on_warning: Warn | None = None) -> list[RunData]:
    """Tell the hooks (default: default_hooks) about the runs without an entry of theirs: those the
    comparison just evaluated (its sources evaluate without hooks, so that reused runs are not
    reported twice). Returns the runs reported; what the hooks returned is in their records."""
    hooks = default_hooks(settings) if hooks is None else hooks
    name = getattr(hooks, "name", None)
    reported = []
    for run in runs:
        record = run.record.to_dict()  # the hooks take and extend the stored form
        if name and record.get(name):
            continue
        notify(hooks, "run_finished", record, into=record, on_warning=on_warning)
        run.record = RunRecord.from_dict(record, where=f"run {run.id}")
        reported.append(run)
    return reported


def parse_gates(texts: list[str], labels: tuple[str, ...] | None) -> list[Gate]:
    return [parse_gate(t, labels) for t in texts]


def assign_roles(runs: list[RunData], baseline_index: int | None) -> int | None:
    """Mark the baseline, the candidates and the references (shown, never gated); the baseline's index,
    None when there is none (one run, or no baseline asked for)."""
    if baseline_index is None or len(runs) < 2:
        for r in runs:
            r.role = "reference" if r.role == "reference" else "candidate"
        return None
    for i, r in enumerate(runs):
        r.role = "baseline" if i == baseline_index else ("reference" if r.role == "reference" else "candidate")
    return baseline_index


@dataclass
class Judged:
    """What the checks of a comparison found, in the order they ran: gates, must-pass sets, the error
    budget, no regression. `failures` holds (kind, message); an error-budget failure means exit 3."""
    gates: list[GateResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    must_pass: list[MustPassResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    over_budget: set[int] = field(default_factory=set)  # indices of runs over the error budget

    @property
    def exit_code(self) -> int:
        kinds = {kind for kind, _ in self.failures}
        return EXIT_ERRORS if "errors" in kinds else EXIT_GATE if kinds else EXIT_PASS

    def check_gates(self, candidates: list[RunData], gates: list[Gate], compared: dict[str, dict[str, Any]]) -> None:
        for r in candidates:
            for g in gates:
                res = GateResult(run=r.id, run_name=r.name, **check_gate(g, compared[r.id]))
                self.gates.append(res)
                if not res.passed:
                    self.failures.append(("gate", f"{r.id}: {res.message}"))

    def check_must_pass(self, candidates: list[RunData], must_pass: MustPassCheck) -> None:
        for r in candidates:
            for res in map(MustPassResult.of, must_pass(r)):
                self.must_pass.append(res)
                if not res.passed:
                    self.failures.append(("must_pass", f"{r.id}: {summary_line(res)}"))

    def check_error_budget(self, runs: list[RunData], compared: dict[str, dict[str, Any]], max_error_rate: float, *,
                           listed: bool) -> None:
        """Errors are evidence: a run above the error budget fails the comparison (exit 3) and is never
        ranked. The budget is listed among the checks when it was asked for (`listed`) or when a run
        exceeds it (a comparison that passed only the default budget has no gate to call a pass)."""
        error_gate = bound("max_error_rate", "error_rate", "<=", max_error_rate)
        for i, r in enumerate(runs):
            res = check_gate(error_gate, compared[r.id])
            rate, ok = res["value"], res["passed"]
            if listed or not ok:
                self.checks.append(CheckResult(check=error_gate.text, run=r.id, value=rate, passed=ok))
            if not ok:
                self.over_budget.add(i)
                self.failures.append(("errors", f"{r.id}: error_rate={rate:.4g} exceeds max_error_rate "
                                                f"{max_error_rate:g} ({compared[r.id].get('n_errors', 0)} errors)"))

    def check_no_regression(self, runs: list[RunData], stats: list[PairedStats], compared: dict[str, dict[str, Any]]) -> None:
        """Each candidate not significantly worse than the baseline (references are not checked)."""
        gate = NoRegressionGate()
        roles = {r.id: r.role for r in runs}
        for st in stats:
            if roles[st.run] != "candidate":
                continue
            res = check_gate(gate, compared[st.run], paired=asdict(st))
            self.checks.append(CheckResult(check=gate.text, run=st.run, value=res["value"], passed=res["passed"]))
            if not res["passed"]:
                self.failures.append(("regression", f"{st.run}: no_regression failed: {res['message']}"))


def compare_runs(runs: list[RunData], *, baseline_index: int | None = 0,
                 options: CompareOptions | None = None, must_pass: MustPassCheck | None = None) -> Comparison:
    """The whole comparison (`to_dict()`: the smishctl.compare/1 document), including `exit_code`. Each run's
    `metrics` are those of the common items (`n_common_items`); `n_items` is how many items it has.

    `must_pass(run) -> [result]` (smishctl.ops.must_pass) checks every candidate; any miss fails (exit 1)."""
    opts = options or CompareOptions()
    max_error_rate = opts.error_budget if opts.max_error_rate is None else opts.max_error_rate
    if not 0 <= max_error_rate <= 1:  # (also refuses NaN)
        raise ConfigError(f"--max-error-rate must be between 0 and 1, got {max_error_rate}")
    if opts.no_regression and (baseline_index is None or len(runs) < 2):
        raise ConfigError("--no-regression needs a baseline and at least one other run",
                          hint="pass --baseline RUN|production, or two runs (the first is the baseline)")
    warnings = check_comparable(runs)
    if opts.strict_items and any("different items" in w for w in warnings):
        raise ConfigError(next(w for w in warnings if "different items" in w),
                          hint="evaluate every run on the same items, or drop --strict-items")
    labels = runs[0].labels  # the one label order of the comparison (other runs may list them otherwise)
    for r in runs:  # a run.json that its rows contradict is refused, whatever the items compared
        verified_metrics(r.record, r.rows)
    common = common_items(runs)
    # Every figure of the comparison (table, gates, reports) is measured on the items all runs share, as
    # the paired statistics are: a run's own metrics may cover items the others never saw.
    compared = {r.id: metrics_on(r, common, labels) for r in runs}
    gates = parse_gates(opts.gates, labels)
    baseline_index = assign_roles(runs, baseline_index)
    base = runs[baseline_index] if baseline_index is not None else None
    stats = [PairedStats(**paired_stats(base, r, labels, n_boot=opts.n_boot, seed=opts.seed))
             for r in runs if base is not None and r is not base]
    candidates = [r for r in runs if r.role == "candidate"] or [r for r in runs if r.role != "reference"]
    v = Judged()
    v.check_gates(candidates, gates, compared)
    if must_pass is not None:
        v.check_must_pass(candidates, must_pass)
    v.check_error_budget(runs, compared, max_error_rate, listed=opts.max_error_rate is not None)
    if opts.no_regression:
        v.check_no_regression(runs, stats, compared)
    code = v.exit_code
    return Comparison(
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        dataset=DatasetInfo(name=runs[0].record.dataset_name, split=runs[0].record.split, labels=list(labels)),
        baseline=base.id if base else None,
        n_common_items=len(common),
        runs=[compared_run(r, compared[r.id], over_budget=i in v.over_budget) for i, r in enumerate(runs)],
        rows=[MetricRow(**row) for row in
              build_rows([compared[r.id] for r in runs], labels, baseline_index, frozenset(v.over_budget))],
        stats=stats,
        diff=diff_items(runs, common, limit=opts.diff_limit),
        gates=v.gates, checks=v.checks, must_pass=v.must_pass, warnings=warnings,
        failures=[message for _, message in v.failures],
        passed=code == EXIT_PASS,
        exit_code=code,
    )


def compared_run(r: RunData, metrics: dict[str, Any], *, over_budget: bool) -> ComparedRun:
    """A run's column: what it is, and its metrics on the common items."""
    rec = r.record
    return ComparedRun(id=r.id, name=r.name, role=r.role, status=rec.status, model=rec.model_name,
                       prompt=rec.prompt_id, config_hash=rec.config_hash, items_hash=rec.items_hash,
                       n_items=len(r.rows), metrics=metrics, cached=is_cached(metrics),
                       over_error_budget=over_budget)


@dataclass
class CompareRequest:
    """What `smishctl compare` was asked: runs by reference and/or models to evaluate, and the checks."""
    runs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # evaluated (or reused) on the same items first
    prompt: str | None = None  # with models: the one prompt every model uses
    prompts: list[str] = field(default_factory=list)  # with models: every model x prompt
    dataset: str | None = None
    split: str = "test"
    evaluation_only: bool = False
    train_dataset: str | None = None
    limit: int | None = None
    balanced: bool = False
    threads: int = 1
    include_classic: bool = True
    split_policy: str | None = None
    label_map: str | None = None  # FROM=TO,... read by smishctl.data.label_map
    baseline: str | None = None  # a run reference or "production"
    must_pass: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    max_error_rate: float | None = None
    no_regression: bool = False
    strict_items: bool = False
    n_boot: int = 2000
    seed: int = 0
    langfuse: bool = True  # report the runs this comparison evaluates to the hooks


@dataclass
class CompareEvents:
    """What the door tells its caller while it works (each may be None)."""
    on_start: Callable[[EvalPlan], None] | None = None  # an evaluation starts: its plan
    on_reuse: Callable[[dict[str, Any]], None] | None = None  # an identical run is reused: its record
    on_warning: Warn | None = None  # one line: a hook that failed, a run Langfuse did not take


def _data_options(req: CompareRequest) -> dict[str, Any]:
    """The options of the evaluations `--models` starts; every refusal before any work is done."""
    parse_gates(req.gates, None)  # malformed gates fail before any evaluation runs
    if req.n_boot < 100:
        raise ConfigError(f"--bootstrap must be at least 100, got {req.n_boot}")
    if req.prompt and req.prompts:
        raise ConfigError("use --prompt or --prompts, not both")
    options: dict[str, Any] = {} if req.split_policy is None else {"split": {"policy": check_split_policy(req.split_policy)}}
    if req.split_policy and not req.models:
        raise ConfigError("--split-policy needs --models", hint="runs passed by id keep their own split")
    if req.label_map:
        if not req.models:
            raise ConfigError("--label-map needs --models", hint="runs passed by id keep the labels they were scored on")
        options["label_map"] = parse_label_map(req.label_map)
    if (req.prompt or req.prompts) and not req.models:
        raise ConfigError("--prompt/--prompts need --models", hint="or pass run ids")
    return options


def _with_baseline(source: RunSource, req: CompareRequest, data: list[RunData],
                   events: CompareEvents) -> tuple[list[RunData], int | None]:
    """The runs with the baseline among them (first when it was not), and its index (None: no baseline)."""
    index: int | None = 0 if len(data) > 1 else None
    if not req.baseline:
        return data, index
    if req.baseline == "production":
        base = production_run(source.settings, data[0] if data else None, on_start=events.on_start,
                              on_reuse=events.on_reuse, source=source)
    else:
        base = load_run(source.settings.runs_dir, req.baseline)
    ids = [d.id for d in data]
    if base.id in ids:
        return data, ids.index(base.id)
    return [base, *data], 0


def _evaluated(source: RunSource, req: CompareRequest, data_options: dict[str, Any], events: CompareEvents) -> list[RunData]:
    """The runs of `--models`: every model x prompt evaluated on the same items, identical runs reused."""
    if not req.models:
        return []
    return runs_from_models(source.settings, req.models, req.prompts or ([req.prompt] if req.prompt else []),
                            dataset=req.dataset, split=req.split, limit=req.limit, balanced=req.balanced,
                            threads=req.threads, include_classic=req.include_classic, data_options=data_options,
                            on_start=events.on_start, on_reuse=events.on_reuse,
                            evaluation_only=req.evaluation_only, train_dataset=req.train_dataset, source=source)


def compare(settings: Settings, req: CompareRequest, events: CompareEvents | None = None) -> Comparison:
    """The compare door: gather the runs (named, then `--models` evaluated, then the baseline), tell the
    hooks about new ones, check the must-pass sets on every candidate and compare.
    `langfuse_links` holds (run name, URL) of each run pushed to Langfuse."""
    events = events or CompareEvents()
    data_options = _data_options(req)  # every refusal of the request comes before any work
    named = [load_run(settings.runs_dir, ref) for ref in req.runs]
    golden_sets = [load_golden(settings, ref) for ref in req.must_pass]  # bad names fail before any call
    source = RunSource(settings)  # one per command: each dataset loaded, the run store listed, once
    data, baseline_index = _with_baseline(source, req, named + _evaluated(source, req, data_options, events), events)
    if not data:
        raise ConfigError("nothing to compare", hint="pass run ids (see smishctl runs list) or --models a,b")
    options = CompareOptions(gates=list(req.gates), max_error_rate=req.max_error_rate,
                             error_budget=error_budget(settings), no_regression=req.no_regression,
                             n_boot=req.n_boot, seed=req.seed, strict_items=req.strict_items)
    hooks = default_hooks(settings, enabled=req.langfuse)
    for d in report_new_runs(settings, data, hooks=hooks, on_warning=events.on_warning):
        if d.record.langfuse.get("status") == "pending" and events.on_warning:
            events.on_warning(f"Langfuse did not take run {d.id}; send it later with: smishctl push {d.id}")

    def check(run: RunData) -> list[dict[str, Any]]:
        return [check_record(settings, run.record, g, on_start=events.on_start, source=source) for g in golden_sets]

    cmp = compare_runs(data, baseline_index=baseline_index, options=options, must_pass=check if golden_sets else None)
    cmp.langfuse_links = [(d.name, link) for d in data if (link := experiment_link(d.record))]
    return cmp
