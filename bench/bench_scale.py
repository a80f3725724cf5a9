"""Memory and throughput on a large dataset: evaluate N messages (default 100,000) against the fast
loopback server and report peak RSS and messages per second.

The dataset is built from the reference data (../shared/datasets/sms_phishing_mendeley_5971.csv): every
message is repeated with a numbered suffix so that de-duplication keeps all N, written to a temporary
JSONL file, loaded through the normal dataset path with every item in the test split. Predictions stream
to runs/<id>/predictions.jsonl as they arrive. Run it at two sizes to see that memory does not grow with
the number of predictions beyond the item list itself:

    .venv/bin/python bench/bench_scale.py --n 10000
    .venv/bin/python bench/bench_scale.py --n 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIRROR, fault_server, project


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(n: int, path: Path) -> None:
    with open(MIRROR / "sms_phishing_mendeley_5971.csv", encoding="utf-8", errors="replace", newline="") as fh:
        base = [(r["TEXT"], r["LABEL"].strip().lower()) for r in csv.DictReader(fh) if r["TEXT"].strip()]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            text, label = base[i % len(base)]
            out.write(json.dumps({"text": f"{text} [{i}]", "label": label}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args()

    with fault_server(0.0) as base, project(base) as root, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"sms-{args.n}.jsonl"
        build(args.n, data)
        import dspy  # noqa: F401  (import the libraries first: RSS below is then data, not code)
        import litellm  # noqa: F401
        import sklearn.metrics  # noqa: F401

        from smishctl.core.config import load_settings
        from smishctl.ops.evaluate import EvalConfig, execute, prepare

        settings = load_settings()
        cfg = EvalConfig(model="fake", dataset=str(data), split="test", cache=False, num_retries=1,
                         threads=args.threads, data_options={"split": {"fractions": (0.0, 0.0, 1.0)}})
        rss0 = rss_mib()
        t0 = time.perf_counter()
        plan = prepare(settings, cfg)
        t_prep = time.perf_counter() - t0
        rss_items = rss_mib()
        samples = []
        start = time.perf_counter()

        def on_item(row, _n=[0]):  # noqa: B006 (a counter)
            _n[0] += 1
            if _n[0] % max(1, args.n // 20) == 0:
                samples.append((_n[0], round(rss_mib(), 1)))

        record = execute(plan, threads=args.threads, max_errors=10**9, on_item=on_item)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        m = record["metrics"]
        size = (root / "runs" / record["id"] / "predictions.jsonl").stat().st_size
        print(f"messages                 {len(plan.items)}  (file {data.stat().st_size / 2**20:.1f} MiB)")
        print(f"prepare (load+split)     {t_prep:.1f} s")
        print(f"evaluate                 {seconds:.1f} s, {len(plan.items) / seconds:.1f} msg/s "
              f"with {args.threads} threads")
        print(f"errors / invalid         {m['n_errors']} / {m['n_invalid']}, accuracy {m['accuracy']:.3f}")
        print(f"RSS before prepare       {rss0:.0f} MiB (libraries imported)")
        print(f"RSS after prepare        {rss_items:.0f} MiB (the item list)")
        print(f"RSS during evaluation    {', '.join(f'{k}:{v:.0f}' for k, v in samples[::4])} (items done: MiB)")
        print(f"peak RSS                 {peak:.0f} MiB")
        print(f"predictions.jsonl        {size / 2**20:.1f} MiB on disk")


if __name__ == "__main__":
    main()
