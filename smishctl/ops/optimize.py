"""`optimize`: compile a prompt with a DSPy optimizer and store it as a new artifact version."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, Interrupted
from smishctl.data.feedback import training_feedback
from smishctl.data.prepare import SplitOptions, content_hash, load_dataset_splits, sample
from smishctl.models.lm import build_lm
from smishctl.models.meter import BudgetExhausted, Meter
from smishctl.models.registry import resolve_model
from smishctl.ops.evaluate import library_versions
from smishctl.ops.hooks import RunHooks, default_hooks, notify, safe_call
from smishctl.ops.prompts_new import source_note, starting_prompt
from smishctl.score.metrics import compute_metrics
from smishctl.solve.adapters import DEFAULT_ADAPTER, AdapterConfig
from smishctl.solve.build import build_solver
from smishctl.solve.calibration import (
    calibration_note,
    cross_validated_bias,
    fit_bias,
    redecide,
    scored_rows,
    threshold_for_recall,
)
from smishctl.solve.loop import solve_items
from smishctl.solve.optimizers import DEFAULT_OPTIMIZER, OptimizeContext, knn_grid, resolve_params
from smishctl.solve.signature import DEFAULT_INSTRUCTIONS, KNN_INSTRUCTIONS, make_program
from smishctl.solve.trial_scores import TrialRecorder
from smishctl.store.artifacts import save_artifact
from smishctl.store.programs import render_messages


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
    params: dict = field(default_factory=dict)
    langfuse: bool = True
    adapter: str | None = None  # score (default) | chat | json
    calibrate: str = "auto"  # auto: keep a per-label bias only when it wins under cross-validation on dev
    recall_target: str | None = None  # "LABEL=R": a threshold on p(LABEL) chosen on dev to reach recall R
    split_policy: str | None = None  # None: [data] split_policy (smishctl.data.prepare)
    with_feedback: bool = False  # add datasets/feedback/<dataset>.jsonl to the training pool (never dev/test)
    instructions: str | None = None  # a text file whose instructions the search starts from
    start_from: str | None = None  # an artifact whose instructions the search starts from


def _git_commit(folder) -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                           timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _to_dspy(examples):
    import dspy

    return [dspy.Example(sms=e.text, label=e.label, item_id=e.id).with_inputs("sms") for e in examples]


def score_rows(solver, examples, on_item=None) -> list[dict]:
    """One prediction row per example, through the solver `evaluate` uses."""
    rows: list[dict] = []

    def keep(row: dict) -> None:
        row.pop("text")  # candidates' rows stay in memory during the search; texts are in the dataset
        rows.append(row)
        if on_item:
            on_item(row)

    solve_items(solver, enumerate(examples), keep)
    return rows


def parse_recall_target(text: str | None) -> tuple[str, float] | None:
    """'smishing=0.95' -> ('smishing', 0.95)."""
    if not text:
        return None
    label, sep, value = text.partition("=")
    try:
        target = float(value)
    except ValueError:
        target = None
    if not sep or not label.strip() or target is None or not 0 < target <= 1:
        raise ConfigError(f"bad --recall-target {text!r}", hint="use LABEL=RECALL, e.g. --recall-target smishing=0.95")
    return label.strip().lower(), target


CALIBRATE_CHOICES = ("auto", "on", "off")


def decide_on_dev(rows: list[dict], labels: tuple[str, ...], adapter, calibrate: str,
                  recall_target: tuple[str, float] | None, seed: int) -> tuple[object, dict]:
    """Calibration (kept only when it wins under cross-validation, unless forced) and an optional
    recall threshold, both fitted on the dev rows' label probabilities. Returns the final adapter
    config and a record of what was tried."""
    record: dict = {"calibration": None, "decision": None}
    has_probs = adapter.name == "score" and scored_rows(rows)
    if (calibrate != "off" or recall_target) and not has_probs:
        if recall_target:
            raise ConfigError("--recall-target needs label probabilities", hint="use --adapter score")
        return adapter, {**record, "calibration": {"kept": False, "reason": "no label probabilities"}}
    bias: dict = {}
    if calibrate != "off":
        cv = cross_validated_bias(rows, labels, seed=seed)
        if calibrate == "on":
            bias = fit_bias(rows, labels)
            cv = {**cv, "kept": True, "forced": True, "bias": bias}
        bias = cv.get("bias") or {}
        record["calibration"] = cv
    decision = threshold_for_recall(rows, labels, *recall_target, bias=bias) if recall_target else {}
    record["decision"] = decision or None
    return replace(adapter, bias=bias, decision=decision), record


def bias_before_prior(adapter, prior_weight: float | None):
    """The bias was fitted on the rows' final (prior-combined) probabilities, but the adapter adds it to
    the model's log-probabilities, which the prior then scales by 1 - weight: store it scaled back up."""
    if not prior_weight or not adapter.bias:
        return adapter
    return replace(adapter, bias={lab: b / (1 - prior_weight) for lab, b in adapter.bias.items()})


def run_optimize(settings: Settings, cfg: OptimizeConfig, on_event: Callable[..., None] | None = None,
                 hooks: RunHooks | None = None) -> dict:
    """Optimize, score baseline and result on dev, write a new artifact version. Returns a summary.

    The hooks (default: default_hooks, off with cfg.langfuse=False) hear of the optimization, of every
    scored trial (the zero-shot baseline, each evaluation TrialRecorder sees, the result) and of its
    end; a failing hook is one on_event("warning", message=...) (logged without on_event), nothing more."""

    emit = on_event or (lambda *a, **k: None)
    hooks = default_hooks(settings, enabled=cfg.langfuse) if hooks is None else hooks
    warned: set[str] = set()

    def warn(message: str) -> None:  # once: a hook failing on every trial is one line
        if message not in warned:
            warned.add(message)
            emit("warning", message=message)

    on_warning = warn if on_event else None

    def tell(event: str, *args):
        return safe_call(hooks, event, *args, on_warning=on_warning)

    name = cfg.optimizer or DEFAULT_OPTIMIZER
    opt_spec, params = resolve_params(name, cfg.params)
    adapter = AdapterConfig(name=cfg.adapter or DEFAULT_ADAPTER)
    recall_target = parse_recall_target(cfg.recall_target)
    if cfg.calibrate not in CALIBRATE_CHOICES:
        raise ConfigError(f"--calibrate {cfg.calibrate!r} is not auto, on or off")
    train_size = cfg.train_size or opt_spec.default_train_size
    if train_size <= 0 or cfg.dev_size <= 0:
        raise ConfigError("--train-size and --dev-size must be positive")
    split_opts = SplitOptions(seed=cfg.seed, policy=cfg.split_policy)
    ds = load_dataset_splits(cfg.dataset, settings, options=split_opts)
    train = sample(ds.split("train"), train_size, balanced=True, seed=cfg.seed)
    dev = sample(ds.split("dev"), cfg.dev_size, balanced=True, seed=cfg.seed)
    feedback = None
    if cfg.with_feedback:  # user reports join the training pool only (smishctl.data.feedback)

        extra, feedback = training_feedback(settings, ds)
        train = train + extra
    if len(train) < max(opt_spec.min_train, len(ds.labels)):
        raise ConfigError(f"optimizer {name} needs at least {max(opt_spec.min_train, len(ds.labels))} "
                          f"training messages, got {len(train)}", hint="raise --train-size")
    if recall_target and recall_target[0] not in ds.labels:
        raise ConfigError(f"--recall-target names {recall_target[0]!r}, not a label of {ds.name}",
                          hint=f"use one of: {', '.join(ds.labels)}")
    start = starting_prompt(settings, instructions_file=cfg.instructions, from_artifact=cfg.start_from)
    start_instructions = start.instructions if start else None
    if opt_spec.program_kind == "knn":
        if start and "instructions" not in cfg.params:  # kNN searches demos under the given wording
            params["instructions"] = "start"
        knn_grid(params, ds.labels, start_instructions)  # bad search values are an error before any model call

    spec = resolve_model(cfg.model, settings)
    teacher_spec = resolve_model(cfg.teacher, settings) if cfg.teacher else None
    meter = Meter(max_calls=cfg.max_calls, on_call=lambda m: emit("call", meter=m))
    lm = build_lm(spec, settings, meter=meter)
    teacher_lm = build_lm(teacher_spec, settings, meter=meter) if teacher_spec else None
    if teacher_lm is not None:
        _check_reachable(teacher_lm, teacher_spec.name)

    def dev_rows(program, adapter_config, phase: str) -> list[dict]:
        # Scored exactly as `evaluate` will run it (same builder, hardened input), so dev figures carry over.
        emit("phase", name=phase, total=len(dev))
        solver = build_solver(program, lm, spec, ds.labels, adapter_config)
        return score_rows(solver, dev, on_item=lambda r: emit("item"))

    def score_candidate(program, adapter_config, note):
        rows = dev_rows(program, adapter_config, note)
        return compute_metrics(rows, ds.labels), rows

    optimization_id = f"optimize-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    tell("optimization_started", optimization_id, {
        "optimizer": name, "params": params, "model": spec.name, "dataset": ds.name, "seed": cfg.seed})
    started = time.perf_counter()
    try:
        import dspy

        meter.enforcing = False  # scoring on dev is reporting, not search: outside the budget
        baseline = compute_metrics(dev_rows(make_program(ds.labels, start_instructions), adapter, "baseline"),
                                   ds.labels)
        meter.enforcing = True
        tell("trial_scored", optimization_id, {
            "trial": 0, "score": baseline["accuracy"], "candidate": {"optimizer": "zero-shot"},
            "metrics": {"macro_f1": baseline["macro_f1"]}, "model": spec.name})
        emit("phase", name=f"optimizing ({name})", total=None, baseline=baseline)
        ctx = OptimizeContext(lm=lm, teacher_lm=teacher_lm, labels=ds.labels, seed=cfg.seed,
                              threads=cfg.threads, params=params, adapter=adapter, score=score_candidate,
                              start_instructions=start_instructions)
        student = make_program(ds.labels, start_instructions)

        trials = TrialRecorder(len(dev), on_trial=lambda t: emit("trial", trials=t),
                               on_scored=lambda n, t: tell("trial_scored", optimization_id,
                                                           search_trial(n, t, name, spec.name)))
        search_started, calls_before_search = time.perf_counter(), meter.calls
        # DSPy's optimizers print their chatter to stdout; keep stdout for results (`--json`).
        with dspy.context(lm=lm, adapter=adapter.build(), callbacks=[trials]), \
                contextlib.redirect_stdout(sys.stderr):
            try:
                program = opt_spec.fn(student, _to_dspy(train), _to_dspy(dev), ctx)
            except BudgetExhausted:
                program = student  # nothing better was found before the budget ran out
        meter.enforcing = False
        search_seconds = time.perf_counter() - search_started
        search_calls = meter.calls - calls_before_search  # the search alone, without the dev scoring
        adapter = ctx.adapter
        rows = ctx.result[1] if ctx.result else dev_rows(program, adapter, "scoring result")
        adapter, decided = decide_on_dev(rows, ds.labels, adapter, cfg.calibrate, recall_target, cfg.seed)
        result = compute_metrics(redecide(rows, ds.labels, adapter.bias, adapter.decision), ds.labels)
        adapter = bias_before_prior(adapter, getattr(program, "prior_weight", None))
    except KeyboardInterrupt:
        raise Interrupted("optimization interrupted: no artifact was written",
                          hint="re-run it; answers already computed come from the cache") from None
    wall = time.perf_counter() - started
    tell("trial_scored", optimization_id, {
        "trial": len(trials.trials) + 1, "score": result["accuracy"], "candidate": {"optimizer": name, "params": params},
        "metrics": {"macro_f1": result["macro_f1"]}, "duration_s": search_seconds, "model": spec.name})

    if opt_spec.program_kind == "knn":
        state = {**program.state(), "adapter": adapter.to_dict()}
        messages = render_messages(program.predict, ds.labels, adapter)
        demos_note = f"per message: the {state['k']} most similar of {len(state['pool'])} training messages"
    else:
        from dspy.utils.saving import get_dependency_versions

        state = {**program.dump_state(), "metadata": {"dependency_versions": get_dependency_versions()},
                 "adapter": adapter.to_dict()}
        messages = render_messages(program, ds.labels, adapter)
        demos_note = f"{len(program.predictors()[0].demos)} fixed demos"
    instructions = (program.predict if opt_spec.program_kind == "knn" else program.predictors()[0]).signature.instructions
    gain = (result["macro_f1"] or 0) - (baseline["macro_f1"] or 0)
    manifest = {
        "labels": list(ds.labels),
        "program_kind": opt_spec.program_kind,
        "model": spec.public(),
        "teacher": teacher_spec.public() if teacher_spec else None,
        "optimizer": {"name": name, "params": params, "seed": cfg.seed, "threads": cfg.threads,
                      "max_calls": cfg.max_calls, "budget_exhausted": meter.exhausted,
                      "calibrate": cfg.calibrate, "recall_target": cfg.recall_target},
        "dataset": {"name": ds.name, "provenance": ds.provenance,
                    "split_hashes": {s: ds.split_hash(s) for s in ("train", "dev", "test")},
                    "train_items_hash": _hash(train), "dev_items_hash": _hash(dev),
                    "train_size": len(train), "dev_size": len(dev), "feedback": feedback},
        "dev_metrics": {"baseline": _brief(baseline), "optimized": _brief(result), "macro_f1_gain": gain},
        "spend": {"lm_calls": meter.calls, "search_lm_calls": search_calls, "prompt_tokens": meter.prompt_tokens,
                  "completion_tokens": meter.completion_tokens, "cost_usd": meter.cost_usd,
                  "wall_seconds": round(wall, 1)},
        "adapter": adapter.to_dict(),
        "search": {**trials.summary(), "candidates": ctx.candidates,
                   "chosen": program.settings() if opt_spec.program_kind == "knn" else None},
        "calibration": decided["calibration"],
        "decision": decided["decision"],
        "demos": demos_note,
        "instructions_changed": instructions != (start_instructions or (
            KNN_INSTRUCTIONS if opt_spec.program_kind == "knn" else DEFAULT_INSTRUCTIONS)),
        **({"source": start.source} if start else {}),
        "versions": library_versions(),
        "git_commit": _git_commit(settings.prompts_dir if settings.prompts_dir.exists() else settings.root),
    }
    notify(hooks, "optimization_finished", optimization_id, into=manifest, on_warning=on_warning)
    card = _card(manifest, instructions, start_instructions)
    art = save_artifact(settings.prompts_dir, ds.name, spec.name, program_state=state, messages=messages,
                        manifest=manifest, card=card)
    return {"artifact": art.id, "path": str(art.dir), **art.manifest}


def search_trial(number: int, trial: dict, optimizer: str, model: str) -> dict:
    """A TrialRecorder trial as the hooks' trial event: its score is the optimizer's own metric."""
    return {"trial": number, "score": trial["accuracy"], "model": model,
            "candidate": {"optimizer": optimizer, "items": trial["items"], "full_dev": trial["full_dev"]}}


def _check_reachable(lm, name: str) -> None:
    try:
        lm("Reply with the word ok.", max_tokens=3)
    except Exception as exc:
        raise ConfigError(f"teacher {name} cannot be reached: {type(exc).__name__}: {str(exc)[:160]}",
                          hint="check its api_base/key, or drop --teacher") from None


def _hash(examples) -> str:
    return content_hash(examples)


def _brief(m: dict) -> dict:
    return {k: m.get(k) for k in ("accuracy", "macro_f1", "n_items", "n_invalid", "n_errors", "per_class",
                                  "latency_ms", "cost_per_1k")}


def search_note(search: dict) -> str:
    """One line for a TrialRecorder summary (card, summary and live progress)."""
    best = search["best_full_dev_accuracy"]
    return (f"{search['evaluations']} candidate evaluations, best whole-dev accuracy "
            f"{'-' if best is None else f'{best:.3f}'}")


def _f3(value) -> str:
    """A score, or '-' when nothing could be scored (every call failed)."""
    return "-" if value is None else f"{value:.3f}"


def _settings_note(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def _decision_note(m: dict) -> str:
    """Calibration and decision rule, for the card and the summary."""
    parts = []
    cal = m.get("calibration") or {}
    if "cv_macro_f1_plain" in cal:
        parts.append(calibration_note(cal))
    d = m.get("decision")
    if d:
        parts.append(f"decision: {d['label']} when p >= {d['threshold']:.4f} (dev recall {d['dev_recall']:.3f}, "
                     f"target {d['target_recall']})")
    return ("; " + "; ".join(parts)) if parts else ""


def _card(m: dict, instructions: str, start: str | None = None) -> str:
    b, o = m["dev_metrics"]["baseline"], m["dev_metrics"]["optimized"]
    before = "starting prompt" if start else "zero-shot"
    return "\n".join([
        "# Prompt {{id}}",
        "",
        f"- model: `{m['model']['name']}`; optimizer: `{m['optimizer']['name']}` {m['optimizer']['params']}, "
        f"seed {m['optimizer']['seed']}",
        f"- dataset: `{m['dataset']['name']}`, {m['dataset']['train_size']} train / {m['dataset']['dev_size']} dev "
        "messages (balanced)",
        *([f"- started from: {source_note(m['source'])}"] if start else []),
        f"- dev macro-F1: {before} {_f3(b['macro_f1'])} -> optimized {_f3(o['macro_f1'])} "
        f"(gain {m['dev_metrics']['macro_f1_gain']:+.3f})",
        f"- spent: {m['spend']['lm_calls']} LM calls, {m['spend']['wall_seconds']} s"
        + (" — budget exhausted, best program so far" if m["optimizer"]["budget_exhausted"] else ""),
        f"- demos: {m['demos']}",
        *([f"- search: {search_note(m['search'])}"] if m["search"]["evaluations"] else []),
        *(["- candidates (dev macro-F1): " + "; ".join(
            f"{_settings_note(c['settings'])} {_f3(c['dev_macro_f1'])}" for c in m["search"]["candidates"])]
          if len(m["search"].get("candidates") or []) > 1 else []),
        f"- adapter: `{m['adapter']['name']}`" + _decision_note(m),
        "",
        *(_start_section(start, instructions) if start else []),
        "## Instructions",
        "",
        instructions,
        "",
    ])


def _start_section(start: str, result: str) -> list[str]:
    """The instructions the search started from, shown before the result's."""
    same = " (the result keeps them unchanged)" if start == result else ""
    return [f"## Starting instructions{same}", "", start, ""]
