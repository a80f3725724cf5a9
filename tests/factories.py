"""One place where tests make projects' evidence: prompt artifacts through the artifact store's own
builder, and runs through `smishctl.ops.evaluate.prepare` (the real record: identity, serving
identity, dataset reference, items) with answers chosen by the test instead of a model, written with
the run store's own writers. A run made here is exactly what `evaluate` would have written had the
model answered that way, so promote, compare and must-pass treat it as they treat a real one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from compare_helpers import LABELS, make_artifact  # noqa: F401  (re-exported: the one artifact builder)

from smishctl.core.records import Prediction, RunRecord
from smishctl.ops.evaluate import EvalConfig, prepare
from smishctl.score.metrics import run_metrics
from smishctl.store.runs import PredictionWriter, Run, run_dir

PROMOTION_ITEMS = 30  # the test-split sample promotion tests evaluate (with [promotion] min_items)


def next_label(gold: str, labels=LABELS) -> str:
    return labels[(labels.index(gold) + 1) % len(labels)]


def cycled_order(items, picks: Iterable[int], labels=LABELS) -> list[int]:
    """Positions in `items` of the picks counted in label-cycled order (ham, spam, smishing, ham, …):
    on a balanced sample, pick k always has label labels[k % 3], whatever order sampling gave."""
    by_label = {lab: [i for i, ex in enumerate(items) if ex.label == lab] for lab in labels}
    cycled = [by_label[labels[k % len(labels)]][k // len(labels)] for k in range(len(items))
              if k // len(labels) < len(by_label[labels[k % len(labels)]])]
    return [cycled[k] for k in picks]


def record_run(settings, cfg: EvalConfig, *, answer: Callable[[int, object], str | None] | None = None,
               wrong: Iterable[int] = (), errors: Iterable[int] = (), run_id: str | None = None, status: str = "complete",
               latency_ms: float = 100.0, cache_hit: bool = False, cost_usd: float | None = 0.0001,
               probs: bool = False) -> RunRecord:
    """The run `evaluate` would record for `cfg` if the model answered `answer(index, example)` (None: an
    error row), by default the gold label except for the items picked by `wrong` (see `cycled_order`),
    which get the next label, and those picked by `errors`, which fail. `probs`: each answer comes with
    label probabilities (0.8 on the answer, the rest shared)."""
    plan = prepare(settings, cfg)
    record = plan.record
    if run_id:
        record.id = run_id
        plan.run = Run(run_dir(settings.runs_dir, run_id))
    wrong_ids = {plan.items[i].id for i in cycled_order(plan.items, wrong)}
    error_ids = {plan.items[i].id for i in cycled_order(plan.items, errors)}

    def default(k, ex):
        if ex.id in error_ids:
            return None
        return next_label(ex.label) if ex.id in wrong_ids else ex.label

    answer = answer or default
    plan.run.dir.mkdir(parents=True)
    writer = PredictionWriter(plan.run.predictions_path)
    rows = []
    for k, ex in enumerate(plan.items):
        pred = answer(k, ex)
        row = Prediction(item_id=ex.id, index=k, gold=ex.label, pred=pred, status="ok" if pred else "error",
                         error=None if pred else "boom", latency_ms=latency_ms + k,
                         probs=_probs(pred, record.labels) if probs and pred else None,
                         usage={"prompt_tokens": 300, "completion_tokens": 1, "cached_tokens": 0},
                         cache_hit=cache_hit, cost_usd=cost_usd, text=ex.text)
        writer.write(row)
        rows.append(row.to_dict())
    writer.close()
    record.status, record.metrics, record.finished_at = status, run_metrics(rows, record), record.created_at
    plan.run.write(record)
    return plan.run.record()


def _probs(pred: str, labels) -> dict[str, float]:
    rest = 0.2 / (len(labels) - 1)
    return {lab: 0.8 if lab == pred else rest for lab in labels}


def promotion_config(art, *, n: int | None = PROMOTION_ITEMS, **overrides) -> EvalConfig:
    """What promote evaluates for `art` (its manifest's model and dataset, the test split), on `n` items."""
    m = art.manifest
    return EvalConfig(**{"model": (m.get("model") or {}).get("name"), "prompt": str(art.dir),
                         "dataset": (m.get("dataset") or {}).get("name"), "split": "test", "limit": n,
                         "balanced": n is not None, **overrides})


def promotion_run(settings, art, wrong: Iterable[int] = (), *, errors: Iterable[int] = (),
                  run_id: str | None = None, n: int | None = PROMOTION_ITEMS, probs: bool = False,
                  **overrides) -> RunRecord:
    """A complete test-split run of `art` as production would serve it (on `n` items; see
    `accept_small_promotions`), right except at the indices in `wrong`."""
    return record_run(settings, promotion_config(art, n=n, **overrides), wrong=wrong, errors=errors, run_id=run_id,
                      probs=probs)


def accept_small_promotions(settings, n: int = PROMOTION_ITEMS) -> None:
    """`[promotion] min_items = n`, in the loaded settings and in the project's smishctl.toml (for the CLI),
    so promotion tests can evaluate a sample instead of the whole test split."""
    settings.raw.setdefault("promotion", {})["min_items"] = n
    path = settings.root / "smishctl.toml"
    text = re.sub(r"(?m)^min_items = .*\n", "", path.read_text(encoding="utf-8"))
    if "[promotion]\n" in text:
        text = text.replace("[promotion]\n", f"[promotion]\nmin_items = {n}\n", 1)
    else:
        text += f"\n[promotion]\nmin_items = {n}\n"
    path.write_text(text, encoding="utf-8")
