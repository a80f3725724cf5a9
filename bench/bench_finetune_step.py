"""Benchmark: one fine-tuning step and one dev scoring on the 0.5B in torch, with the vocabulary
projection over every position (transformers' own loss and logits) against the one
`finetune/torch_model.py` uses (logits only where a target or a score is read), in one process,
alternating, on the same batch; checks that both give the same loss, the same LoRA gradients and the
same label probabilities.

Usage: .venv/bin/python bench/bench_finetune_step.py [--rounds 3] [--batch 3] [--max-length 96]
Needs the finetune extra (bin/setup --finetune) and the assembled weights. Threads: torch's default
(OMP_NUM_THREADS to pin). Prints a JSON line per round, then the ratios of medians.
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
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--loss", default="first")
    args = ap.parse_args()
    import torch

    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.finetune import DEFAULT_INSTRUCTIONS
    from smishctl.finetune.encode import encode_example, first_token_ids, prompt_ids
    from smishctl.finetune.run import FinetuneConfig
    from smishctl.finetune.torch_model import add_lora, base_cache, causal_lm_loss, label_probabilities, load_base
    from smishctl.finetune.trainer import _batch_tensors
    from smishctl.store.serving import local_base

    settings = load_settings(REPO)
    _spec, gguf, sha = local_base("local/qwen2.5-coder-0.5b", settings)
    base = load_base(gguf, "cpu", base_cache(settings.cache_dir, sha))
    cfg = FinetuneConfig()
    model = add_lora(base, cfg.rank, cfg.alpha, seed=0)
    # LoRA's B starts at zero; give it weights so that the gradients of A are not all zero.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02, generator=torch.Generator().manual_seed(1))
    tok = base.tokenizer
    ds = load_dataset_splits(None, settings)
    train = sample(ds.split("train"), args.batch, balanced=True, seed=5)
    texts = [e.text for e in sample(ds.split("dev"), args.batch, balanced=True, seed=5)]
    encoded = [encode_example(tok, DEFAULT_INSTRUCTIONS, e.text, e.label, args.max_length, args.loss) for e in train]
    ids, mask, labels = _batch_tensors(encoded, tok.pad_token_id, "cpu")
    label_ids = first_token_ids(tok, ds.labels)

    def full_step():
        return model(input_ids=ids, attention_mask=mask, labels=labels).loss

    def full_probs():
        rows = [prompt_ids(tok, DEFAULT_INSTRUCTIONS, t) for t in texts]
        width = max(len(r) for r in rows)
        x = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        m = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        with torch.no_grad():
            logits = model(input_ids=x, attention_mask=m).logits
        logp = torch.log_softmax(logits[torch.arange(len(rows)), [len(r) - 1 for r in rows]].float(), dim=-1)
        return [{lab: float(logp[i, label_ids[lab]].exp()) for lab in ds.labels} for i in range(len(rows))]

    paths = {"all-positions": (full_step, full_probs),
             "target-positions": (lambda: causal_lm_loss(model, ids, mask, labels),
                                  lambda: label_probabilities(model, tok, DEFAULT_INSTRUCTIONS, texts, ds.labels,
                                                              batch_size=args.batch))}
    times = {name: {"step": [], "score": []} for name in paths}
    seen: dict[str, dict] = {}
    model.train()
    for _ in range(args.rounds):
        for name, (step, score) in paths.items():
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            loss = step()
            loss.backward()
            t1 = time.perf_counter()
            probs = score()
            t2 = time.perf_counter()
            model.train()
            times[name]["step"].append(t1 - t0)
            times[name]["score"].append(t2 - t1)
            grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
            seen.setdefault(name, {"loss": float(loss), "grads": grads, "probs": probs})
            print(json.dumps({"path": name, "step_s": round(t1 - t0, 2), "score_s": round(t2 - t1, 2),
                              "loss": round(float(loss), 5), "load_avg": round(os.getloadavg()[0], 2)}), flush=True)
    a, b = seen["all-positions"], seen["target-positions"]
    grad_gap = max(float((a["grads"][k] - b["grads"][k]).abs().max()) for k in a["grads"])
    grad_scale = max(float(a["grads"][k].abs().max()) for k in a["grads"])
    prob_gap = max(abs(x[lab] - y[lab]) for x, y in zip(a["probs"], b["probs"], strict=True) for lab in ds.labels)
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    same = (abs(a["loss"] - b["loss"]) < 1e-4 and a["grads"].keys() == b["grads"].keys()
            and grad_gap <= 1e-3 * grad_scale and prob_gap < 1e-4)
    print(json.dumps({"threads": torch.get_num_threads(), "batch": args.batch, "max_length": args.max_length,
                      "tokens": int(mask.sum()),
                      "step_s": {k: round(v["step"], 2) for k, v in med.items()},
                      "score_s": {k: round(v["score"], 2) for k, v in med.items()},
                      "step_ratio": round(med["all-positions"]["step"] / med["target-positions"]["step"], 2),
                      "score_ratio": round(med["all-positions"]["score"] / med["target-positions"]["score"], 2),
                      "loss_gap": abs(a["loss"] - b["loss"]), "max_grad_gap": grad_gap, "max_grad": grad_scale,
                      "max_prob_gap": prob_gap, "same": same}))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
