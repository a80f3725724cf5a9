"""Label scoring against the classic baselines, side by side on the same held-out test items.

Usage: .venv/bin/python bench/bench_label_scoring.py [--split-policy template] [--n 150] [--small 60]
       [--unseen-after 150] [--split test|dev] [--json-knn] [--full] [--optimize-param k=4,8 ...]

Runs `smishctl optimize` with its defaults (the knn program family, score adapter, searched on dev),
then evaluates on the balanced test sample of --n messages (seed 13, 50 a class for 150): zero-shot
(score adapter), the optimized program, classic/tfidf-svm and classic/tfidf-knn. The --small sample
(20 a class for 60) is a subset of the larger one, so its figures come from the same predictions.
--json-knn adds the previous default program (kNN k=8, JSON adapter) on the small sample only (it is
slow); --full adds the optimized program and both classic models on the whole test split.
When the optimized program carries the SVM prior, the same program without it is evaluated too (the
same model calls, served from the DSPy cache). --unseen-after M adds a table of the items of the --n
sample that are not in the balanced M-message sample: with --n 300 --unseen-after 150, messages that no
earlier figure was computed on. --split dev evaluates on the dev split instead (the optimizer scored
its first 45 balanced messages).

Every row: macro-F1 with a 95% bootstrap interval, per-class F1, smishing recall, p50 latency; and
paired 95% bootstrap intervals of the difference to each classic baseline (a difference whose
interval contains 0 is not a gain). Prints a Markdown table per sample.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _common import model_project

REPO = Path(__file__).resolve().parents[1]


def rows_of(settings, run_id: str) -> dict[str, dict]:
    path = settings.runs_dir / run_id / "predictions.jsonl"
    return {r["item_id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def figures(rows: list[dict], labels) -> dict:
    import numpy as np

    from smishctl.score.metrics import compute_metrics
    from smishctl.score.stats import macro_f1_codes

    rows = sorted(rows, key=lambda r: r["item_id"])  # paired statistics need the same item order everywhere
    m = compute_metrics(rows, labels)
    code = {lab: i for i, lab in enumerate(labels)}
    g = np.array([code[r["gold"]] for r in rows])
    p = np.array([code.get(r["pred"], len(labels)) if r["status"] == "ok" else len(labels) for r in rows])
    idx = np.random.default_rng(0).integers(0, len(g), size=(2000, len(g)))
    low, high = np.percentile(macro_f1_codes(g[idx], p[idx], len(labels)), [2.5, 97.5])
    return {"macro_f1": m["macro_f1"], "ci": (float(low), float(high)), "n": len(rows),
            "f1": {lab: m["per_class"][lab]["f1"] for lab in labels},
            "recall_smishing": m["per_class"].get("smishing", {}).get("recall"),
            "p50_ms": m["latency_ms"]["p50"], "auc_smishing": (m.get("auc") or {}).get("smishing", {}).get("roc_auc"),
            "n_invalid": m["n_invalid"], "n_errors": m["n_errors"], "_codes": (g, p)}


def diff(a: dict, b: dict, k: int) -> str:
    """Paired bootstrap of macro-F1(a) - macro-F1(b) on the same items."""
    from smishctl.score.stats import bootstrap_macro_f1_diff

    (g, pa), (_, pb) = a["_codes"], b["_codes"]
    d = bootstrap_macro_f1_diff(g, pb, pa, k, n_boot=2000, seed=0)
    mark = "" if d["low"] > 0 or d["high"] < 0 else " (inside the interval)"
    return f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]{mark}"


def prior_line(results: dict[str, dict], labels) -> str:
    """The paired difference the SVM prior makes, when both programs are in the table."""
    on = next((r for n, r in results.items() if n.startswith("optimized default")), None)
    off = next((r for n, r in results.items() if n.startswith("optimized, prior off")), None)
    return "" if on is None or off is None else f"\nprior on - prior off (paired): {diff(on, off, len(labels))}"


def table(title: str, results: dict[str, dict], labels) -> str:
    k = len(labels)
    out = [f"\n### {title}\n", "| program | macro-F1 [95% CI] | F1 " + "/".join(labels) + " | smishing recall "
           "| vs tfidf-knn [paired 95% CI] | vs tfidf-svm [paired 95% CI] | p50 ms | invalid |",
           "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.0f}"
        vs = [diff(r, results[b], k) if b in results and b != name else "–"
              for b in ("classic/tfidf-knn", "classic/tfidf-svm")]
        out.append(f"| {name} | {r['macro_f1']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | "
                   + "/".join(f"{r['f1'][lab]:.2f}" for lab in labels)
                   + f" | {r['recall_smishing']:.2f} | {vs[0]} | {vs[1]} | "
                   f"{p50} | {r['n_invalid']} |")
    return "\n".join(out) + prior_line(results, labels)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split-policy", default="template")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--small", type=int, default=60)
    ap.add_argument("--json-knn", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--unseen-after", type=int, default=None)
    ap.add_argument("--split", default="test", choices=("test", "dev"))
    ap.add_argument("--optimize-param", nargs="*", default=[])
    ap.add_argument("--project", default=None, help="reuse a project folder (its DSPy cache and prompts)")
    args = ap.parse_args()

    root = model_project(args.project, "smishctl-bench-ls-")

    from smishctl.core.config import load_settings
    from smishctl.data.prepare import SplitOptions, load_dataset_splits, sample
    from smishctl.ops.evaluate import EvalConfig, evaluate
    from smishctl.ops.optimize import OptimizeConfig, optimize
    from smishctl.solve.optimizers import parse_params

    settings = load_settings(root)
    split = {"split": {"policy": args.split_policy}}
    ds = load_dataset_splits(None, settings, options=SplitOptions(policy=args.split_policy))
    labels = ds.labels
    small_ids = {ex.id for ex in sample(ds.split(args.split), args.small, balanced=True, seed=13)}
    seen_ids = ({ex.id for ex in sample(ds.split(args.split), args.unseen_after, balanced=True, seed=13)}
                if args.unseen_after else set())
    print(f"split policy {args.split_policy}; test hash {ds.split_hash('test')[:12]}; load {os.getloadavg()[0]:.1f}",
          flush=True)

    t = time.perf_counter()
    opt = optimize(settings, OptimizeConfig(params=parse_params(args.optimize_param), langfuse=False,
                                            split_policy=args.split_policy))
    summary = opt.summary
    opt_wall = time.perf_counter() - t
    print(f"optimize: {opt.artifact} in {opt_wall:.0f} s (load {os.getloadavg()[0]:.1f}); chosen "
          f"{summary.search.chosen}; candidates "
          f"{[(c.settings['k'], round(c.dev_macro_f1, 3)) for c in summary.search.candidates]}; "
          f"calibration {summary.calibration}; dev macro-F1 "
          f"{summary.baseline.macro_f1:.3f} -> {summary.optimized.macro_f1:.3f}",
          flush=True)

    def run(model=None, prompt="zero-shot", limit=args.n, adapter=None):
        t = time.perf_counter()
        rec = evaluate(settings, EvalConfig(model=model, prompt=prompt, limit=limit, balanced=limit is not None,
                                            data_options=split, adapter=adapter, split=args.split))
        print(f"  evaluated {model or 'local'} {prompt} ({adapter or 'default adapter'}) on {rec['metrics']['n_items']}"
              f" in {time.perf_counter() - t:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        return rows_of(settings, rec["id"])

    programs = {
        "zero-shot (score)": run(),
        f"optimized default ({opt.artifact.rsplit('/', 1)[-1]})": run(prompt=opt.artifact),
    }
    if (summary.search.chosen or {}).get("prior"):
        params = {**parse_params(args.optimize_param), "prior": "off"}
        plain = optimize(settings, OptimizeConfig(params=params, langfuse=False, split_policy=args.split_policy))
        programs[f"optimized, prior off ({plain.artifact.rsplit('/', 1)[-1]})"] = run(prompt=plain.artifact)
    programs["classic/tfidf-svm"] = run(model="classic/tfidf-svm")
    programs["classic/tfidf-knn"] = run(model="classic/tfidf-knn")
    big = {name: figures(list(r.values()), labels) for name, r in programs.items()}
    small = {name: figures([x for i, x in r.items() if i in small_ids], labels) for name, r in programs.items()}
    if args.json_knn:
        old = optimize(settings, OptimizeConfig(params={"k": "8", "max_demo_chars": "none"}, adapter="json",
                                                calibrate="off", langfuse=False, split_policy=args.split_policy))
        rows = run(prompt=old.artifact, limit=args.small)
        small["previous default (kNN k=8, json)"] = figures(list(rows.values()), labels)
    where = f"{args.split} messages ({args.split_policy} split"
    print(table(f"{args.n} balanced {where})", big, labels))
    print(table(f"{args.small} balanced {where}; subset of the above)", small, labels))
    if args.unseen_after:
        unseen = {name: figures([x for i, x in r.items() if i not in seen_ids], labels) for name, r in programs.items()}
        print(table(f"{args.n} balanced {where}) less the balanced {args.unseen_after}: "
                    f"{next(iter(unseen.values()))['n']} unseen items", unseen, labels))
    if args.full:
        full = {name: figures(list(run(model=m, prompt=p, limit=None).values()), labels)
                for name, m, p in [("optimized default", None, opt.artifact),
                                   ("classic/tfidf-svm", "classic/tfidf-svm", "zero-shot"),
                                   ("classic/tfidf-knn", "classic/tfidf-knn", "zero-shot")]}
        print(table(f"full test split ({args.split_policy} split)", full, labels))
    print(f"\nproject {root}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
