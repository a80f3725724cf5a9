"""The SVM prior's weight, swept offline on recorded runs: no model call.

Usage: .venv/bin/python bench/bench_prior_weight.py --project P --off RUN --svm RUN [--on RUN]
       [--weights 0.3 0.4 0.5 0.6 0.7 0.8]

RUN ids are runs of one project on the same items: --off the kNN program without the prior (its rows
carry the model's label probabilities), --svm classic/tfidf-svm (its rows carry the SVM's), and
optionally --on the program with the prior, to check that re-deciding reproduces it. Each weight
re-decides the --off rows on the weighted geometric mean with the SVM's probabilities, exactly as the
kNN program with `--param prior=W` decides (smishctl.solve.calibration.with_prior), and prints macro-F1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--off", required=True)
    ap.add_argument("--svm", required=True)
    ap.add_argument("--on", default=None)
    ap.add_argument("--weights", nargs="+", type=float, default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    args = ap.parse_args()
    from smishctl.solve.calibration import macro_f1, with_prior

    runs = Path(args.project) / "runs"

    def rows(run: str) -> list[dict]:
        return [json.loads(line) for line in (runs / run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]

    labels = tuple(json.loads((runs / args.off / "run.json").read_text())["dataset"]["labels"])
    off, svm = rows(args.off), {r["item_id"]: r["probs"] for r in rows(args.svm)}
    print(f"{len(off)} items; prior off {macro_f1(off, labels):.3f}"
          + (f"; recorded with the prior {macro_f1(rows(args.on), labels):.3f}" if args.on else ""))
    print("| weight | " + " | ".join(f"{w:g}" for w in args.weights) + " |")
    print("|---|" + "---|" * len(args.weights))
    print("| macro-F1 | " + " | ".join(f"{macro_f1(with_prior(off, svm, w), labels):.3f}" for w in args.weights) + " |")


if __name__ == "__main__":
    main()
