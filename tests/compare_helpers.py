"""Builders shared by the compare/promote tests: synthetic runs and prompt artifacts."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

LABELS = ("ham", "spam", "smishing")
REPO = Path(__file__).resolve().parents[1]


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


def write_run(runs_dir: Path, run_id: str, rows: list[tuple], *, model: str = "test/model", prompt_id: str = "zero-shot",
              prompt_sha: str = "zero-shot", dataset: str = "sms-phishing", split: str = "test",
              items_hash: str | None = None, latency_ms: float = 100.0, cost_usd: float | None = 0.0001,
              labels=LABELS, status: str = "complete", created_at: str = "2026-01-01T00:00:00+0000",
              config: dict | None = None) -> Path:
    """A run folder from (item_id, gold, pred, status) tuples, with metrics computed by smishctl itself."""
    from smishctl.score.metrics import compute_metrics

    preds = []
    for i, row in enumerate(rows):
        item_id, gold, pred, st = (*row, "ok")[:4] if len(row) == 3 else row
        preds.append({"item_id": item_id, "index": i, "gold": gold, "pred": pred if st == "ok" else None,
                      "status": st, "error": "boom" if st == "error" else None,
                      "raw": pred if st == "invalid" else None, "latency_ms": latency_ms + i,
                      "usage": {"prompt_tokens": 300, "completion_tokens": 10, "cached_tokens": 0},
                      "cache_hit": False, "cost_usd": cost_usd, "text": f"text {item_id}"})
    items_hash = items_hash or hashlib.sha256("\n".join(sorted(r[0] for r in rows)).encode()).hexdigest()
    record = {
        "id": run_id, "kind": "evaluation", "status": status, "created_at": created_at,
        "config": config or {"model": model, "prompt": prompt_id, "dataset": dataset, "split": split,
                             "limit": len(rows), "balanced": False},
        "config_hash": "synthetic-" + run_id,
        "model": {"name": model}, "prompt": {"id": prompt_id, "sha256": prompt_sha, "optimizer": None},
        "dataset": {"name": dataset, "split": split, "labels": list(labels), "items_hash": items_hash,
                    "n_items": len(rows), "provenance": {"sha256": "abc"}},
        "metrics": compute_metrics(preds, tuple(labels)),
    }
    d = Path(runs_dir) / run_id
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (d / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds), encoding="utf-8")
    return d


def items(n: int, labels=LABELS) -> list[tuple[str, str]]:
    """n (item_id, gold) pairs cycling through the labels."""
    return [(f"i{k:03d}", labels[k % len(labels)]) for k in range(n)]


def predictions(golds: list[tuple[str, str]], wrong: set[int], labels=LABELS) -> list[tuple]:
    """Predict gold except at the indices in `wrong` (the next label instead)."""
    out = []
    for k, (iid, g) in enumerate(golds):
        p = labels[(labels.index(g) + 1) % len(labels)] if k in wrong else g
        out.append((iid, g, p, "ok"))
    return out


def new_project(root: Path) -> Path:
    """A project folder like the conftest `project` fixture (for module-scoped fixtures)."""
    from conftest import SESSION_CACHE

    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    cache = root / ".cache"
    cache.mkdir(exist_ok=True)
    SESSION_CACHE.mkdir(parents=True, exist_ok=True)
    for shared in ("models", "hf-datasets"):
        (SESSION_CACHE / shared).mkdir(exist_ok=True)
        if not (cache / shared).exists():
            (cache / shared).symlink_to(SESSION_CACHE / shared)
    return root
