"""Benchmark: LoRA fine-tuning of the embedded 0.5B (`smishctl finetune`), scored on the held-out TEST split
through llama.cpp with the adapter, as it is served.

Usage: .venv/bin/python bench/bench_finetune.py [--train-sizes 300 1000 all] [--epochs 1] [--test-n 60]
       [--max-minutes M] [--lr 3e-4] [--batch-size 8] [--device auto]
Needs the finetune extra (bin/setup --finetune). For each training size: the training wall time (and
minutes per 100 messages), the best dev macro-F1, then test macro-F1 and serving latency per message on
`sample(test, N, balanced=True, seed=13)` (the items of bench_optimize.py), decided by the first-token
label probabilities (max_tokens=1, logprobs). The base model with the same short instruction is the
zero-shot row. Records the load average: the machine is shared. Prints JSON lines, then a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="smishctl-bench-ft-"))
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    os.environ["SMISHCTL_HOME"] = str(root)
    os.environ.setdefault("SMISHCTL_DATA_MIRROR", str((REPO.parent / "shared" / "datasets").resolve()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    (root / ".cache").mkdir()
    if (REPO / ".cache" / "models").is_dir():
        (root / ".cache" / "models").symlink_to(REPO / ".cache" / "models")
    return root


def _score(spec, settings, instructions, test, labels, first) -> dict:
    from smishctl.finetune.torch_model import decide
    from smishctl.score.metrics import compute_metrics
    from smishctl.store.serving import served_label_probabilities

    served_label_probabilities(spec, settings, instructions, [test[0].text], labels, first)  # load the server
    t = time.perf_counter()
    probs = served_label_probabilities(spec, settings, instructions, [e.text for e in test], labels, first)
    per_msg = (time.perf_counter() - t) / len(test)
    rows = [{"item_id": e.id, "gold": e.label, "pred": decide(p), "status": "ok"} for e, p in zip(test, probs, strict=True)]
    m = compute_metrics(rows, labels)
    return {"test_macro_f1": round(m["macro_f1"], 3), "test_accuracy": round(m["accuracy"], 3),
            "per_class_f1": {k: round(v["f1"], 3) for k, v in m["per_class"].items()},
            "serve_s_per_msg": round(per_msg, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-sizes", nargs="+", default=["300"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--test-n", type=int, default=60)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    root = _project()
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune import DEFAULT_INSTRUCTIONS
    from smishctl.finetune.run import FinetuneConfig, run_finetune
    from smishctl.store.serving import finetune_model_spec, local_base

    settings = load_settings(root)
    ds = load_dataset_splits(None, settings)
    test = sample(ds.split("test"), args.test_n, balanced=True, seed=13)
    first = {"ham": "ham", "spam": "spam", "smishing": "sm"}  # Qwen2 first tokens (checked by the tests)
    spec, _, _ = local_base(None, settings)
    rows = [{"program": "zero-shot (base, short instruction)", "train_size": 0, "load_avg": os.getloadavg()[0],
             **_score(spec, settings, DEFAULT_INSTRUCTIONS, test, ds.labels, first)}]
    print(json.dumps(rows[-1]), flush=True)
    from smishctl.store.artifacts import resolve_artifact

    for size in args.train_sizes:
        load_before = os.getloadavg()[0]
        cfg = FinetuneConfig(train_size=None if size == "all" else int(size), epochs=args.epochs, lr=args.lr,
                             batch_size=args.batch_size, max_minutes=args.max_minutes, device=args.device)
        s = run_finetune(settings, cfg)
        f = s["finetune"]
        art = resolve_artifact(settings.prompts_dir, s["artifact"])
        served = finetune_model_spec(art, settings)
        n = s["dataset"]["train_size"]
        rows.append({"program": f"lora r={f['rank']} ({f['epochs']} epoch, lr {f['lr']})", "train_size": n,
                     "train_wall_s": s["spend"]["train_seconds"], "wall_s": s["spend"]["wall_seconds"],
                     "train_min_per_100": round(s["spend"]["train_seconds"] / 60 / n * 100, 2),
                     "steps": f["steps"], "stop_reason": f["stop_reason"], "device": f["device"],
                     "dev_macro_f1": round(s["dev_metrics"]["optimized"]["macro_f1"], 3),
                     "load_avg": round((load_before + os.getloadavg()[0]) / 2, 2),
                     **_score(served, settings, DEFAULT_INSTRUCTIONS, test, ds.labels, first)})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n| program | train msgs | test macro-F1 (n={args.test_n}) | dev macro-F1 | train min/100 msgs | "
          "serve s/msg | load avg |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['program']} | {r['train_size']} | {r['test_macro_f1']:.3f} | {r.get('dev_macro_f1', '-')} | "
              f"{r.get('train_min_per_100', '-')} | {r['serve_s_per_msg']:.3f} | {r['load_avg']} |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
