"""The training loop: LoRA steps on the label tokens, dev macro-F1 after every epoch (or every
`eval_every` steps), the best checkpoint kept in memory, a time budget and Ctrl-C honoured."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from smishctl.core.errors import ConfigError
from smishctl.finetune.encode import IGNORE, encode_example
from smishctl.finetune.torch_model import causal_lm_loss, decide, label_probabilities, lora_state
from smishctl.score.metrics import compute_metrics
from smishctl.util import interrupt


@dataclass
class TrainConfig:
    instructions: str
    labels: tuple[str, ...]
    epochs: int = 1
    lr: float = 3e-4
    batch_size: int = 8
    seed: int = 13
    max_length: int = 256
    loss: str = "first"  # see encode.LOSS_TARGETS
    eval_every: int | None = None  # steps between dev scores; None: once per epoch
    patience: int | None = None  # stop after this many dev scores without a gain
    deadline: float | None = None  # time.monotonic() by which the best checkpoint must be ready (read every step)


@dataclass
class Checkpoint:
    step: int
    epoch: float
    dev: dict  # macro_f1, accuracy, gold_prob
    state: dict = field(repr=False)
    dev_rows: list = field(default_factory=list, repr=False)  # per dev message: gold, pred, probs over the labels


@dataclass
class TrainResult:
    best: Checkpoint | None
    baseline_dev: dict
    curve: list[dict]
    steps: int
    stop_reason: str  # completed | early-stop | budget | interrupted
    train_seconds: float


def dev_score(model, tokenizer, cfg: TrainConfig, dev, device: str) -> tuple[dict, list[dict]]:
    """(figures, rows): the rows carry the probabilities normalised over the labels, as served, so a
    calibration can be fitted on them without another pass."""
    probs = label_probabilities(model, tokenizer, cfg.instructions, [e.text for e in dev], cfg.labels,
                                batch_size=cfg.batch_size, device=device)
    rows = []
    for e, p in zip(dev, probs, strict=True):
        total = sum(p.values()) or 1.0
        rows.append({"item_id": e.id, "gold": e.label, "pred": decide(p), "status": "ok",
                     "probs": {lab: v / total for lab, v in p.items()}})
    m = compute_metrics(rows, cfg.labels)
    gold_prob = sum(p[e.label] for e, p in zip(dev, probs, strict=True)) / len(dev)
    return {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "gold_prob": gold_prob}, rows


def _better(new: dict, old: dict | None) -> bool:
    return old is None or (new["macro_f1"], new["gold_prob"]) > (old["macro_f1"], old["gold_prob"])


def _batch_tensors(encoded: list[tuple[list[int], list[int]]], pad: int, device: str):
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in encoded], device=device)
    labels = torch.tensor([lab + [IGNORE] * (width - len(lab)) for _, lab in encoded], device=device)
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in encoded], device=device)
    return ids, mask, labels


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower() \
        or "can't allocate memory" in str(exc).lower()


def train(model, tokenizer, train_set, dev_set, cfg: TrainConfig, *, device: str,
          on_event: Callable[..., None] | None = None) -> TrainResult:
    """Train `model` (a peft model) in place; returns the best checkpoint by dev macro-F1."""
    import torch

    emit = on_event or (lambda *a, **k: None)
    started = time.monotonic()
    encoded = [encode_example(tokenizer, cfg.instructions, e.text, e.label, cfg.max_length, cfg.loss) for e in train_set]
    per_epoch = math.ceil(len(encoded) / cfg.batch_size)
    total_steps = per_epoch * cfg.epochs
    eval_every = cfg.eval_every or per_epoch
    emit("phase", name="dev baseline", total=None)
    eval_started = time.monotonic()
    baseline, _ = dev_score(model, tokenizer, cfg, dev_set, device)
    eval_seconds = time.monotonic() - eval_started
    curve: list[dict] = [{"step": 0, "epoch": 0.0, "train_loss": None, **baseline}]
    emit("eval", entry=curve[-1], best=None)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    best: Checkpoint | None = None
    losses: list[float]
    step, since_eval, losses, no_gain = 0, 0, [], 0
    step_seconds: float | None = None
    stop_reason = "completed"
    emit("phase", name="training", total=total_steps)
    model.train()

    def evaluate_now() -> None:
        nonlocal best, since_eval, losses, no_gain
        dev, dev_rows = dev_score(model, tokenizer, cfg, dev_set, device)
        entry = {"step": step, "epoch": round(step / per_epoch, 3),
                 "train_loss": sum(losses) / len(losses) if losses else None, **dev}
        curve.append(entry)
        if _better(dev, best.dev if best else None):
            best = Checkpoint(step=step, epoch=entry["epoch"], dev=dev, state=lora_state(model), dev_rows=dev_rows)
            no_gain = 0
        else:
            no_gain += 1
        since_eval, losses = 0, []
        emit("eval", entry=entry, best=best)

    try:
        for _epoch in range(cfg.epochs):
            order = list(range(len(encoded)))
            rng.shuffle(order)
            for start in range(0, len(order), cfg.batch_size):
                interrupt.check()
                if cfg.deadline is not None:
                    # Stop while there is still time for this step and the final dev score.
                    need = (step_seconds or 0.0) + eval_seconds
                    if time.monotonic() + need > cfg.deadline:
                        if step == 0:
                            raise ConfigError(
                                f"the --max-minutes budget is too small for one training step (loading and "
                                f"the dev baseline took {time.monotonic() - started:.0f} s here)",
                                hint="raise --max-minutes")
                        stop_reason = "budget"
                        raise StopIteration
                t0 = time.monotonic()
                batch = [encoded[i] for i in order[start:start + cfg.batch_size]]
                ids, mask, labels = _batch_tensors(batch, tokenizer.pad_token_id, device)
                try:
                    loss = causal_lm_loss(model, ids, mask, labels)
                    loss.backward()
                except RuntimeError as exc:
                    if _is_oom(exc):
                        raise ConfigError(f"out of memory in a training step of {len(batch)} messages on {device}",
                                          hint="lower --batch-size or --max-length") from None
                    raise
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                since_eval += 1
                losses.append(float(loss.detach()))
                step_seconds = time.monotonic() - t0
                left = (total_steps - step) * step_seconds
                if cfg.deadline is not None:
                    left = min(left, max(0.0, cfg.deadline - time.monotonic()))
                emit("step", step=step, total=total_steps, loss=losses[-1], seconds_left=left, best=best)
                if step % eval_every == 0 or step == total_steps:
                    evaluate_now()
                    if cfg.patience is not None and no_gain >= cfg.patience:
                        stop_reason = "early-stop"
                        raise StopIteration
    except StopIteration:
        pass
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    if since_eval and step:  # steps after the last dev score: score them too before choosing
        emit("phase", name="dev score of the last steps", total=None)
        evaluate_now()
    return TrainResult(best=best, baseline_dev=baseline, curve=curve, steps=step, stop_reason=stop_reason,
                       train_seconds=time.monotonic() - started)
