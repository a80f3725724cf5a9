"""Run a prompt (artifact or zero-shot) over a dataset split and record every prediction."""

from __future__ import annotations

import contextlib
import errno
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, Interrupted, SmishError
from smishctl.core.identity import ServingIdentity, config_hash
from smishctl.core.records import RunRecord, Solver
from smishctl.core.version import __version__
from smishctl.data import prepare as data_prepare
from smishctl.data.feedback import training_feedback
from smishctl.data.prepare import Example, PreparedDataset, SplitOptions, content_hash, sample
from smishctl.data.registry import DEFAULT_DATASET, REGISTRY
from smishctl.data.shards import select
from smishctl.models.lm import build_lm
from smishctl.models.registry import ModelSpec, check_model_name
from smishctl.ops.hooks import RunHooks, Warn, default_hooks, notify
from smishctl.ops.leak_checks import refuse_scoring_program_examples, refuse_scoring_training_items
from smishctl.score.metrics import run_metrics
from smishctl.solve.build import build_solver
from smishctl.solve.classic import build_classic_solver
from smishctl.solve.loop import solve_items
from smishctl.store.artifacts import Artifact, artifact_labels, resolve_artifact
from smishctl.store.programs import load_adapter_config, load_program
from smishctl.store.runs import LOCK_FILE, PredictionWriter, Run, new_run_id, open_run, run_dir, short_ref
from smishctl.store.serving import model_for, serving_identity
from smishctl.util.fs import file_lock


@dataclass
class EvalConfig:
    model: str | None = None
    prompt: str = "zero-shot"
    dataset: str | None = None
    split: str = "test"
    limit: int | None = None
    balanced: bool = False
    threads: int = 1
    timeout: float | None = None
    num_retries: int | None = None
    max_errors: int = 50  # stop early once this many errors make up at least half the items
    cache: bool = True
    data_options: dict[str, Any] = field(default_factory=dict[str, Any])
    shard: str | None = None  # "K/N": evaluate only the items of shard K of N (smishctl.data.shards)
    harden: bool = True  # neutralise forged prompt markers in the SMS (smishctl.solve.harden)
    guard: bool = True  # an SMS with attack text cannot come out as ham (smishctl.solve.harden.guard_row)
    adapter: str | None = None  # score | chat | json; None: the artifact's own (score for zero-shot)
    evaluation_only: bool = False  # score the whole file (every item in `test`); never train on it
    train_dataset: str | None = None  # classic/* models: train here, not on the evaluated dataset
    with_feedback: bool = False  # classic/* models: also train on the user reports (smishctl.data.feedback)


def library_versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "smishctl": __version__}
    for pkg in ("dspy", "litellm", "langfuse", "datasets", "xllamacpp", "scikit-learn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def check_resume_identity(run_id: str, record: RunRecord, identity: dict[str, Any]) -> None:
    """Refuse to resume when the prompt, model or endpoint now resolve differently (a promote moved
    `production`, an alias or the default model changed): the run would mix two setups under one name."""
    if record.config_hash == config_hash(identity) == config_hash(record.identity):  # its stored identity too
        return
    before = record.identity
    changed = sorted(k for k in set(before) | set(identity) if before.get(k) != identity.get(k)) or ["config_hash"]
    raise ConfigError(f"run {run_id} cannot be resumed: {', '.join(changed)} changed since it started",
                      hint="its predictions were made with another setup; start a new run")


@dataclass
class EvalPlan:
    """Everything resolved before the first call: items, model, program; and the run record.

    The solver (an LM client, or a classic model trained on its split) is built on first use: the run's
    identity and config hash are known without it, so finding a reusable run costs no model."""

    run: Run
    record: RunRecord
    items: list[Any]
    make_solver: Callable[[], Solver]
    indices: list[int] | None = None  # positions of `items` in the unsharded item list (shard runs)
    _solver: Solver | None = field(default=None, repr=False)

    @property
    def solver(self) -> Solver:
        if self._solver is None:
            self._solver = self.make_solver()
        return self._solver


DatasetLoader = Callable[..., PreparedDataset]


def prepare(settings: Settings, cfg: EvalConfig, *, resume: str | None = None,
            load: DatasetLoader | None = None) -> EvalPlan:
    """The plan of an evaluation (`resume`: of an unfinished run). `load` reads the dataset, with the
    arguments of smishctl.data.prepare.load_dataset_splits: a command that prepares several
    evaluations passes one that keeps what it read (smishctl.ops.run_source)."""
    load = load or data_prepare.load_dataset_splits  # looked up per call: a test can count the loads
    if resume:
        run = open_run(settings.runs_dir, resume, for_writing=True)
        record = run.record()
        if record.complete:
            raise ConfigError(f"run {run.id} is already complete", hint="nothing to resume")
        cfg = EvalConfig(**{k: v for k, v in record.config.items() if k in EvalConfig.__dataclass_fields__})
    if cfg.model:  # a mistyped name fails before the dataset is loaded
        check_model_name(cfg.model, settings)
    opts = cfg.data_options or {}
    split_opts = SplitOptions(**opts.get("split", {})) if opts.get("split") else SplitOptions()
    ds = load(cfg.dataset, settings, options=split_opts, evaluation_only=cfg.evaluation_only,
              **{k: v for k, v in opts.items() if k != "split"})
    items = sample(ds.split(cfg.split), cfg.limit, balanced=cfg.balanced, seed=split_opts.seed)
    indices = shard_info = None
    if cfg.shard:
        items, indices, shard_info = select(items, cfg.shard)
    art = resolve_artifact(settings.prompts_dir, cfg.prompt)
    spec = model_for(art, settings, cfg.model)
    scoring = _scoring(settings, cfg, ds, items, art, spec, load)
    items_hash = content_hash(items)
    identity = _run_identity(cfg, ds, items_hash, art, scoring, shard_info)
    if resume:
        if record.items_hash != items_hash:
            raise ConfigError(f"run {run.id} was made on different items than the dataset now gives",
                              hint="the dataset or its options changed; start a new run")
        check_resume_identity(run.id, record, identity)
        return EvalPlan(run=run, record=record, items=items, make_solver=scoring.make_solver, indices=indices)
    run_id = new_run_id(spec.name, art.id)
    record = RunRecord(
        id=run_id, kind="evaluation", status="running", created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        config=asdict(cfg), config_hash=config_hash(identity), identity=identity, model=spec.public(),
        prompt={"id": art.id, "sha256": scoring.serving.program_sha256,
                "optimizer": None if art.is_zero_shot else art.info.optimizer_name},
        dataset=_dataset_block(cfg, ds, items, items_hash, scoring), versions=library_versions(),
        extra={"shard": shard_info} if shard_info else {})
    return EvalPlan(run=Run(run_dir(settings.runs_dir, run_id)), record=record, items=items,
                    make_solver=scoring.make_solver, indices=indices)


@dataclass
class _Scoring:
    """How an evaluation scores its items: the solver (built on first use), the labels the model answers
    with, the system served (its serving identity) and, for a classic model, where it learned."""

    make_solver: Callable[[], Solver]
    model_labels: tuple[str, ...]
    serving: ServingIdentity
    train_ds: PreparedDataset | None = None
    feedback: list[Example] = field(default_factory=list)  # user reports a classic model also learned from
    feedback_info: dict[str, Any] | None = None


def _scoring(settings: Settings, cfg: EvalConfig, ds: PreparedDataset, items: list[Example], art: Artifact,
             spec: ModelSpec, load: DatasetLoader) -> _Scoring:
    """The solver side of `prepare`: a classic model trained on a train split (never on the scored items),
    or the artifact's program on its model with its adapter (never scoring its own examples)."""
    if cfg.with_feedback and not spec.extra.get("classic"):
        raise ConfigError("--with-feedback trains classic/* models only",
                          hint="for a prompt, optimize --with-feedback, then evaluate that version")
    if spec.extra.get("classic"):  # classic/tfidf-svm: a scikit-learn baseline trained on a train split
        train_ds = classic_training_dataset(settings, cfg, ds, load)
        feedback: list[Example] = []
        feedback_info: dict[str, Any] | None = None
        if cfg.with_feedback:  # reports join the train split, never its dev/test (as optimize does)
            feedback, feedback_info = training_feedback(settings, train_ds)
        refuse_scoring_training_items(spec.name, train_ds, ds, cfg.split, items, extra_train=feedback)

        def make_classic() -> Solver:
            solver: Solver = build_classic_solver(spec, ds, art, train_dataset=train_ds, extra_train=feedback)
            return solver
        return _Scoring(make_classic, tuple(train_ds.labels),
                        serving_identity(art, spec, None, harden=cfg.harden, guard=cfg.guard),
                        train_ds=train_ds, feedback=feedback, feedback_info=feedback_info)
    adapter = load_adapter_config(art, cfg.adapter)
    model_labels = artifact_labels(art, ds.labels)
    refuse_scoring_program_examples(art, ds, items)

    def make_solver() -> Solver:
        program = load_program(art, model_labels)
        lm = build_lm(spec, settings, timeout=cfg.timeout, num_retries=cfg.num_retries, cache=cfg.cache)
        solver: Solver = build_solver(program, lm, spec, model_labels, adapter, harden=cfg.harden, guard=cfg.guard)
        return solver
    return _Scoring(make_solver, tuple(model_labels),
                    serving_identity(art, spec, adapter, harden=cfg.harden, guard=cfg.guard))


def _run_identity(cfg: EvalConfig, ds: PreparedDataset, items_hash: str, art: Artifact, scoring: _Scoring,
                  shard_info: dict[str, Any] | None) -> dict[str, Any]:
    """What makes two runs the same run (its hash is the config hash that finds a reusable one)."""
    identity: dict[str, Any] = {**scoring.serving.identity_keys(), "prompt": art.id, "dataset": ds.name, "items_hash": items_hash,
                "temperature": 0.0}
    if art.is_zero_shot and tuple(scoring.model_labels) != REGISTRY[DEFAULT_DATASET].labels:
        identity["labels"] = list(scoring.model_labels)  # zero-shot offers the dataset's labels: another set, another run
    if shard_info:
        identity["shard"] = f"{shard_info['index']}/{shard_info['count']}"
    if ds.provenance.get("split_policy", "exact") != "exact":  # exact: the identity runs had before
        identity["split_policy"] = f"{ds.provenance['split_policy']}@{ds.provenance['template_threshold']}"
    train_ds = scoring.train_ds
    if train_ds is not None and train_ds is not ds:  # (training on the evaluated dataset: as runs always had)
        identity["train"] = {"dataset": train_ds.name, "split_hash": train_ds.split_hash("train")}
    if scoring.feedback:  # other reports, another model: never the same run (none: the plain model's run)
        identity["feedback"] = content_hash(scoring.feedback)
    return identity


def _dataset_block(cfg: EvalConfig, ds: PreparedDataset, items: list[Example], items_hash: str,
                   scoring: _Scoring) -> dict[str, Any]:
    """The run record's `dataset`: what was scored, over which labels, and where a classic model learned."""
    dataset: dict[str, Any] = {
        "name": ds.name, "split": cfg.split, "labels": list(scored_labels(scoring.model_labels, ds)),
        "split_hash": ds.split_hash(cfg.split), "items_hash": items_hash, "n_items": len(items),
        "provenance": ds.provenance, "stats": ds.stats,
    }
    dataset["model_labels"] = list(scoring.model_labels)  # what the model could answer, named in every record
    train_ds = scoring.train_ds
    if train_ds is not None:  # where a classic model learned, always named (with the hash of what it saw)
        dataset["train_dataset"] = {"dataset": train_ds.name, "split": "train",
                                    "split_hash": train_ds.split_hash("train"), "n_items": len(train_ds.split("train"))}
        if scoring.feedback_info is not None:
            dataset["train_dataset"]["feedback"] = {**scoring.feedback_info,
                                                    "items_hash": content_hash(scoring.feedback)}
    return dataset


def scored_labels(model_labels: tuple[str, ...], ds: PreparedDataset) -> tuple[str, ...]:
    """The labels per-class metrics and macro-F1 are computed over: those the dataset has, in the
    model's order (a file of only smishing and ham messages is scored on those two)."""
    present = {ex.label for items in ds.splits.values() for ex in items}
    unknown = sorted(present - set(model_labels))
    if unknown:
        raise ConfigError(f"the model predicts {', '.join(model_labels)}; dataset {ds.name} also has "
                          f"{', '.join(unknown)}", hint="evaluate on a dataset with the same labels or a subset")
    return tuple(lab for lab in model_labels if lab in present)


def classic_training_dataset(settings: Settings, cfg: EvalConfig, ds: PreparedDataset,
                             load: DatasetLoader | None = None) -> PreparedDataset:
    """Where a classic/* model trains: `cfg.train_dataset` when named; for an evaluation-only
    dataset (no train split) the default dataset; otherwise the evaluated dataset itself (its train split)."""

    if cfg.train_dataset and cfg.train_dataset != ds.name:
        name = cfg.train_dataset
    elif ds.provenance.get("evaluation_only") or not ds.split("train"):
        name = DEFAULT_DATASET
    else:
        return ds
    train_ds = (load or data_prepare.load_dataset_splits)(name, settings)
    if train_ds.provenance.get("evaluation_only"):
        raise ConfigError(f"training dataset {name!r} is evaluation-only", hint="name a dataset with a train split")
    return train_ds


@dataclass
class _ErrorBudget:
    """The counts that stop a hopeless run: errors among the items seen (a resumed run's included), and
    this session's calls (a resumed run starts the first-calls window again)."""

    max_errors: int
    first_calls: int
    errors: int = 0
    seen: int = 0
    tried: int = 0
    failed: int = 0

    def count(self, row: dict[str, Any]) -> None:
        failed = row["status"] == "error"
        self.seen, self.tried = self.seen + 1, self.tried + 1
        self.errors += failed
        self.failed += failed

    def all_failing(self) -> bool:
        return self.tried >= self.first_calls and self.failed == self.tried

    def over(self) -> bool:
        return self.errors >= self.max_errors and self.errors * 2 >= self.seen or self.all_failing()


def execute(plan: EvalPlan, *, threads: int = 1, max_errors: int = 50,
            on_item: Callable[[dict[str, Any]], None] | None = None, first_calls: int = 20) -> RunRecord:
    """Evaluate the items not yet recorded, appending each result as it arrives.

    Ctrl-C marks the run interrupted (resume later). Hopeless runs stop early and are left aborted
    (resumable), never complete: a failure every call shares (refused key, no such model, an endpoint
    never reached) at once; otherwise an error budget (`max_errors` making up half the items, or the
    first `first_calls` calls all failing; at the end, most items failed however few they are); and a
    run that scored no item at all.
    """
    run, record = plan.run, plan.record
    run.dir.mkdir(parents=True, exist_ok=True)
    with file_lock(run.dir / LOCK_FILE, blocking=False) as got:
        if not got:
            raise ConfigError(f"run {run.id} is being written by another process",
                              hint="wait for it to finish, or start a new run")
        # Errors are infrastructure failures: a resumed run tries those items again.
        done_rows = run.repair_predictions(drop_errors=True) if run.predictions_path.exists() else []
        done = {r["item_id"] for r in done_rows}
        positions = plan.indices or range(len(plan.items))
        todo = [(i, ex) for i, ex in zip(positions, plan.items, strict=True) if ex.id not in done]
        record.status = "running"
        run.write(record)
        writer = PredictionWriter(run.predictions_path)
        budget = _ErrorBudget(max_errors, first_calls, errors=sum(1 for r in done_rows if r["status"] == "error"),
                              seen=len(done_rows))
        started = time.perf_counter()

        def record_row(row: dict[str, Any]) -> None:  # called in this thread, one row at a time (solve_items)
            writer.write(row)
            budget.count(row)
            if on_item:
                on_item(row)

        def add_wall_time() -> None:
            record.extra["wall_seconds"] = round(record.wall_seconds + time.perf_counter() - started, 3)

        try:
            solve_items(plan.solver, todo, record_row, threads=threads, stop=budget.over)
        except Interrupted:
            raise
        except SmishError as exc:  # the solver's verdict that no call can succeed (smishctl.solve.dspy_solver)
            writer.close()
            add_wall_time()
            _abort(run, record, run.predictions(slim=True))
            resume = resume_command(run)
            exc.hint = f"{exc.hint}, then: {resume}" if exc.hint else f"then: {resume}"
            raise
        except KeyboardInterrupt:
            writer.close()
            raise _interrupted(run, record, budget.seen, len(plan.items)) from None
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            raise _stopped_by_full_disk(run, record, writer, exc, budget.seen, len(plan.items)) from None
        writer.close()
        rows = run.predictions(slim=True)  # without texts: memory stays small on large datasets
        record.metrics = run_metrics(rows, record)
        add_wall_time()
        _refuse_hopeless(run, record, rows, budget)
        record.status = "complete"
        record.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        run.write(record)
        return record


def _abort(run: Run, record: RunRecord, rows: list[dict[str, Any]]) -> None:
    """Leave the run aborted, with the metrics of its rows so far (resumable: errors are tried again)."""
    record.status = "aborted"
    record.metrics = run_metrics(rows, record)
    run.write(record)


def _interrupted(run: Run, record: RunRecord, seen: int, total: int) -> Interrupted:
    """Ctrl-C: the run left interrupted with what it recorded so far."""
    record.status = "interrupted"
    record.extra["interrupted_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record.metrics = run_metrics(run.predictions(), record)
    run.write(record)
    return Interrupted(f"interrupted: {seen} of {total} items recorded in run {run.id}",
                       hint=f"finish it with: {resume_command(run)}")


def _refuse_hopeless(run: Run, record: RunRecord, rows: list[dict[str, Any]], budget: _ErrorBudget) -> None:
    """A run that ran out of its error budget, scored nothing, or failed on most items is left aborted
    (SmishError, exit 3), never complete."""
    metrics = record.metrics or {}
    last = next((r["error"] for r in reversed(rows) if r["error"]), "?")
    hint = f"check the model endpoint, then: {resume_command(run)}"
    counted = f"{budget.errors} errors in {budget.seen} items"
    if budget.over():
        why = f"error budget: the first {budget.tried} calls all failed" if budget.all_failing() else "error budget"
        message = f"stopped after {counted} ({why}); last: {last}"
    elif rows and metrics["n_scored"] == 0:  # every item an error: nothing was evaluated
        message = f"no item was scored: {counted}; last: {last}"
    elif 2 * metrics["n_errors"] > len(rows):  # most items failed, however few: not an evaluation
        message = f"stopped after {counted} (error budget: most items failed); last: {last}"
    else:
        return
    _abort(run, record, rows)
    raise SmishError(message, hint=hint, exit_code=3)


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def resume_command(run: Run) -> str:
    """The command that finishes `run`, naming it by its short reference (what `runs list` shows), so
    that a hint on an 80-column terminal never cuts a long run id mid-word."""
    return f"smishctl evaluate --resume {short_ref(run.dir.parent, run.id)}"


def _stopped_by_full_disk(run: Run, record: RunRecord, writer: PredictionWriter, exc: OSError, seen: int,
                          total: int) -> SmishError:
    """The run left interrupted, where the disk still takes run.json (else it stays `running`, which
    --resume takes too): the rows so far are kept, a torn last one is dropped on resume."""
    with contextlib.suppress(OSError):
        writer.close()
    record.status = "interrupted"
    record.extra["interrupted_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with contextlib.suppress(OSError):
        record.metrics = run_metrics(run.predictions(allow_damaged=True), record)
        run.write(record)
    return SmishError(f"the disk is full ({exc.strerror}, writing {exc.filename or run.dir}): {seen} of {total} "
                      f"items recorded in run {run.id}",
                      hint=f"free some space, then finish it with: {resume_command(run)}", exit_code=3)


def evaluate(settings: Settings, cfg: EvalConfig, *, resume: str | None = None,
             on_start: Callable[[EvalPlan], None] | None = None,
             on_item: Callable[[dict[str, Any]], None] | None = None, hooks: RunHooks | None = None, on_warning: Warn | None = None,
             load: DatasetLoader | None = None) -> RunRecord:
    """Evaluate (or finish, with `resume`) a run; the hooks (default: smishctl.ops.hooks.default_hooks)
    hear of it once it is complete, and what they return is added to the record (its `extra`, so that
    `to_dict()` ends with it, as run.json does)."""
    plan = prepare(settings, cfg, resume=resume, load=load)
    plan.solver  # noqa: B018 - built before anything is written: a bad program or model fails with nothing on disk
    if on_start:
        on_start(plan)
    record = execute(plan, threads=cfg.threads, max_errors=cfg.max_errors, on_item=on_item)
    hooks = default_hooks(settings) if hooks is None else hooks
    notify(hooks, "run_finished", record, into=record.extra, on_warning=on_warning)
    return record

