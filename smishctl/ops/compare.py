"""Put runs side by side: rows, paired statistics against the baseline, gates and the exit code."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from smishctl.core.errors import ConfigError
from smishctl.core.records import Prediction, RunRecord
from smishctl.ops.hooks import RunHooks, Warn, default_hooks, notify
from smishctl.ops.items import disagreements
from smishctl.ops.pairing import RunData, check_comparable, common_items, metrics_on, paired_codes
from smishctl.score.evidence import verified_metrics
from smishctl.score.gates import DEFAULT_MAX_ERROR_RATE, Gate, NoRegressionGate, bound, check_gate, parse_gate
from smishctl.score.must_pass import summary_line
from smishctl.score.rows import build_rows, is_cached
from smishctl.score.stats import SIGNIFICANCE, bootstrap_macro_f1_diff, discordant, mcnemar_exact, significantly_worse

EXIT_PASS, EXIT_GATE, EXIT_USAGE, EXIT_ERRORS = 0, 1, 2, 3
SCHEMA = "smishctl.compare/1"
DIFF_LIMIT = 50  # items the runs disagree on that a comparison keeps (reports stay readable and bounded)


def error_budget(settings) -> float:
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
                 seed: int = 0) -> dict:
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


def diff_items(runs: list[RunData], common: list[str], *, limit: int = DIFF_LIMIT) -> dict:
    """The common items the runs answer differently: {n, items: [{item_id, gold, text, answers, correct}]
    (answers in the order of `runs`), left_out}."""
    paired = [[Prediction.from_dict(r.by_item[i], where=f"run {r.id} item {i}") for r in runs] for i in common]
    return disagreements(paired, limit=limit)


def report_new_runs(settings, runs: list[RunData], *, hooks: RunHooks | None = None, on_warning: Warn | None = None) -> list[RunData]:
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


def compare_runs(runs: list[RunData], *, baseline_index: int | None = 0,
                 options: CompareOptions | None = None, must_pass=None) -> dict:
    """The whole comparison as one JSON-serialisable document, including `exit_code`. Each run's
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
    if baseline_index is not None and len(runs) > 1:
        for i, r in enumerate(runs):
            r.role = "baseline" if i == baseline_index else ("reference" if r.role == "reference" else "candidate")
    else:
        baseline_index = None
        for r in runs:
            r.role = "reference" if r.role == "reference" else "candidate"
    base = runs[baseline_index] if baseline_index is not None else None
    stats = [paired_stats(base, r, labels, n_boot=opts.n_boot, seed=opts.seed)
             for r in runs if base is not None and r is not base]

    failures: list[dict] = []
    gate_results: list[dict] = []
    checks: list[dict] = []
    candidates = [r for r in runs if r.role == "candidate"] or [r for r in runs if r.role != "reference"]
    for r in candidates:
        for g in gates:
            res = {"run": r.id, "run_name": r.name, **check_gate(g, compared[r.id])}
            gate_results.append(res)
            if not res["passed"]:
                failures.append({"kind": "gate", "run": r.id, "message": f"{r.id}: {res['message']}"})
    must_pass_results: list[dict] = []
    for r in candidates if must_pass is not None else []:
        for res in must_pass(r):
            must_pass_results.append(res)
            if not res["passed"]:
                failures.append({"kind": "must_pass", "run": r.id, "message": f"{r.id}: {summary_line(res)}"})
    # Errors are evidence: a run above the error budget fails the comparison (exit 3) and is never ranked.
    # The budget is listed among the checks when it was asked for or when a run exceeds it (a comparison
    # that passed only the default budget has no gate to call a pass).
    error_gate = bound("max_error_rate", "error_rate", "<=", max_error_rate)
    over_budget: set[int] = set()
    for i, r in enumerate(runs):
        res = check_gate(error_gate, compared[r.id])
        rate, ok = res["value"], res["passed"]
        if opts.max_error_rate is not None or not ok:
            checks.append({"check": error_gate.text, "run": r.id, "value": rate, "passed": ok})
        if not ok:
            over_budget.add(i)
            failures.append({"kind": "errors", "run": r.id,
                             "message": f"{r.id}: error_rate={rate:.4g} exceeds max_error_rate "
                                        f"{max_error_rate:g} ({compared[r.id].get('n_errors', 0)} errors)"})
    if opts.no_regression:
        no_regression = NoRegressionGate()
        for s in stats:
            cand = next(r for r in runs if r.id == s["run"])
            if cand.role != "candidate":
                continue
            res = check_gate(no_regression, compared[cand.id], paired=s)
            checks.append({"check": no_regression.text, "run": s["run"], "value": res["value"],
                           "passed": res["passed"]})
            if not res["passed"]:
                failures.append({"kind": "regression", "run": s["run"],
                                 "message": f"{s['run']}: no_regression failed: {res['message']}"})
    if any(f["kind"] == "errors" for f in failures):
        code = EXIT_ERRORS
    elif failures:
        code = EXIT_GATE
    else:
        code = EXIT_PASS
    return {
        "schema": SCHEMA,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": {"name": runs[0].dataset.get("name"), "split": runs[0].dataset.get("split"),
                    "labels": list(labels)},
        "baseline": base.id if base else None,
        "n_common_items": len(common),
        "runs": [{
            "id": r.id, "name": r.name, "role": r.role, "status": r.record.status,
            "model": r.record.model_name, "prompt": r.record.prompt_id,
            "config_hash": r.record.config_hash, "items_hash": r.record.items_hash,
            "n_items": len(r.rows), "metrics": compared[r.id], "cached": is_cached(compared[r.id]),
            "over_error_budget": i in over_budget,
        } for i, r in enumerate(runs)],
        "rows": build_rows([compared[r.id] for r in runs], labels, baseline_index, frozenset(over_budget)),
        "stats": stats,
        "diff": diff_items(runs, common, limit=opts.diff_limit),
        "gates": gate_results,
        "checks": checks,
        "must_pass": must_pass_results,
        "warnings": warnings,
        "failures": [f["message"] for f in failures],
        "passed": code == EXIT_PASS,
        "exit_code": code,
    }
