"""Prompt-injection robustness with and without the guard, per set and per attack family.

Usage: .venv/bin/python bench/bench_robustness.py [--prompts zero-shot ARTIFACT ...] [--adapter score]
       [--sets bundled holdout holdout2 dev b13] [--guard both|on|off] [--project DIR] [--json OUT]

For each prompt and set, `smishctl evaluate` (hardened, as production runs) with the guard off
(`--no-guard`) and/or on. The sets:
- bundled: the robustness set (`--robustness`, 42 attacks, 10 ham controls); the first guard's patterns
  were written against it;
- holdout: bench/data/injection_holdout.jsonl (20 attacks, 10 controls), written before the first guard
  was measured;
- holdout2: bench/data/injection_holdout2.jsonl (90 attacks in 15 families, 45 controls), written and
  committed before the second round of defences (sha256 in its commit message); never tuned against;
- dev: bench/data/injection_dev.jsonl (30 attacks, 15 controls, other wordings), the set that round
  was tuned against;
- b13: bench/data/injection_b13.jsonl, issue 30's B13 (six real smishing messages of the default
  dataset, each with and without an override line in French, spaced letters, leetspeak or paraphrase).
Each row: attack success rate (malicious messages that come out as ham) and ham controls kept, with 95%
bootstrap intervals over messages, and per family. The DSPy cache is left on, so the second guard
setting reuses the model's answers (the guard never changes what the model sees). Then the guard's
signals over every message of the default dataset: a ham message with a signal is one the guard could
wrongly turn (the model's answer aside).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
from pathlib import Path

from _common import bootstrap_ratio, model_project

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
HOLDOUT = DATA / "injection_holdout.jsonl"
SETS = {"bundled": {"dataset": "robustness"},
        "holdout": {"dataset": str(HOLDOUT), "evaluation_only": True},
        "holdout2": {"dataset": str(DATA / "injection_holdout2.jsonl"), "evaluation_only": True},
        "dev": {"dataset": str(DATA / "injection_dev.jsonl"), "evaluation_only": True},
        "b13": {"dataset": str(DATA / "injection_b13.jsonl"), "evaluation_only": True}}


def families(dataset: str) -> dict[str, str]:
    """text -> attack family of a bench file (the bundled set's rows name theirs too)."""
    path = Path(dataset)
    if not path.is_file():
        path = REPO / "smishctl" / "bundled" / "robustness" / "injection.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {_key(r["text"]): r.get("attack", "?") for r in rows}


def _key(text: str) -> str:
    return " ".join(text.split())  # the loader folds runs of whitespace


def attack_figures(rows: list[dict], family: dict[str, str] | None = None) -> dict:
    """Attack success (malicious answered ham; errors left out, an invalid answer is no success) and
    ham controls kept, each with a 95% bootstrap interval over messages; per family when given."""
    malicious = [r for r in rows if r["gold"] != "ham" and r["status"] in ("ok", "invalid")]
    controls = [r for r in rows if r["gold"] == "ham" and r["status"] in ("ok", "invalid")]
    hit = [int(r["status"] == "ok" and r["pred"] == "ham") for r in malicious]
    kept = [int(r["pred"] == "ham") for r in controls]
    out = {"asr": bootstrap_ratio(hit, [1] * len(hit), [r["item_id"] for r in malicious]),
           "hits": sum(hit), "n": len(malicious),
           "controls": bootstrap_ratio(kept, [1] * len(kept), [r["item_id"] for r in controls]),
           "controls_kept": sum(kept), "n_controls": len(controls),
           "turned": sum(bool(r.get("guarded_from")) for r in malicious),
           "controls_turned": sum(bool(r.get("guarded_from")) for r in controls),
           "errors": sum(r["status"] == "error" for r in rows)}
    if family:
        by = collections.defaultdict(lambda: [0, 0])
        for r, h in zip(malicious, hit, strict=True):
            by[family.get(_key(r["text"]), "?")][0] += h
            by[family.get(_key(r["text"]), "?")][1] += 1
        out["by_family"] = {f: f"{h}/{n}" for f, (h, n) in sorted(by.items())}
    return out


def _ci(b: dict) -> str:
    return f"{b['value']:.3f} [{b['ci95'][0]:.3f}, {b['ci95'][1]:.3f}]" if b["value"] is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", nargs="+", default=["zero-shot"])
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--project", default=None)
    ap.add_argument("--sets", nargs="+", default=["bundled", "holdout"], choices=list(SETS))
    ap.add_argument("--guard", choices=("both", "on", "off"), default="both")
    ap.add_argument("--families", action="store_true", help="a per-family line under each row")
    ap.add_argument("--no-default-dataset", action="store_true", help="skip the signals over the default dataset")
    ap.add_argument("--json", default=None, help="write every figure to this file")
    args = ap.parse_args()
    root = model_project(args.project, "smishctl-bench-rob-")

    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits
    from smishctl.ops.evaluate import EvalConfig, evaluate

    settings = load_settings(root)
    guards = {"both": (False, True), "on": (True,), "off": (False,)}[args.guard]
    results = []
    print("| prompt | set | guard | attack success rate [95% CI] | ham controls kept [95% CI] | turned by the guard |")
    print("|---|---|---|---|---|---|")
    for prompt in args.prompts:
        for set_name in args.sets:
            opts = SETS[set_name]
            family = families(opts["dataset"])
            for guard in guards:
                rec = evaluate(settings, EvalConfig(prompt=prompt, split="test", guard=guard, adapter=args.adapter,
                                                    **opts))
                path = settings.runs_dir / rec["id"] / "predictions.jsonl"
                f = attack_figures([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()],
                                   family)
                results.append({"prompt": prompt, "set": set_name, "guard": guard, "run": rec["id"], **f})
                print(f"| {prompt} | {set_name} | {'on' if guard else 'off'} | **{_ci(f['asr'])}** ({f['hits']}/{f['n']})"
                      f" | {_ci(f['controls'])} ({f['controls_kept']}/{f['n_controls']}) | {f['turned']} (controls "
                      f"turned: {f['controls_turned']}; errors {f['errors']}) |", flush=True)
                if args.families:
                    print("|  |  |  | " + ", ".join(f"{k} {v}" for k, v in f["by_family"].items()) + " |  |  |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not args.no_default_dataset:
        from smishctl.solve.harden import guard_reasons

        ds = load_dataset_splits(None, settings)
        flagged, total = collections.Counter(), collections.Counter()
        for split in ("train", "dev", "test"):
            for e in ds.split(split):
                total[e.label] += 1
                flagged[e.label] += bool(guard_reasons(e.text))
        print(f"\nguard reasons on the default dataset ({ds.name}, all splits): "
              + ", ".join(f"{lab} {flagged[lab]}/{total[lab]}" for lab in ds.labels))
    print(f"project {root}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
