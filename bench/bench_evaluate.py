"""Benchmark: CLI start-up, evaluation overhead against a raw llama.cpp loop, and cached re-runs.

Usage: .venv/bin/python bench/bench_evaluate.py [--n 40] [--rounds 4]
Runs everything in one process. The overhead figure is the median, over rounds, of smishctl's time over
the raw loop's on the same requests (asserted byte-identical), with the order alternating each round so
that load drift on a shared machine hits both sides; the spread across rounds is printed with it.
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
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=4, help="raw/smishctl pairs, alternating which goes first")
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

    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig, evaluate, prepare

    settings = load_settings(root)
    cfg = EvalConfig(limit=args.n, cache=False)  # every item a real call, in every round
    plan = prepare(settings, cfg)  # loads data, model and program (outside both timings)

    # Raw loop: the messages smishctl would send (the hardened, fenced SMS in DSPy's rendering) and the
    # same response format, straight to xllamacpp, built here independently of the provider.
    from dspy.adapters.json_adapter import _get_structured_outputs_response_format
    from litellm.utils import type_to_response_format_param

    from smishctl.models import local_provider, local_server
    from smishctl.models.local_provider import GGUF_PATHS
    from smishctl.solve.harden import harden_text

    solver = plan.solver
    predictor = solver.program.predictors()[0]
    fmt = type_to_response_format_param(_get_structured_outputs_response_format(predictor.signature, True))
    gguf = GGUF_PATHS["qwen2.5-coder-0.5b"]
    text_for_model = harden_text if cfg.harden else (lambda t: t)
    requests = [{"messages": solver.adapter.format(predictor.signature, [], {"sms": text_for_model(ex.text)}),
                 "temperature": 0.0, "max_tokens": 64, "response_format": fmt} for ex in plan.items]

    # What evaluate really sends, captured where the provider hands it to llama.cpp.
    sent: list[dict] = []
    real_chat = local_server.chat

    def capturing_chat(path, request):
        sent.append(request)
        return real_chat(path, request)

    def canonical(req: dict) -> bytes:
        return json.dumps(req, sort_keys=True, ensure_ascii=False).encode()

    local_server.chat(gguf, requests[0])  # warm the instruction prefix for both loops

    def raw_loop() -> float:
        t = time.perf_counter()
        for req in requests:
            local_server.chat(gguf, req)
        return time.perf_counter() - t

    def smishctl_loop() -> float:
        sent.clear()
        local_provider.local_server.chat = capturing_chat
        try:
            t = time.perf_counter()
            evaluate(settings, cfg)
            elapsed = time.perf_counter() - t
        finally:
            local_provider.local_server.chat = real_chat
        assert [canonical(r) for r in sent] == [canonical(r) for r in requests], \
            "smishctl and the raw loop sent different requests: the ratio would compare different work"
        return elapsed

    # Alternate the order each round (raw first, then smishctl first) so that load drift hits both.
    rounds = []
    for i in range(args.rounds):
        first, second = (raw_loop, smishctl_loop) if i % 2 == 0 else (smishctl_loop, raw_loop)
        a, b = first(), second()
        raw_s, smish_s = (a, b) if first is raw_loop else (b, a)
        rounds.append({"raw_s": round(raw_s, 2), "smishctl_s": round(smish_s, 2), "ratio": round(smish_s / raw_s, 3),
                       "load": round(os.getloadavg()[0], 2)})
        print("round:", rounds[-1], flush=True)
    ratios = sorted(r["ratio"] for r in rounds)
    t = time.perf_counter()
    cached_cfg = EvalConfig(limit=args.n)
    evaluate(settings, cached_cfg)  # fills the cache
    t = time.perf_counter()
    cached = evaluate(settings, cached_cfg)  # the same configuration again: answered from the cache
    t_cached = time.perf_counter() - t
    results["evaluate"] = {
        "n": args.n, "rounds": rounds, "requests_identical": True,
        "overhead_ratio_median": round(statistics.median(ratios), 3),
        "overhead_ratio_range": [ratios[0], ratios[-1]],
        "cached_rerun_s": round(t_cached, 2), "cache_hits": cached["metrics"]["cache_hits"],
    }
    print("evaluate:", results["evaluate"], flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
