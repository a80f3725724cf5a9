"""Signal extraction: time per message, and how often each signal fires per label.

  SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_signals.py

Every message of the default dataset (sms-phishing, all splits) and of the bundled `modern` set is
read once to warm up, then timed `--repeat` times (the best of the repeats per message, so a busy
machine's pauses do not count); p50, p99 and max per message in milliseconds. The cold start (first
call in the process: tldextract imported, the Public Suffix List snapshot and the reference lists
read) is timed on its own. Per label: the share of messages carrying each signal. Writes --out (JSON)
and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

from _common import REPO, model_project  # noqa: E402

MODERN = REPO / "smishctl" / "bundled" / "modern" / "modern_sms.csv"


def messages() -> dict[str, list[tuple[str, str]]]:
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits
    from smishctl.data.registry import DEFAULT_DATASET

    root = model_project(None, "smishctl-bench-signals-")
    ds = load_dataset_splits(DEFAULT_DATASET, load_settings(root))
    default = [(ex.text, ex.label) for split in ("train", "dev", "test") for ex in ds.split(split)]
    with open(MODERN, newline="", encoding="utf-8") as fh:
        modern = [(r["text"], r["label"]) for r in csv.DictReader(fh)]
    return {DEFAULT_DATASET: default, "modern": modern}


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "signals.json")
    args = ap.parse_args()

    start = time.perf_counter()
    from smishctl.signals import extract, load_lists

    extract("warm up: https://example.com")
    cold_ms = (time.perf_counter() - start) * 1000
    lists = load_lists()
    data = messages()
    doc = {"cold_start_ms": round(cold_ms, 1), "lists": lists.identity, "repeat": args.repeat, "datasets": {}}
    for name, msgs in data.items():
        times, fired, per_label = [], {}, {}
        for text, label in msgs:
            best = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                sig = extract(text, lists)
                best = min(best, time.perf_counter() - t)
            times.append(best * 1000)
            per_label[label] = per_label.get(label, 0) + 1
            for n in sig.names():
                fired.setdefault(n, {}).setdefault(label, 0)
                fired[n][label] += 1
        doc["datasets"][name] = {
            "n": len(msgs), "chars_p50": statistics.median(len(t) for t, _ in msgs),
            "ms": {"p50": round(percentile(times, 0.5), 4), "p99": round(percentile(times, 0.99), 4),
                   "max": round(max(times), 4), "mean": round(statistics.fmean(times), 4)},
            "share": {n: {lab: round(c.get(lab, 0) / per_label[lab], 3) for lab in sorted(per_label)}
                      for n, c in sorted(fired.items())},
            "labels": per_label}
    doc["load_average"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")

    print(f"cold start {doc['cold_start_ms']} ms; load average {doc['load_average']}\n")
    print("| dataset | messages | chars p50 | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    for name, d in doc["datasets"].items():
        print(f"| {name} | {d['n']} | {d['chars_p50']} | {d['ms']['p50']} | {d['ms']['p99']} | {d['ms']['max']} |")
    for name, d in doc["datasets"].items():
        labels = sorted(d["labels"])
        print(f"\n{name}: share of messages with each signal\n\n| signal | {' | '.join(labels)} |\n"
              f"|---|{'---|' * len(labels)}")
        for sig, share in d["share"].items():
            print(f"| {sig} | {' | '.join(f'{share[lab]:.2f}' for lab in labels)} |")
    print(f"\nrows in {args.out}")


if __name__ == "__main__":
    main()
