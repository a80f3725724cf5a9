"""The embedded model asked the same thing again: how far its label probabilities move between two
evaluations of the same items with DSPy's cache off, in fresh processes.

    .venv/bin/python bench/bench_reproducibility.py --n 30

Four evaluations of the default program on the same test items, each its own process: two with saved
prompt states off (SMISHCTL_PROMPT_STATES=0: every process reads the instructions itself), then two with
them on (the first saves the state, the second restores it). Pairs compared item by item: off vs off
(process to process), on vs on (saved vs restored) and off vs restored. For each pair: the largest and
the mean absolute difference of a label's log-probability, how many answers change, and both accuracies.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import model_project  # noqa: E402


def evaluate(root: Path, n: int, states: bool) -> str:
    """A fresh `smishctl evaluate` of the first n test items; the run's id."""
    env = {**os.environ, "SMISHCTL_HOME": str(root), "SMISHCTL_NO_PROGRESS": "1"}
    env["SMISHCTL_PROMPT_STATES"] = "1" if states else "0"
    r = subprocess.run([sys.executable, "-m", "smishctl", "evaluate", "--limit", str(n), "--no-cache",
                        "--no-langfuse", "--json"], cwd=root, env=env, capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"evaluate failed: {r.stderr.strip()[-800:]}")
    return str(json.loads(r.stdout)["id"])


def rows(root: Path, run_id: str) -> dict[str, dict]:
    from smishctl.core.config import load_settings
    from smishctl.store.runs import open_run

    return {r["item_id"]: r for r in open_run(load_settings(root).runs_dir, run_id).predictions()}


def compare(a: dict[str, dict], b: dict[str, dict]) -> dict:
    both = [i for i in a if i in b and a[i]["status"] == b[i]["status"] == "ok" and a[i]["probs"] and b[i]["probs"]]
    gaps = [abs(math.log(max(a[i]["probs"][lab], 1e-12)) - math.log(max(b[i]["probs"][lab], 1e-12)))
            for i in both for lab in a[i]["probs"]]
    per_item = [max(abs(math.log(max(a[i]["probs"][lab], 1e-12)) - math.log(max(b[i]["probs"][lab], 1e-12)))
                    for lab in a[i]["probs"]) for i in both]
    return {"items": len(both), "max_nats": max(gaps, default=0.0), "mean_nats": statistics.fmean(gaps) if gaps else 0.0,
            "items_over_0.01": sum(g > 0.01 for g in per_item), "items_over_0.1": sum(g > 0.1 for g in per_item),
            "answers_changed": sum(a[i]["pred"] != b[i]["pred"] for i in both),
            "accuracy": [sum(x[i]["pred"] == x[i]["gold"] for i in both) / max(len(both), 1) for x in (a, b)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="test items (the first n of the split's seeded order)")
    ap.add_argument("--project", help="reuse this project folder (default: a new temporary one)")
    args = ap.parse_args()
    root = model_project(args.project, "smishctl-bench-repro-")
    try:
        runs = {name: evaluate(root, args.n, states) for name, states in
                (("off-1", False), ("off-2", False), ("on-save", True), ("on-restore", True))}
        assert len(set(runs.values())) == 4, runs  # four evaluations, none reused
        got = {name: rows(root, run_id) for name, run_id in runs.items()}
    finally:
        if not args.project:
            shutil.rmtree(root, ignore_errors=True)
    for a, b in (("off-1", "off-2"), ("off-1", "on-save"), ("on-save", "on-restore"), ("off-1", "on-restore")):
        c = compare(got[a], got[b])
        print(f"{a:8s} vs {b:10s}: {c['items']} items; |d log p| max {c['max_nats']:.4f} mean {c['mean_nats']:.4f} "
              f"nats; items moved >0.01 {c['items_over_0.01']}, >0.1 {c['items_over_0.1']}; "
              f"answers changed {c['answers_changed']}; accuracy {c['accuracy'][0]:.3f} vs {c['accuracy'][1]:.3f}")


if __name__ == "__main__":
    main()
