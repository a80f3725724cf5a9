"""Evaluation throughput against a latency-bound endpoint: messages per second at 1, 8 and 32 workers.

The endpoint is the loopback fault server (tests/fault_server.py) in its own process, answering every
call after a fixed latency (default 200 ms), so the ideal throughput with W workers is W / latency.
DSPy's cache is off (`cache=False`), every call reaches the server. Each worker count evaluates
`--seconds` × ideal rate messages of the sms-phishing test split, after a warm-up.

    .venv/bin/python bench/bench_concurrency.py [--latency 0.2] [--workers 1,8,32] [--seconds 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fault_server, project


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--workers", default="1,8,32")
    ap.add_argument("--seconds", type=float, default=4.0, help="ideal duration of each measurement")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    with fault_server(args.latency) as base, project(base):
        from smishctl.core.config import load_settings
        from smishctl.ops.evaluate import EvalConfig, execute, prepare

        settings = load_settings()

        def run(threads: int, n: int) -> tuple[float, dict]:
            cfg = EvalConfig(model="fake", dataset="sms-phishing", split="test", limit=n, cache=False,
                             num_retries=0, threads=threads)
            plan = prepare(settings, cfg)
            start = time.perf_counter()
            record = execute(plan, threads=threads, max_errors=10**9)
            return time.perf_counter() - start, record

        run(4, 8)  # warm-up: imports, litellm client, connection pool
        results = []
        for w in workers:
            n = max(10, round(args.seconds * w / args.latency))
            seconds, record = run(w, n)
            rate = n / seconds
            results.append({"workers": w, "messages": n, "seconds": round(seconds, 2),
                            "msg_per_s": round(rate, 2), "errors": record["metrics"]["n_errors"]})
        base_rate = 1 / args.latency
        for r in results:
            r["ideal_msg_per_s"] = round(r["workers"] * base_rate, 1)
            r["efficiency"] = round(r["msg_per_s"] / r["ideal_msg_per_s"], 3)
            r["speedup_vs_1"] = round(r["msg_per_s"] / results[0]["msg_per_s"], 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"latency {args.latency * 1000:.0f} ms per call; ideal = workers / latency")
    print(f"{'workers':>7} {'msgs':>6} {'seconds':>8} {'msg/s':>8} {'ideal':>7} {'efficiency':>10} {'errors':>6}")
    for r in results:
        print(f"{r['workers']:>7} {r['messages']:>6} {r['seconds']:>8.2f} {r['msg_per_s']:>8.2f} "
              f"{r['ideal_msg_per_s']:>7.1f} {r['efficiency']:>10.3f} {r['errors']:>6}")


if __name__ == "__main__":
    main()
