"""Benchmark: LoRA fine-tuning of the embedded 0.5B (`smishctl finetune`), evaluated on the held-out TEST
split exactly as it is served: `smishctl evaluate` of the artifact (llama.cpp with the adapter, score
adapter, first-token label probabilities), side by side with the classic baselines on the same items.

Usage: .venv/bin/python bench/bench_finetune.py [--train-sizes 300 1000 all] [--losses first answer]
       [--epochs 1] [--lr 3e-4] [--eval-every STEPS] [--n 150] [--small 60] [--max-minutes M] [--device auto]
       [--project DIR] [--with-prompt ARTIFACT ...]
Needs the finetune extra (bin/setup --finetune). For each training size and loss target: training wall
time (and minutes per 100 messages), the best dev macro-F1, then on `sample(test, N, balanced=True,
seed=13)` (the items of bench_label_scoring.py; the --small sample is a subset of it): macro-F1 with a
95% bootstrap interval, per-class F1, smishing recall, p50 latency, and paired intervals of the
difference to classic/tfidf-knn and classic/tfidf-svm. --with-prompt adds rows for prompt artifacts of
the project (e.g. the optimized default program), evaluated on the same items. Records the load average:
the machine is shared. Prints JSON lines, then a Markdown table per sample.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from _common import model_project  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-sizes", nargs="+", default=["300"])
    ap.add_argument("--losses", nargs="+", default=["first"], choices=("first", "answer"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--eval-every", type=int, default=None, help="steps between dev scores (default: per epoch)")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--small", type=int, default=60)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--project", default=None, help="reuse a project folder (its prompts and DSPy cache)")
    ap.add_argument("--with-prompt", nargs="*", default=[], help="prompt artifacts to add as rows")
    args = ap.parse_args()

    root = model_project(args.project, "smishctl-bench-ft-")
    from bench_label_scoring import figures, rows_of, table

    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune.run import FinetuneConfig, run_finetune
    from smishctl.ops.evaluate import EvalConfig, evaluate

    settings = load_settings(root)
    ds = load_dataset_splits(None, settings)
    labels = ds.labels
    small_ids = {ex.id for ex in sample(ds.split("test"), args.small, balanced=True, seed=13)}

    def run(model=None, prompt="zero-shot"):
        t = time.perf_counter()
        rec = evaluate(settings, EvalConfig(model=model, prompt=prompt, limit=args.n, balanced=True))
        print(f"  evaluated {model or 'local'} {prompt} on {rec['metrics']['n_items']} in "
              f"{time.perf_counter() - t:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        return rows_of(settings, rec["id"])

    programs = {"zero-shot (score)": run()}
    for ref in args.with_prompt:
        programs[f"prompt {ref}"] = run(prompt=ref)
    for size in args.train_sizes:
        for loss in args.losses:
            load_before = os.getloadavg()[0]
            cfg = FinetuneConfig(train_size=None if size == "all" else int(size), epochs=args.epochs, lr=args.lr,
                                 batch_size=args.batch_size, max_minutes=args.max_minutes, device=args.device,
                                 loss=loss, eval_every=args.eval_every)
            s = run_finetune(settings, cfg)
            f, n = s["finetune"], s["dataset"]["train_size"]
            info = {"artifact": s["artifact"], "train_size": n, "loss": loss, "lr": f["lr"], "epochs": f["epochs"],
                    "steps": f["steps"], "best_step": f["best_step"], "stop_reason": f["stop_reason"],
                    "device": f["device"], "train_wall_s": s["spend"]["train_seconds"],
                    "wall_s": s["spend"]["wall_seconds"],
                    "train_min_per_100": round(s["spend"]["train_seconds"] / 60 / n * 100, 2),
                    "dev_macro_f1": round(s["dev_metrics"]["optimized"]["macro_f1"], 3),
                    "dev_baseline": round(s["dev_metrics"]["baseline"]["macro_f1"], 3),
                    "curve": [(c["step"], round(c["macro_f1"], 3), c["train_loss"] and round(c["train_loss"], 3))
                              for c in s["training_curve"]],
                    "load_avg": round((load_before + os.getloadavg()[0]) / 2, 2)}
            print(json.dumps(info), flush=True)
            programs[f"LoRA {n} msgs, loss {loss}, {f['epochs']} ep, lr {f['lr']} ({s['artifact'].rsplit('/', 2)[-1]})"] \
                = run(prompt=s["artifact"])
    programs["classic/tfidf-svm"] = run(model="classic/tfidf-svm")
    programs["classic/tfidf-knn"] = run(model="classic/tfidf-knn")
    big = {name: figures(list(r.values()), labels) for name, r in programs.items()}
    small = {name: figures([x for i, x in r.items() if i in small_ids], labels) for name, r in programs.items()}
    print(table(f"{args.n} balanced test messages", big, labels))
    print(table(f"{args.small} balanced test messages (subset of the above)", small, labels))
    print(f"\nproject {root}; load average {os.getloadavg()[0]:.2f}")
    if not args.project:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
