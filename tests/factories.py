"""One place where tests make projects' evidence: prompt artifacts through the artifact store's own
builder, and runs through the run store's own writers (`Run.write`, `PredictionWriter`) with metrics
computed by `smishctl.score.metrics`, so every record is one the product could have written.

Two ways to choose a run's items, one way to write it:
- `record_run`: the items `smishctl.ops.evaluate.prepare` samples for an `EvalConfig` (the real record:
  identity, serving identity, dataset reference), with answers chosen by the test instead of a model. A
  run made so is exactly what `evaluate` would have written, so promote, compare and must-pass treat it
  as they treat a real one.
- `write_run`: items named by the test (`items`, `predictions`), for compare and its reports, where no
  dataset needs loading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict

from smishctl.core.identity import ServingIdentity, config_hash
from smishctl.core.records import Prediction, RunRecord
from smishctl.ops.evaluate import EvalConfig, library_versions, prepare
from smishctl.score.evidence import rows_items_hash
from smishctl.score.metrics import run_metrics
from smishctl.store.runs import PredictionWriter, Run, run_dir

LABELS = ("ham", "spam", "smishing")
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
               latency_ms: float = 100.0, cache_hit: bool = False, cached: Iterable[int] = (),
               cost_usd: float | None = 0.0001, probs: bool = False) -> RunRecord:
    """The run `evaluate` would record for `cfg` if the model answered `answer(index, example)` (None: an
    error row), by default the gold label except for the items picked by `wrong` (see `cycled_order`),
    which get the next label, and those picked by `errors`, which fail. `cache_hit`: every answer came
    from the cache; `cached`: the answers at these positions did. `probs`: each answer comes with label
    probabilities (0.8 on the answer, the rest shared)."""
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
    cached = set(cached)
    rows = []
    for k, ex in enumerate(plan.items):
        pred = answer(k, ex)
        rows.append(_row(k, ex.id, ex.label, pred, "ok" if pred else "error", text=ex.text, latency_ms=latency_ms,
                         cost_usd=cost_usd, cache_hit=cache_hit or k in cached,
                         probs=_probs(pred, record.labels) if probs and pred else None))
    return _store(plan.run, record, rows, status)


def write_run(runs_dir, run_id: str, rows: list[tuple | Prediction], *, model: str = "test/model", prompt_id: str = "zero-shot",
              prompt_sha: str = "zero-shot", dataset: str = "sms-phishing", split: str = "test",
              latency_ms: float = 100.0, cost_usd: float | None = 0.0001, labels=LABELS, status: str = "complete",
              created_at: str = "2026-01-01T00:00:00+0000", probs: dict[str, dict] | None = None) -> RunRecord:
    """A run of the test's own items, recorded as `evaluate` records one: a serving identity hashed into its
    config hash, a config that agrees with it, rows through the prediction writer, the items hash and the
    metrics computed from those rows by smishctl's own functions.

    `rows`: (item_id, gold, pred[, status]) tuples (status ok, invalid or error), written in the order given;
    the items are sampled in item-id order (so reordered rows are the same items), or rows as the solver
    recorded them (`Prediction`, their own index). `probs`: label probabilities by item id."""
    named = sorted(row[0] for row in rows if not isinstance(row, Prediction))
    position = {item_id: k for k, item_id in enumerate(named)}
    preds = [row if isinstance(row, Prediction) else
             _row(k, row[0], row[1], row[2], (*row[3:], "ok")[0], index=position[row[0]], text=f"text {row[0]}",
                  latency_ms=latency_ms, cost_usd=cost_usd, probs=(probs or {}).get(row[0]))
             for k, row in enumerate(rows)]
    items_hash = rows_items_hash([row.to_dict() for row in preds])  # what promote and compare check it against
    serving = ServingIdentity(model=model, endpoint="synthetic", program_sha256=prompt_sha, adapter=None,
                              harden=True, guard=True)
    identity = {**serving.identity_keys(), "prompt": prompt_id, "dataset": dataset, "items_hash": items_hash,
                "temperature": 0.0}
    config = EvalConfig(model=model, prompt=prompt_id, dataset=dataset, split=split, limit=len(rows))
    record = RunRecord(
        id=run_id, status="running", created_at=created_at, config=asdict(config), config_hash=config_hash(identity),
        identity=identity, model={"name": model}, prompt={"id": prompt_id, "sha256": prompt_sha, "optimizer": None},
        dataset={"name": dataset, "split": split, "labels": list(labels), "items_hash": items_hash,
                 "n_items": len(rows), "model_labels": list(labels)},
        versions=library_versions())
    return _store(Run(run_dir(runs_dir, run_id)), record, preds, status)


def _row(k: int, item_id: str, gold: str, pred: str | None, status: str, *, text: str, latency_ms: float,
         cost_usd: float | None, cache_hit: bool = False, probs: dict | None = None,
         index: int | None = None) -> Prediction:
    """The k-th row written (of the item at `index`, by default k) as the solver records it: an error carries
    its message, an invalid answer its raw text, an answer from the cache no usage and no cost."""
    usage = {} if cache_hit else {"prompt_tokens": 300, "completion_tokens": 1, "cached_tokens": 0}
    return Prediction(item_id=item_id, index=k if index is None else index, gold=gold, status=status,
                      pred=pred if status == "ok" else None, error="boom" if status == "error" else None, raw=pred if status == "invalid" else None,
                      latency_ms=latency_ms + k, probs=probs, cache_hit=cache_hit, text=text, usage=usage,
                      cost_usd=0.0 if cache_hit else cost_usd)


def _store(run: Run, record: RunRecord, rows: list[Prediction], status: str) -> RunRecord:
    """The one way a test run is written: the rows through the prediction writer, then the record with the
    metrics `evaluate` computes from those rows, through the run store (which validates it)."""
    run.dir.mkdir(parents=True)
    writer = PredictionWriter(run.predictions_path)
    for row in rows:
        writer.write(row)
    writer.close()
    record.status, record.finished_at = status, record.created_at
    record.metrics = run_metrics([row.to_dict() for row in rows], record)
    run.write(record)
    return run.record()


def _probs(pred: str, labels) -> dict[str, float]:
    rest = 0.2 / (len(labels) - 1)
    return {lab: 0.8 if lab == pred else rest for lab in labels}


def items(n: int, labels=LABELS) -> list[tuple[str, str]]:
    """n (item_id, gold) pairs cycling through the labels (as `cycled_order` counts a balanced sample)."""
    return [(f"i{k:03d}", labels[k % len(labels)]) for k in range(n)]


def predictions(golds: list[tuple[str, str]], wrong: set[int], labels=LABELS) -> list[tuple]:
    """Rows for `write_run`: gold except at the indices in `wrong` (the next label instead)."""
    return [(iid, g, next_label(g, labels) if k in wrong else g, "ok") for k, (iid, g) in enumerate(golds)]


def make_artifact(settings, *, instructions: str | None = None, model: str = "local/qwen2.5-coder-0.5b",
                  dataset: str = "sms-phishing", labels=LABELS, adapter: str | None = None):
    """A real prompt artifact (zero-shot program state, rendered messages, checksummed manifest).
    Without `adapter` it is written as before adapters were recorded (DSPy's JSON adapter)."""
    from dspy.utils.saving import get_dependency_versions

    from smishctl.solve.adapters import AdapterConfig
    from smishctl.solve.signature import make_program
    from smishctl.store.artifacts import save_artifact
    from smishctl.store.programs import render_messages

    program = make_program(tuple(labels), instructions)
    state = program.dump_state()
    state["metadata"] = {"dependency_versions": get_dependency_versions()}  # as dspy's Module.save writes it
    config = AdapterConfig(name=adapter) if adapter else None
    if config:
        state["adapter"] = config.to_dict()
    return save_artifact(
        settings.prompts_dir, dataset, model, program_state=state,
        messages=render_messages(program, tuple(labels), config),
        manifest={"labels": list(labels), "model": {"name": model}, "dataset": {"name": dataset},
                  "optimizer": {"name": "test"}},
        card="# {{id}}\n")


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
