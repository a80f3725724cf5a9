"""`optimize`: compile a prompt with a DSPy optimizer and store it as a new artifact version.

The door, `optimize`, runs named steps that can each be run alone (tests/test_optimize_steps.py):
plan_optimize (options and data, before any model call) -> build_models -> score_baseline -> search (the
strategy, solve/optimizers.py) -> decide (calibration and threshold on dev) -> program_files -> summarise ->
save_optimized. It returns an `OptimizeResult` (ops/optimize_result.py)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, Interrupted
from smishctl.data.feedback import training_feedback
from smishctl.data.prepare import Example, PreparedDataset, SplitOptions, content_hash, load_dataset_splits, sample
from smishctl.models.lm import build_lm
from smishctl.models.meter import BudgetExhausted, Meter
from smishctl.models.registry import ModelSpec, resolve_model
from smishctl.ops.evaluate import library_versions
from smishctl.ops.hooks import RunHooks, default_hooks, notify, safe_call
from smishctl.ops.optimize_card import optimize_card
from smishctl.ops.optimize_result import DevFigures, OptimizeResult, OptimizeSummary, SearchSummary, Spend
from smishctl.ops.prompts_new import StartingPrompt, starting_prompt
from smishctl.score.metrics import compute_metrics
from smishctl.solve.adapters import DEFAULT_ADAPTER, AdapterConfig
from smishctl.solve.build import build_solver
from smishctl.solve.calibration import redecide
from smishctl.solve.decide import (
    CALIBRATE_CHOICES,
    DevDecision,
    bias_before_prior,
    decide_on_dev,
    parse_recall_target,
)
from smishctl.solve.loop import solve_items
from smishctl.solve.optimizers import (
    DEFAULT_OPTIMIZER,
    Candidate,
    OptimizeContext,
    OptimizerSpec,
    knn_grid,
    resolve_params,
)
from smishctl.solve.signature import DEFAULT_INSTRUCTIONS, KNN_INSTRUCTIONS, make_program
from smishctl.solve.trial_scores import Trial, TrialRecorder
from smishctl.store.artifacts import save_artifact
from smishctl.store.programs import render_messages
from smishctl.util.git import git_commit


@dataclass
class OptimizeConfig:
    model: str | None = None
    optimizer: str | None = None
    teacher: str | None = None
    dataset: str | None = None
    train_size: int | None = None  # default: the optimizer's own (all of train for knn)
    dev_size: int = 45
    seed: int = 13
    threads: int = 1
    max_calls: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    langfuse: bool = True
    adapter: str | None = None  # score (default) | chat | json
    calibrate: str = "auto"  # auto: keep a per-label bias only when it wins under cross-validation on dev
    recall_target: str | None = None  # "LABEL=R": a threshold on p(LABEL) chosen on dev to reach recall R
    split_policy: str | None = None  # None: [data] split_policy (smishctl.data.prepare)
    with_feedback: bool = False  # add datasets/feedback/<dataset>.jsonl to the training pool (never dev/test)
    instructions: str | None = None  # a text file whose instructions the search starts from
    start_from: str | None = None  # an artifact whose instructions the search starts from


def _to_dspy(examples: list[Example]) -> list[Any]:
    import dspy

    return [dspy.Example(sms=e.text, label=e.label, item_id=e.id).with_inputs("sms") for e in examples]


def score_rows(solver: Any, examples: list[Example],
               on_item: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """One prediction row per example, through the solver `evaluate` uses."""
    rows: list[dict[str, Any]] = []

    def keep(row: dict[str, Any]) -> None:
        row.pop("text")  # candidates' rows stay in memory during the search; texts are in the dataset
        rows.append(row)
        if on_item:
            on_item(row)

    solve_items(solver, enumerate(examples), keep)
    return rows


@dataclass(frozen=True)
class OptimizePlan:
    """What one optimization works on, checked before any model call (step 1: `plan_optimize`)."""

    optimizer: str
    strategy: OptimizerSpec
    params: dict[str, Any]  # the strategy's parameters, defaults filled in
    adapter: AdapterConfig
    recall_target: tuple[str, float] | None
    dataset: PreparedDataset
    train: list[Example]
    dev: list[Example]
    feedback: dict[str, Any] | None  # what --with-feedback added to train
    start: StartingPrompt | None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.dataset.labels

    @property
    def start_instructions(self) -> str | None:
        return self.start.instructions if self.start else None


def plan_optimize(settings: Settings, cfg: OptimizeConfig) -> OptimizePlan:
    """Check the options, load and sample the data, read the starting instructions."""
    name = cfg.optimizer or DEFAULT_OPTIMIZER
    strategy, params = resolve_params(name, cfg.params)
    adapter = AdapterConfig(name=cfg.adapter or DEFAULT_ADAPTER)
    recall_target = parse_recall_target(cfg.recall_target)
    if cfg.calibrate not in CALIBRATE_CHOICES:
        raise ConfigError(f"--calibrate {cfg.calibrate!r} is not auto, on or off")
    train_size = cfg.train_size or strategy.default_train_size
    if train_size <= 0 or cfg.dev_size <= 0:
        raise ConfigError("--train-size and --dev-size must be positive")
    ds = load_dataset_splits(cfg.dataset, settings, options=SplitOptions(seed=cfg.seed, policy=cfg.split_policy))
    train = sample(ds.split("train"), train_size, balanced=True, seed=cfg.seed)
    dev = sample(ds.split("dev"), cfg.dev_size, balanced=True, seed=cfg.seed)
    feedback = None
    if cfg.with_feedback:  # user reports join the training pool only (smishctl.data.feedback)
        extra, feedback = training_feedback(settings, ds)
        train = train + extra
    needed = max(strategy.min_train, len(ds.labels))
    if len(train) < needed:
        raise ConfigError(f"optimizer {name} needs at least {needed} training messages, got {len(train)}",
                          hint="raise --train-size")
    if recall_target and recall_target[0] not in ds.labels:
        raise ConfigError(f"--recall-target names {recall_target[0]!r}, not a label of {ds.name}",
                          hint=f"use one of: {', '.join(ds.labels)}")
    start = starting_prompt(settings, instructions_file=cfg.instructions, from_artifact=cfg.start_from)
    if strategy.program_kind == "knn":
        if start and "instructions" not in cfg.params:  # kNN searches demos under the given wording
            params["instructions"] = "start"
        knn_grid(params, ds.labels, start.instructions if start else None)  # bad values fail before any call
    return OptimizePlan(name, strategy, params, adapter, recall_target, ds, train, dev, feedback, start)


@dataclass(frozen=True)
class Models:
    """The student (and teacher) LMs, both metered by one Meter (step 2: `build_models`)."""

    spec: ModelSpec
    lm: object  # dspy.LM
    meter: Meter
    teacher_spec: ModelSpec | None = None
    teacher_lm: object | None = None


def build_models(settings: Settings, cfg: OptimizeConfig, on_call: Callable[[Meter], None]) -> Models:
    spec = resolve_model(cfg.model, settings)
    teacher_spec = resolve_model(cfg.teacher, settings) if cfg.teacher else None
    meter = Meter(max_calls=cfg.max_calls, on_call=on_call)
    lm = build_lm(spec, settings, meter=meter)
    teacher_lm = None
    if teacher_spec is not None:
        teacher_lm = build_lm(teacher_spec, settings, meter=meter)
        _check_reachable(teacher_lm, teacher_spec.name)
    return Models(spec, lm, meter, teacher_spec, teacher_lm)


@dataclass
class OptimizeEvents:
    """Where an optimization reports: on_event (progress, warnings) and the hooks (the trials).

    A failing hook is one on_event("warning", message=...) (logged without on_event), once per message:
    a hook failing on every trial is one line."""

    hooks: RunHooks
    on_event: Callable[..., None] | None = None
    optimization_id: str = field(default_factory=lambda: f"optimize-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    warned: set[str] = field(default_factory=set)

    def emit(self, kind: str, **kw: Any) -> None:
        if self.on_event:
            self.on_event(kind, **kw)

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            self.emit("warning", message=message)

    @property
    def on_warning(self) -> Callable[[str], None] | None:
        return self.warn if self.on_event else None

    def tell(self, event: str, *args: Any) -> None:
        safe_call(self.hooks, event, *args, on_warning=self.on_warning)

    def trial(self, trial: dict[str, Any]) -> None:
        self.tell("trial_scored", self.optimization_id, trial)

    def finished(self, manifest: dict[str, Any]) -> None:
        notify(self.hooks, "optimization_finished", self.optimization_id, into=manifest, on_warning=self.on_warning)


@dataclass
class DevScorer:
    """Scores a program on the dev messages exactly as `evaluate` will run it (same solver builder,
    hardened input), so that dev figures carry over. Called as the strategies' `score`."""

    plan: OptimizePlan
    models: Models
    events: OptimizeEvents

    def rows(self, program: Any, adapter: AdapterConfig, phase: str) -> list[dict[str, Any]]:
        self.events.emit("phase", name=phase, total=len(self.plan.dev))
        solver = build_solver(program, self.models.lm, self.models.spec, self.plan.labels, adapter)
        return score_rows(solver, self.plan.dev, on_item=lambda row: self.events.emit("item"))

    def __call__(self, program: Any, adapter: AdapterConfig, note: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rows = self.rows(program, adapter, note)
        return compute_metrics(rows, self.plan.labels), rows


def score_baseline(plan: OptimizePlan, scorer: DevScorer) -> DevFigures:
    """The starting program on dev (the zero-shot instructions, or the given ones), outside the budget."""
    meter = scorer.models.meter
    meter.enforcing = False  # scoring on dev is reporting, not search: outside the budget
    baseline = DevFigures.from_metrics(compute_metrics(
        scorer.rows(make_program(plan.labels, plan.start_instructions), plan.adapter, "baseline"), plan.labels))
    meter.enforcing = True
    scorer.events.trial({"trial": 0, "score": baseline.accuracy, "candidate": {"optimizer": "zero-shot"},
                         "metrics": {"macro_f1": baseline.macro_f1}, "model": scorer.models.spec.name})
    return baseline


@dataclass
class SearchOutcome:
    """What the strategy returned (step 3: `search`), with its dev rows and what the search spent."""

    program: Any  # a DSPy module (a KNNClassifier for knn)
    adapter: AdapterConfig
    rows: list[dict[str, Any]]
    trials: TrialRecorder
    candidates: list[Candidate]
    seconds: float
    calls: int  # LM calls of the search alone, without the dev scoring


def search(plan: OptimizePlan, cfg: OptimizeConfig, scorer: DevScorer) -> SearchOutcome:
    """Run the strategy on train (candidates scored on dev), under the call budget."""
    import dspy

    models, events = scorer.models, scorer.events
    ctx = OptimizeContext(lm=models.lm, teacher_lm=models.teacher_lm, labels=plan.labels, seed=cfg.seed,
                          threads=cfg.threads, params=plan.params, adapter=plan.adapter, score=scorer,
                          start_instructions=plan.start_instructions)
    student = make_program(plan.labels, plan.start_instructions)
    trials = TrialRecorder(len(plan.dev), on_trial=lambda t: events.emit("trial", trials=t),
                           on_scored=lambda n, t: events.trial(search_trial(n, t, plan.optimizer, models.spec.name)))
    started, calls_before = time.perf_counter(), models.meter.calls
    # DSPy's optimizers print their chatter to stdout; keep stdout for results (`--json`).
    with dspy.context(lm=models.lm, adapter=plan.adapter.build(), callbacks=[trials]), \
            contextlib.redirect_stdout(sys.stderr):
        try:
            program = plan.strategy.fn(student, _to_dspy(plan.train), _to_dspy(plan.dev), ctx)
        except BudgetExhausted:
            program = student  # nothing better was found before the budget ran out
    models.meter.enforcing = False
    seconds, calls = time.perf_counter() - started, models.meter.calls - calls_before
    rows = ctx.result[1] if ctx.result else scorer.rows(program, ctx.adapter, "scoring result")
    return SearchOutcome(program, ctx.adapter, rows, trials, ctx.candidates, seconds, calls)


def decide(plan: OptimizePlan, cfg: OptimizeConfig, found: SearchOutcome) -> tuple[DevDecision, DevFigures]:
    """Step 4: the decision rule fitted on the result's dev rows, and the result's dev metrics under it.
    The decision's adapter is the one to store (its bias scaled to apply before a kNN prior)."""
    decided = decide_on_dev(found.rows, plan.labels, found.adapter, cfg.calibrate, plan.recall_target, cfg.seed)
    adapter = decided.adapter
    metrics = compute_metrics(redecide(found.rows, plan.labels, adapter.bias, adapter.decision), plan.labels)
    stored = bias_before_prior(adapter, getattr(found.program, "prior_weight", None))
    return replace(decided, adapter=stored), DevFigures.from_metrics(metrics)


@dataclass(frozen=True)
class ProgramFiles:
    """What the artifact stores of the program: its state, its rendered messages and a few words on it."""

    state: dict[str, Any]
    messages: list[dict[str, Any]]
    demos: str
    instructions: str


def program_files(plan: OptimizePlan, program: Any, adapter: AdapterConfig) -> ProgramFiles:
    if plan.strategy.program_kind == "knn":
        state = {**program.state(), "adapter": adapter.to_dict()}
        demos = f"per message: the {program.k} most similar of {len(program.pool)} training messages"
        return ProgramFiles(state, render_messages(program.predict, plan.labels, adapter), demos,
                            program.predict.signature.instructions)
    from dspy.utils.saving import get_dependency_versions

    predictor = program.predictors()[0]
    state = {**program.dump_state(), "metadata": {"dependency_versions": get_dependency_versions()},
             "adapter": adapter.to_dict()}
    return ProgramFiles(state, render_messages(program, plan.labels, adapter), f"{len(predictor.demos)} fixed demos",
                        predictor.signature.instructions)


def optimize(settings: Settings, cfg: OptimizeConfig, on_event: Callable[..., None] | None = None,
             hooks: RunHooks | None = None) -> OptimizeResult:
    """Optimize, score baseline and result on dev, write a new artifact version.

    The hooks (default: default_hooks, off with cfg.langfuse=False) hear of the optimization, of every
    scored trial (the zero-shot baseline, each evaluation TrialRecorder sees, the result) and of its
    end; a failing hook is one on_event("warning", message=...) (logged without on_event), nothing more."""
    events = OptimizeEvents(default_hooks(settings, enabled=cfg.langfuse) if hooks is None else hooks, on_event)
    plan = plan_optimize(settings, cfg)
    models = build_models(settings, cfg, on_call=lambda m: events.emit("call", meter=m))
    events.tell("optimization_started", events.optimization_id, {
        "optimizer": plan.optimizer, "params": plan.params, "model": models.spec.name, "dataset": plan.dataset.name,
        "seed": cfg.seed})
    started = time.perf_counter()
    try:
        scorer = DevScorer(plan, models, events)
        baseline = score_baseline(plan, scorer)
        events.emit("phase", name=f"optimizing ({plan.optimizer})", total=None, baseline=baseline)
        found = search(plan, cfg, scorer)
        decided, result = decide(plan, cfg, found)
    except KeyboardInterrupt:
        raise Interrupted("optimization interrupted: no artifact was written",
                          hint="re-run it; answers already computed come from the cache") from None
    wall = time.perf_counter() - started
    events.trial({"trial": len(found.trials.trials) + 1, "score": result.accuracy,
                  "candidate": {"optimizer": plan.optimizer, "params": plan.params},
                  "metrics": {"macro_f1": result.macro_f1}, "duration_s": found.seconds, "model": models.spec.name})
    files = program_files(plan, found.program, decided.adapter)
    summary = summarise(plan, cfg, models, found, decided, baseline, result, files.demos, wall)
    return save_optimized(settings, cfg, plan, models, summary, files, events)


def summarise(plan: OptimizePlan, cfg: OptimizeConfig, models: Models, found: SearchOutcome, decided: DevDecision,
              baseline: DevFigures, optimized: DevFigures, demos: str, wall: float) -> OptimizeSummary:
    meter = models.meter
    spend = Spend(lm_calls=meter.calls, search_lm_calls=found.calls, prompt_tokens=meter.prompt_tokens,
                  completion_tokens=meter.completion_tokens, cost_usd=meter.cost_usd, wall_seconds=round(wall, 1))
    chosen = found.program.settings() if plan.strategy.program_kind == "knn" else None
    searched = SearchSummary(**found.trials.summary(), candidates=tuple(found.candidates), chosen=chosen)
    return OptimizeSummary(
        optimizer=plan.optimizer, params=plan.params, seed=cfg.seed, model=models.spec.name, dataset=plan.dataset.name,
        train_size=len(plan.train), dev_size=len(plan.dev), baseline=baseline, optimized=optimized, spend=spend,
        budget_exhausted=meter.exhausted, search=searched, adapter=decided.adapter, calibration=decided.calibration,
        decision=decided.decision, demos=demos, source=plan.start.source if plan.start else None,
        feedback=plan.feedback)


def manifest_for(settings: Settings, cfg: OptimizeConfig, plan: OptimizePlan, models: Models, s: OptimizeSummary,
                 instructions: str) -> dict[str, Any]:
    """The new version's manifest (the store adds its id, version, parent, time and file checksums)."""
    ds, kind = plan.dataset, plan.strategy.program_kind
    default = KNN_INSTRUCTIONS if kind == "knn" else DEFAULT_INSTRUCTIONS
    return {
        "labels": list(ds.labels),
        "program_kind": kind,
        "model": models.spec.public(),
        "teacher": models.teacher_spec.public() if models.teacher_spec else None,
        "optimizer": {"name": s.optimizer, "params": s.params, "seed": cfg.seed, "threads": cfg.threads,
                      "max_calls": cfg.max_calls, "budget_exhausted": s.budget_exhausted,
                      "calibrate": cfg.calibrate, "recall_target": cfg.recall_target},
        "dataset": {"name": ds.name, "provenance": ds.provenance,
                    "split_hashes": {split: ds.split_hash(split) for split in ("train", "dev", "test")},
                    "train_items_hash": content_hash(plan.train), "dev_items_hash": content_hash(plan.dev),
                    "train_size": s.train_size, "dev_size": s.dev_size, "feedback": s.feedback},
        "dev_metrics": {"baseline": s.baseline.to_dict(), "optimized": s.optimized.to_dict(),
                        "macro_f1_gain": s.macro_f1_gain},
        "spend": s.spend.to_dict(),
        "adapter": s.adapter.to_dict(),
        "search": s.search.to_dict(),
        "calibration": s.calibration,
        "decision": s.decision,
        "demos": s.demos,
        "instructions_changed": instructions != (plan.start_instructions or default),
        **({"source": s.source} if s.source is not None else {}),
        "versions": library_versions(),
        "git_commit": git_commit(settings.prompts_dir if settings.prompts_dir.exists() else settings.root),
    }


def save_optimized(settings: Settings, cfg: OptimizeConfig, plan: OptimizePlan, models: Models, s: OptimizeSummary,
                   files: ProgramFiles, events: OptimizeEvents) -> OptimizeResult:
    """Step 5: the manifest (with what the hooks recorded) and card, stored as the next version."""
    manifest = manifest_for(settings, cfg, plan, models, s, files.instructions)
    events.finished(manifest)
    card = optimize_card(s, files.instructions, plan.start_instructions)
    art = save_artifact(settings.prompts_dir, plan.dataset.name, models.spec.name, program_state=files.state,
                        messages=files.messages, manifest=manifest, card=card)
    assert art.dir is not None  # a saved version always has its folder (only zero-shot has none)
    return OptimizeResult(artifact=art.id, path=art.dir, summary=s, manifest=art.info)


def search_trial(number: int, trial: Trial, optimizer: str, model: str) -> dict[str, Any]:
    """A TrialRecorder trial as the hooks' trial event: its score is the optimizer's own metric."""
    return {"trial": number, "score": trial.accuracy, "model": model,
            "candidate": {"optimizer": optimizer, "items": trial.items, "full_dev": trial.full_dev}}


def _check_reachable(lm: Any, name: str) -> None:
    try:
        lm("Reply with the word ok.", max_tokens=3)
    except Exception as exc:
        raise ConfigError(f"teacher {name} cannot be reached: {type(exc).__name__}: {str(exc)[:160]}",
                          hint="check its api_base/key, or drop --teacher") from None
