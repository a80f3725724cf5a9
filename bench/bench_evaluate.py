"""Benchmark: CLI start-up, evaluation overhead against a raw llama.cpp loop, and cached re-runs.

Usage: .venv/bin/python bench/bench_evaluate.py [--n 100]
Runs everything in one process, side by side, and prints ratios (these machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wall(cmd: list[str], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    results: dict = {}

    py = sys.executable
    t_pass = wall([py, "-c", "pass"])
    t_help = wall([py, "-m", "smishctl", "--help"])
    results["help"] = {"python_pass_s": round(t_pass, 3), "smishctl_help_s": round(t_help, 3),
                       "ratio": round(t_help / t_pass, 1)}
    print("help:", results["help"], flush=True)

    root = Path(tempfile.mkdtemp(prefix="smishctl-bench-"))
    (root / "smishctl.toml").write_text((REPO / "smishctl.toml").read_text().replace(
        '"../shared/datasets"', json.dumps(str((REPO.parent / "shared" / "datasets").resolve()))))
    (root / ".cache").mkdir()
    (root / ".cache" / "models").symlink_to((REPO / ".cache" / "test-session" / "models").resolve()
                                            if (REPO / ".cache" / "test-session" / "models").exists()
                                            else (REPO / ".cache" / "models").resolve())
    os.environ["SMISHCTL_HOME"] = str(root)

    from smishctl.config import load_settings
    from smishctl.evaluate import EvalConfig, evaluate, prepare

    settings = load_settings(root)
    cfg = EvalConfig(limit=args.n)
    plan = prepare(settings, cfg)  # loads data, model and program (outside both timings)

    # Raw loop: the same rendered messages and response format, straight to xllamacpp.
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format

    from smishctl.models import local_server
    from smishctl.models.local_provider import GGUF_PATHS

    solver = plan.solver
    predictor = solver.program.predictors()[0]
    from litellm.utils import type_to_response_format_param

    # The pydantic model DSPy passes to litellm, turned into the JSON schema litellm sends.
    fmt = type_to_response_format_param(_get_structured_outputs_response_format(predictor.signature, True))
    gguf = GGUF_PATHS["qwen2.5-coder-0.5b"]
    requests = [{"messages": solver.adapter.format(predictor.signature, [], {"sms": ex.text}),
                 "temperature": 0.0, "max_tokens": 64, "response_format": fmt} for ex in plan.items]
    local_server.chat(gguf, requests[0])  # warm the instruction prefix for both loops

    def raw_loop() -> float:
        t = time.perf_counter()
        for req in requests:
            local_server.chat(gguf, req)
        return time.perf_counter() - t

    t_raw_before = raw_loop()

    t = time.perf_counter()
    rec = evaluate(settings, cfg)  # the project's DSPy cache is empty: every item is a real call
    t_eval = time.perf_counter() - t
    t_raw = (t_raw_before + raw_loop()) / 2  # raw loop before and after: drift on a noisy machine cancels
    t = time.perf_counter()
    cached = evaluate(settings, cfg)  # the same configuration again: answered from the cache
    t_cached = time.perf_counter() - t
    results["evaluate"] = {
        "n": args.n, "raw_loop_s": round(t_raw, 2), "raw_loop_before_after_s": [round(t_raw_before, 2), round(2 * t_raw - t_raw_before, 2)], "smishctl_s": round(t_eval, 2),
        "overhead_ratio": round(t_eval / t_raw, 3), "msgs_per_s": round(args.n / t_eval, 2),
        "macro_f1": round(rec["metrics"]["macro_f1"], 3), "errors": rec["metrics"]["n_errors"],
        "invalid": rec["metrics"]["n_invalid"],
        "cached_rerun_s": round(t_cached, 2), "cached_speedup": round(t_eval / t_cached, 1), "cache_hits": cached["metrics"]["cache_hits"],
    }
    print("evaluate:", results["evaluate"], flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
