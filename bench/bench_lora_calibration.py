"""What the fine-tuning calibration does, measured on a stored adapter without retraining.

Usage: .venv/bin/python bench/bench_lora_calibration.py --project P --artifact ID [--test-run RUN]
       [--dev-n 45] [--test-n 150]

Scores the adapter on the balanced dev sample that `smishctl finetune` chose its checkpoint on
(`--dev-n`, seed 13: its default 45 messages), served by llama.cpp as `evaluate` runs it, fits the
per-label bias as `finetune --calibrate auto` does (smishctl.solve.calibration.cross_validated_bias:
kept only when it wins by 0.05 under 5-fold cross-validation), and re-decides the test rows with it
(`--test-run`, or a fresh `evaluate` of the balanced --test-n sample). `finetune` fits the same bias
on torch's probabilities of the same messages (within 0.033 of llama.cpp's, tests/test_finetune.py).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--artifact", required=True)
    ap.add_argument("--test-run", default=None)
    ap.add_argument("--dev-n", type=int, default=45)
    ap.add_argument("--test-n", type=int, default=150)
    args = ap.parse_args()
    os.environ["SMISHCTL_HOME"] = args.project
    os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, evaluate
    from smishctl.solve.calibration import cross_validated_bias, macro_f1, redecide

    settings = load_settings(args.project)

    def rows(run: str) -> list[dict]:
        path = settings.runs_dir / run / "predictions.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    dev_rec = evaluate(settings, EvalConfig(prompt=args.artifact, split="dev", limit=args.dev_n, balanced=True))
    test_run = args.test_run or evaluate(settings, EvalConfig(prompt=args.artifact, limit=args.test_n,
                                                              balanced=True))["id"]
    labels = tuple(dev_rec["dataset"]["labels"])
    dev, test = rows(dev_rec["id"]), rows(test_run)
    cv = cross_validated_bias(dev, labels, seed=13)
    print(f"{args.artifact}: dev ({len(dev)}) macro-F1 {macro_f1(dev, labels):.3f}; cross-validated "
          f"{cv.get('cv_macro_f1_plain')} plain -> {cv.get('cv_macro_f1_calibrated')} calibrated; kept {cv['kept']}; "
          f"bias {({k: round(v, 3) for k, v in cv.get('bias', {}).items()})}")
    calibrated = redecide(test, labels, bias=cv.get("bias") or None)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_label_scoring import diff, figures

    plain, cal = figures(test, labels), figures(calibrated, labels)
    print(f"test ({len(test)}) macro-F1 {plain['macro_f1']:.3f} [{plain['ci'][0]:.3f}, {plain['ci'][1]:.3f}] plain -> "
          f"{cal['macro_f1']:.3f} [{cal['ci'][0]:.3f}, {cal['ci'][1]:.3f}] with the bias; paired difference "
          f"{diff(cal, plain, len(labels))}; F1 " + "/".join(f"{cal['f1'][lab]:.2f}" for lab in labels)
          + f", smishing recall {cal['recall_smishing']:.2f}")


if __name__ == "__main__":
    main()
