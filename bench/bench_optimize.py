"""Benchmark: each optimizer on the embedded model, scored on the held-out TEST split.

Usage: .venv/bin/python bench/bench_optimize.py [--optimizers labeled knn knn:k=16 gepa:max_metric_calls=150]
       [--test-n 90] [--small 60] [--dev-size 45] [--model local/qwen2.5-coder-0.5b] [--adapter score]
       [--classic] [--project DIR]
Each optimizer may carry parameters after colons (NAME:KEY=VALUE:KEY=VALUE), as `--param` takes them.
The test split is never seen while optimizing (optimizers use train and dev only). Each row:
test macro-F1 of the zero-shot program and of the optimized one on the same balanced test
sample, the optimizer's wall time and LM calls. Prints JSON lines, then a Markdown table.
--classic adds classic/tfidf-svm and classic/tfidf-knn on the same items and prints, for the --test-n
sample and its balanced --small subset, the table of bench_label_scoring.py: macro-F1 with a 95%
bootstrap interval, per-class F1, smishing recall and the paired difference to each classic baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _common import model_project

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--optimizers", nargs="+", default=["labeled", "knn"])
    ap.add_argument("--test-n", type=int, default=90)
    ap.add_argument("--dev-size", type=int, default=45)
    ap.add_argument("--model", default=None)
    ap.add_argument("--adapter", default=None, help="score (the default), chat or json")
    ap.add_argument("--small", type=int, default=60)
    ap.add_argument("--classic", action="store_true")
    ap.add_argument("--project", default=None, help="reuse a project folder (its DSPy cache and prompts)")
    args = ap.parse_args()

    root = model_project(args.project, "smishctl-bench-opt-")

    from _common import macro_f1_interval, paired_gain_interval

    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, evaluate
    from smishctl.ops.optimize import OptimizeConfig, optimize
    from smishctl.solve.optimizers import parse_params

    settings = load_settings(root)
    runs: dict[str, str] = {}

    def test(prompt, model=args.model):
        rec = evaluate(settings, EvalConfig(model=model, prompt=prompt, limit=args.test_n, balanced=True,
                                            adapter=None if model and model.startswith("classic/") else args.adapter))
        runs[prompt if model == args.model else model] = rec["id"]
        return rec["metrics"]

    t = time.perf_counter()
    zero = test("zero-shot")
    zero_s = time.perf_counter() - t
    rows = [{"optimizer": "zero-shot", "test_macro_f1": zero["macro_f1"], "test_accuracy": zero["accuracy"],
             "test_macro_f1_ci95": macro_f1_interval(settings, runs["zero-shot"])["ci95"],
             "optimize_wall_s": 0, "lm_calls": 0, "test_p50_ms": zero["latency_ms"]["p50"],
             "per_class_f1": {k: round(v["f1"], 3) for k, v in zero["per_class"].items()},
             "test_eval_s": round(zero_s, 1)}]
    print(json.dumps(rows[-1]), flush=True)
    names = {"zero-shot": "zero-shot"}
    for entry in [o for o in args.optimizers if o and o != "zero-shot"]:
        name, *pairs = entry.split(":")
        t = time.perf_counter()
        result = optimize(settings, OptimizeConfig(model=args.model, optimizer=name, dev_size=args.dev_size,
                                                   params=parse_params(pairs), langfuse=False,
                                                   **({"adapter": args.adapter} if args.adapter else {})))
        s, art = result.summary, result.artifact
        wall = time.perf_counter() - t
        t = time.perf_counter()
        m = test(art)
        rows.append({"optimizer": entry, "artifact": art, "test_macro_f1": m["macro_f1"],
                     "test_macro_f1_ci95": macro_f1_interval(settings, runs[art])["ci95"],
                     "gain_vs_zero_shot": paired_gain_interval(settings, runs["zero-shot"], runs[art]),
                     "test_accuracy": m["accuracy"], "dev_macro_f1": s.optimized.macro_f1,
                     "optimize_wall_s": round(wall, 1), "lm_calls": s.spend.lm_calls,
                     "test_p50_ms": m["latency_ms"]["p50"], "test_eval_s": round(time.perf_counter() - t, 1),
                     "per_class_f1": {k: round(v["f1"], 3) for k, v in m["per_class"].items()}})
        print(json.dumps(rows[-1]), flush=True)
        names[art] = entry
    print(f"\n| optimizer | test macro-F1 [95% CI] (n={args.test_n}, balanced) | gain vs zero-shot [paired 95% CI] "
          "| optimize wall (s) | LM calls | test p50 latency (ms) |\n|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = r["test_macro_f1_ci95"]
        g = r.get("gain_vs_zero_shot")
        gain = f"{g['gain']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}]" + ("" if g["significant"] else
                                                                                 " (not a gain)") if g else "-"
        print(f"| {r['optimizer']} | {r['test_macro_f1']:.3f} [{lo:.3f}, {hi:.3f}] | {gain} | "
              f"{r['optimize_wall_s']} | {r['lm_calls']} | {r['test_p50_ms']:.0f} |")
    if args.classic:
        import sys

        sys.path.insert(0, str(REPO / "bench"))
        from bench_label_scoring import figures, rows_of, table

        from smishctl.data.prepare import load_dataset_splits, sample

        for model in ("classic/tfidf-svm", "classic/tfidf-knn"):
            test("zero-shot", model=model)
            names[model] = model
        labels = load_dataset_splits(None, settings).labels
        small_ids = {e.id for e in sample(load_dataset_splits(None, settings).split("test"), args.small,
                                          balanced=True, seed=13)}
        preds = {names[key]: rows_of(settings, run) for key, run in runs.items()}
        print(table(f"{args.test_n} balanced test messages", {n: figures(list(r.values()), labels)
                                                             for n, r in preds.items()}, labels))
        print(table(f"{args.small} balanced test messages (subset of the above)",
                    {n: figures([x for i, x in r.items() if i in small_ids], labels) for n, r in preds.items()},
                    labels))
    print(f"\nproject {root}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
