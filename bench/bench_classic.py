"""The classic baselines (classic/tfidf-svm, classic/tfidf-knn) on both split policies, side by side.

For each policy (exact, template): the neighbour vote's weighted vs majority rule on the full dev
split (how the default was chosen), then both models on the 60- and 150-message balanced test
samples (seed 13, as bench/bench_optimize.py) and the full test split: macro-F1 with a 95% percentile
bootstrap interval (2000 resamples) and per-class F1. No LLM: a minute or two on two cores.

Run: SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_classic.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def bootstrap_interval(gold: list[str], pred: list[str], labels, n_boot: int = 2000, seed: int = 0):
    import numpy as np

    from smishctl.score.stats import macro_f1_codes

    code = {lab: i for i, lab in enumerate(labels)}
    g = np.array([code[x] for x in gold])
    p = np.array([code.get(x, len(labels)) for x in pred])
    idx = np.random.default_rng(seed).integers(0, len(g), size=(n_boot, len(g)))
    low, high = np.percentile(macro_f1_codes(g[idx], p[idx], len(labels)), [2.5, 97.5])
    return float(low), float(high)


def score(solver, items, labels) -> dict:
    from smishctl.score.metrics import compute_metrics

    rows = [{"gold": ex.label, **solver(ex.text)} for ex in items]
    m = compute_metrics(rows, labels)
    low, high = bootstrap_interval([r["gold"] for r in rows], [r["pred"] for r in rows], labels)
    return {"macro_f1": m["macro_f1"], "low": low, "high": high,
            "f1": {lab: m["per_class"][lab]["f1"] for lab in labels}}


def main() -> None:
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import SplitOptions, load_dataset_splits, sample
    from smishctl.models.registry import resolve_model
    from smishctl.solve.classic import ClassicSolver, NeighbourVote

    settings = load_settings(Path(tempfile.mkdtemp(prefix="smishctl-bench-")))
    start = time.perf_counter()
    for policy in ("exact", "template"):
        ds = load_dataset_splits("sms-phishing", settings, options=SplitOptions(policy=policy))
        labels, train, test = ds.labels, ds.split("train"), ds.split("test")
        print(f"\n== split policy {policy} (test hash {ds.split_hash('test')[:12]}) ==")
        spec = resolve_model("classic/tfidf-knn", settings)
        for vote in ("weighted", "majority"):
            solver = ClassicSolver.train(train, labels, spec)
            solver.pipeline = NeighbourVote(vote=vote).fit([e.text for e in train], [e.label for e in train])
            r = score(solver, ds.split("dev"), labels)
            print(f"  dev (full, {len(ds.split('dev'))}) tfidf-knn vote={vote:<8} macro-F1 {r['macro_f1']:.3f} "
                  f"[{r['low']:.3f}, {r['high']:.3f}]")
        samples = {"test 60 balanced": sample(test, 60, balanced=True, seed=13),
                   "test 150 balanced": sample(test, 150, balanced=True, seed=13),
                   f"test full ({len(test)})": test}
        print(f"  {'items':<18} {'model':<18} {'macro-F1':>8} {'95% CI':>15}  " + "  ".join(f"F1 {lab:<8}" for lab in labels))
        for model in ("classic/tfidf-svm", "classic/tfidf-knn"):
            solver = ClassicSolver.train(train, labels, resolve_model(model, settings))
            for name, items in samples.items():
                r = score(solver, items, labels)
                print(f"  {name:<18} {model:<18} {r['macro_f1']:>8.3f} [{r['low']:.3f}, {r['high']:.3f}]  "
                      + "  ".join(f"{r['f1'][lab]:>11.3f}" for lab in labels))
    print(f"\n{time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
