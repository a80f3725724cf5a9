"""Benchmark: reading the embedded GGUF into torch for fine-tuning (the de-quantization a first
`smishctl finetune` pays before its cache exists), transformers' stock path against the one
`finetune/torch_model.py` uses (one parsed GGUFReader per file over a plain ndarray view), in
one process, alternating, and checks that both give the same weights bit for bit and the same
tokenizer.

Usage: .venv/bin/python bench/bench_base_load.py [--rounds 1]
Needs the finetune extra (bin/setup --finetune) and the assembled weights (any smishctl run of the
embedded model assembles them). Prints a JSON line per load, then the ratio of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    import torch

    from smishctl.core.config import load_settings
    from smishctl.finetune.torch_model import _load_gguf
    from smishctl.models.weights import WEIGHTS, assemble

    gguf = assemble(WEIGHTS["qwen2.5-coder-0.5b"], load_settings(REPO).cache_dir)
    times: dict[str, list[float]] = {"stock": [], "one-plain-reader": []}
    first: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name, fast in (("stock", False), ("one-plain-reader", True)):
            t0 = time.perf_counter()
            model, tokenizer = _load_gguf(gguf, fast_reader=fast)
            times[name].append(time.perf_counter() - t0)
            sample = tokenizer("URGENT: parcel fee £1.99 at http://x.example 你好")["input_ids"]
            first.setdefault(name, {"state": model.state_dict(), "tokens": sample, "vocab": len(tokenizer)})
            print(json.dumps({"path": name, "seconds": round(times[name][-1], 1),
                              "load_avg": round(os.getloadavg()[0], 2)}), flush=True)
    a, b = first["stock"], first["one-plain-reader"]
    same = a["state"].keys() == b["state"].keys() and all(torch.equal(a["state"][k], b["state"][k])
                                                          for k in a["state"])
    same_tok = a["tokens"] == b["tokens"] and a["vocab"] == b["vocab"]
    ms, mf = statistics.median(times["stock"]), statistics.median(times["one-plain-reader"])
    print(json.dumps({"stock_s": round(ms, 1), "one_plain_reader_s": round(mf, 1), "ratio": round(ms / mf, 2),
                      "tensors": len(a["state"]), "weights_equal": same, "tokenizer_equal": same_tok}))
    sys.exit(0 if same and same_tok else 1)


if __name__ == "__main__":
    main()
