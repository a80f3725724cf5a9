"""`smishctl finetune`: LoRA fine-tuning of a local model, stored as a versioned artifact (torch is
imported inside the command only, and only with the finetune extra installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smishctl.cli.common import (
    DebugOpt,
    JsonOpt,
    console,
    fmt,
    handled,
    plain,
    print_json,
    settings,
    warn_unused_feedback,
)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)


def _train_size(value: str) -> int | None:
    from smishctl.core.errors import ConfigError

    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--train-size must be a number or 'all', got {value!r}") from None


def finetune(
    model: Annotated[str | None, typer.Option("--model", "-m", help="A local model: local/<name> (embedded) or a .gguf file. Hosted and Ollama models cannot take a local adapter (see --export-only).")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Registry name or file (see `smishctl data`).")] = None,
    train_size: Annotated[str, typer.Option(help="Training messages, balanced across labels, or 'all' (the whole train split).")] = "300",
    dev_size: Annotated[int, typer.Option(help="Dev messages (balanced) that choose the best epoch.")] = 45,
    epochs: Annotated[int, typer.Option(help="Passes over the training messages.")] = 1,
    rank: Annotated[int, typer.Option(help="LoRA rank r.")] = 8,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (the update is scaled by alpha/r).")] = 16.0,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 3e-4,
    batch_size: Annotated[int, typer.Option(help="Messages per training step.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed for splits, sampling, order and the LoRA initialisation.")] = 13,
    max_minutes: Annotated[float | None, typer.Option(help="Time budget for the whole run; when spent, the best checkpoint so far is kept and marked.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    max_length: Annotated[int, typer.Option(help="Tokens per training message (a longer SMS is cut for training only).")] = 256,
    calibrate: Annotated[str, typer.Option(help="auto: a per-label bias fitted on the best checkpoint's dev scores, kept only when it wins under cross-validation; on: always; off: never.")] = "auto",
    loss: Annotated[str, typer.Option(help="Where the loss applies: first (the label's first token, the one that decides when served) or answer (every label token and the end of turn).")] = "first",
    eval_every: Annotated[int | None, typer.Option(help="Steps between dev scores (default: once per epoch).")] = None,
    patience: Annotated[int | None, typer.Option(help="Stop after this many dev scores without a gain.")] = None,
    instructions: Annotated[str | None, typer.Option(help="The system instruction trained with and stored in the artifact.")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue from a fine-tuned artifact's adapter (e.g. an interrupted run).")] = None,
    with_feedback: Annotated[bool, typer.Option("--with-feedback", help="Train on the user reports in datasets/feedback/ too (never dev or test).")] = False,
    export_only: Annotated[str | None, typer.Option("--export-only", help="Only write the train/validation data for hosted fine-tuning, in this format: openai (chat JSONL, plus a HF dataset).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for --export-only (must not exist or be empty).")] = None,
    as_json: bool = JsonOpt,
    debug: bool = DebugOpt,
):
    """Fine-tune a LoRA adapter on the train split; keep the best epoch by dev macro-F1.

    The adapter is stored as a new version under prompts/<dataset>/<model>/vNNNN/ (adapter.gguf
    for llama.cpp, the peft weights as safetensors, manifest with the training curve, card).
    Ctrl-C, or --max-minutes running out, keeps the best checkpoint so far.
    Needs the finetune extra: bin/setup --finetune.
    """
    with handled(debug):
        from smishctl.finetune import DEFAULT_INSTRUCTIONS
        from smishctl.finetune.run import FinetuneConfig, check_config

        cfg = FinetuneConfig(model=model, dataset=dataset, train_size=_train_size(train_size), dev_size=dev_size,
                             epochs=epochs, rank=rank, alpha=alpha, lr=lr, batch_size=batch_size, seed=seed,
                             max_minutes=max_minutes, device=device, max_length=max_length, loss=loss, calibrate=calibrate, eval_every=eval_every,
                             patience=patience, instructions=instructions or DEFAULT_INSTRUCTIONS, resume=resume,
                             with_feedback=with_feedback)
        check_config(cfg)
        if export_only:
            summary = _export(cfg, export_only, out_dir)
            if as_json:
                print_json(summary)
            else:
                console.print(f"wrote {summary['counts']} chat examples to [bold]{summary['path']}[/bold] "
                              "(train.jsonl, validation.jsonl, hf/)")
            return
        summary = _run_with_progress(cfg)
        warn_unused_feedback((summary.get("dataset") or {}).get("feedback"))
        if as_json:
            print_json(summary)
        else:
            _print_summary(summary)
        if summary["finetune"]["interrupted"]:  # the best checkpoint is stored; still report Ctrl-C to scripts
            raise typer.Exit(130)


def _export(cfg, fmt_name: str, out_dir: Path | None) -> dict:
    from smishctl.core.errors import ConfigError
    from smishctl.finetune.export import FORMATS, export_chat_data
    from smishctl.finetune.run import select_data
    from smishctl.store.artifacts import slug

    if fmt_name not in FORMATS:  # before reading any data
        raise ConfigError(f"unknown export format {fmt_name!r}", hint=f"use one of: {', '.join(FORMATS)}")
    s = settings()
    ds, train, dev, _feedback = select_data(s, cfg)
    target = out_dir or s.root / "exports" / f"{slug(ds.name)}-finetune"
    meta = {"dataset": ds.name, "labels": list(ds.labels), "seed": cfg.seed,
            "split_hashes": {n: ds.split_hash(n) for n in ("train", "dev")}}
    return export_chat_data(target, fmt_name, cfg.instructions, {"train": train, "validation": dev}, meta)


def _run_with_progress(cfg):
    from smishctl.cli.common import item_progress
    from smishctl.finetune.run import run_finetune
    from smishctl.util import interrupt

    progress = item_progress()
    interrupt.install()
    with progress:
        return run_finetune(settings(), cfg, on_event=progress_events(progress, cfg.epochs))


def progress_events(progress, epochs: int):
    """The finetune events as the progress line of every long command: one task per phase (what, steps
    done/total, elapsed, ETA; epoch, loss and best dev score as the note that gives way first), the dev
    scores printed above it as they come, and a phase's details (model, file, device) printed whole."""
    tasks: list = []
    best_dev = ["-"]

    def on_event(kind, *, name=None, total=None, detail=None, step=0, loss=0.0, entry=None, best=None, **_):
        if kind == "phase":
            for task in tasks:
                progress.remove_task(task)
            tasks.clear()
            if detail and not progress.disable:
                progress.console.print(f"{name}: {plain(detail)}")
            tasks.append(progress.add_task(name, total=total, info=""))
        elif kind == "step" and tasks:
            per_epoch = max(1, -(-total // max(1, epochs)))  # steps per epoch, rounded up
            epoch = min(epochs, -(-step // per_epoch))
            progress.update(tasks[0], completed=step, info=f"epoch {epoch}/{epochs} · loss {loss:.3f} · best {best_dev[0]}")
        elif kind == "eval":
            best_dev[0] = fmt(best.dev["macro_f1"]) if best else "-"
            label = "dev baseline" if entry["step"] == 0 else f"step {entry['step']} (epoch {entry['epoch']})"
            console.print(f"{label}: dev macro-F1 {fmt(entry['macro_f1'])}, accuracy {fmt(entry['accuracy'])}"
                          + (f", train loss {entry['train_loss']:.3f}" if entry["train_loss"] is not None else ""))

    return on_event


def _print_summary(s: dict) -> None:
    f, d = s["finetune"], s["dev_metrics"]
    note: str | None = {"budget": " [yellow](budget exhausted: best checkpoint so far)[/yellow]",
            "interrupted": " [yellow](interrupted: best checkpoint so far)[/yellow]",
            "early-stop": " (stopped early: no dev gain)"}.get(f["stop_reason"], "")
    console.print(f"dev macro-F1: base {fmt(d['baseline']['macro_f1'])} -> fine-tuned {fmt(d['optimized']['macro_f1'])}"
                  f" (best at step {f['best_step']} of {f['steps']}){note}")
    from smishctl.solve.calibration import calibration_note

    note = calibration_note(s.get("calibration"))
    if note:
        console.print(note)
    console.print(f"{s['dataset']['train_size']} training messages, {s['spend']['wall_seconds']} s on {f['device']}")
    console.print(f"wrote [bold]{s['artifact']}[/bold] ({s['path']})")
    console.print(f"next: smishctl evaluate --prompt {s['artifact']}")
