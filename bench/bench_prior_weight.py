"""The SVM prior's weight, swept offline on recorded runs: no model call.

Usage: .venv/bin/python bench/bench_prior_weight.py --project P --off RUN --svm RUN [--on RUN]
       [--weights 0.3 0.4 0.5 0.6 0.7 0.8]

RUN ids are runs of one project on the same items: --off the kNN program without the prior (or any
run whose rows carry label probabilities: a LoRA adapter's, say), --svm classic/tfidf-svm (its rows
carry the SVM's), and optionally --on the program with the prior, to check that re-deciding reproduces
it. Each weight re-decides the --off rows on the weighted geometric mean with the SVM's probabilities,
exactly as the kNN program with `--param prior=W` decides (smishctl.solve.calibration.with_prior), and
prints macro-F1; then, for each weight, its 95% bootstrap interval and the paired differences to the
SVM and to --off on the same items (smishctl.score.stats, 2,000 resamples). A weight chosen on these
figures is chosen on the items it is scored on: pick it on dev, read it here.
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

    from _common import interval, paired

    code = {lab: i for i, lab in enumerate(labels)}
    ids = sorted(r["item_id"] for r in off)

    def codes(rs: list[dict]) -> list[int]:
        by_id = {r["item_id"]: r for r in rs}
        return [code.get(by_id[i].get("pred"), -1) if by_id[i].get("status") == "ok" else -1 for i in ids]

    gold = [code[r["gold"]] for r in sorted(off, key=lambda r: r["item_id"])]
    svm_codes, off_codes = codes(rows(args.svm)), codes(off)

    def pair(base, cand) -> str:
        d = paired(gold, base, cand, len(labels))
        return f"{d['gain']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"

    print("\n| weight | macro-F1 [95% CI] | vs svm [paired 95% CI] | vs --off [paired 95% CI] |\n|---|---|---|---|")
    for w in args.weights:
        cand = codes(with_prior(off, svm, w))
        ci = interval(gold, cand, len(labels))
        print(f"| {w:g} | {ci['macro_f1']:.3f} [{ci['ci95'][0]:.3f}, {ci['ci95'][1]:.3f}] | {pair(svm_codes, cand)} | "
              f"{pair(off_codes, cand)} |")


if __name__ == "__main__":
    main()
