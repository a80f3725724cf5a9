"""A linear probe on the embedded model's hidden state: does it read today's messages better than TF-IDF?

A feasibility check of one lever of the drift work (bench/bench_drift.py), not a product feature. The
embedded model (llama.cpp, in-process, embeddings mode) reads each message in a short classification
prompt; the state of the last prompt token (the one the label would follow) is the message's feature
vector, and a logistic regression is trained on it. Beside it, on the same training messages and the
same held items, `classic/tfidf-svm`'s own pipeline (smishctl.solve.classic.make_pipeline), and the SVM
trained on the whole train split (what `evaluate --with-feedback` gives the drift table).

Protocol: the held part and the report order of bench_drift.py (same --pool-fraction and --seed); the
first --train messages of the default dataset's train split (template split, as every command uses;
splits are interleaved, so the first n are a fair sample); for each N of --n the first N reports join the training set. Scores:
macro-F1 on the held part with its 95% bootstrap interval, and paired differences on the same items
(smishctl.score.stats, 2,000 resamples). Hidden states are cached in --cache (one file per model and
PROMPT, one entry per message), so a second run only trains.

  SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_probe.py --train 600 --n 0 100
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

from _common import REPO, interval, model_project, paired  # noqa: E402
from bench_drift import load_modern, report_order, split_pool  # noqa: E402

PROMPT = ("<|im_start|>system\nClassify the SMS as ham (a normal message), spam (unwanted advertising) or "
          "smishing (a scam that wants money, data or a click).<|im_end|>\n<|im_start|>user\n{text}<|im_end|>\n"
          "<|im_start|>assistant\n")


def hidden_states(texts: list[str], gguf: Path, cache: Path):
    """An array: the last prompt token's state for each text (llama.cpp embeddings, pooling LAST, raw)."""
    import numpy as np
    import xllamacpp

    key = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}:{PROMPT}".encode()).hexdigest()[:12]
    cache.mkdir(parents=True, exist_ok=True)
    store = cache / f"probe-{key}.json"
    known: dict[str, list[float]] = json.loads(store.read_text()) if store.exists() else {}
    todo = [t for t in dict.fromkeys(texts) if hashlib.sha256(t.encode()).hexdigest() not in known]
    if todo:
        p = xllamacpp.CommonParams()
        p.model.path = str(gguf)
        p.embedding = True
        p.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
        p.embd_normalize = -1  # the raw state: the probe standardises it
        p.n_ctx, p.n_parallel, p.verbosity = 2048, 1, -1
        p.hostnames, p.port = ["127.0.0.1"], 0
        p.cpuparams.n_threads = p.cpuparams_batch.n_threads = os.cpu_count() or 2
        server = xllamacpp.Server(p)
        start = time.perf_counter()
        for i, text in enumerate(todo, 1):
            r = server.handle_embeddings({"input": PROMPT.format(text=text)})
            known[hashlib.sha256(text.encode()).hexdigest()] = r["data"][0]["embedding"]
            if i % 50 == 0 or i == len(todo):
                print(f"  states: {i}/{len(todo)} ({(time.perf_counter() - start) / i:.2f} s each)", flush=True)
                tmp = store.with_suffix(".tmp")
                tmp.write_text(json.dumps(known))
                tmp.replace(store)
    return np.array([known[hashlib.sha256(t.encode()).hexdigest()] for t in texts], dtype=np.float32)


def probe():
    """Standardised states, a balanced logistic regression; C chosen by 5-fold cross-validation on the
    training messages alone (macro-F1), never on the held part."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0], cv=5,
                                                                scoring="f1_macro", max_iter=5000,
                                                                class_weight="balanced"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=600, help="messages of the train split the probe learns from")
    ap.add_argument("--n", nargs="+", type=int, default=[0, 100], help="reports added to the training set")
    ap.add_argument("--pool-fraction", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "bench-probe")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "probe.json")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning, module="sklearn")  # LogisticRegressionCV's attributes

    from smishctl.core.config import load_settings
    from smishctl.data.prepare import load_dataset_splits, sample
    from smishctl.models.weights import WEIGHTS, assemble
    from smishctl.solve.classic import make_pipeline

    started = time.perf_counter()
    root = model_project(None, "smishctl-bench-probe-")
    settings = load_settings(root)
    train_all = load_dataset_splits(None, settings).split("train")
    train = sample(train_all, args.train)
    rows = load_modern()
    pool, held = split_pool(rows, args.pool_fraction, args.seed)
    order = report_order(pool, args.seed)
    labels = tuple(sorted({r["label"] for r in rows}))
    code = {lab: i for i, lab in enumerate(labels)}
    gold = [code[r["label"]] for r in held]
    print(f"train sample {len(train)} of {len(train_all)}; held {len(held)}; reports up to {max(args.n)}", flush=True)

    gguf = assemble(WEIGHTS["qwen2.5-coder-0.5b"], settings.cache_dir)
    texts = [e.text for e in train] + [r["text"] for r in order[:max(args.n)]] + [r["text"] for r in held]
    t0 = time.perf_counter()
    states = hidden_states(texts, gguf, args.cache)
    state_s = time.perf_counter() - t0
    by_text = {t: states[i] for i, t in enumerate(texts)}

    import numpy as np

    k = len(labels)

    out = []
    for n in sorted(set(args.n)):
        reports = order[:n]
        x_text = [e.text for e in train] + [r["text"] for r in reports]
        y = [e.label for e in train] + [r["label"] for r in reports]
        held_text = [r["text"] for r in held]
        t0 = time.perf_counter()
        lr = probe().fit(np.stack([by_text[t] for t in x_text]), y)
        p_probe = [code[p] for p in lr.predict(np.stack([by_text[t] for t in held_text]))]
        fit_s = time.perf_counter() - t0
        p_svm_same = [code[p] for p in make_pipeline().fit(x_text, y).predict(held_text)]
        full_text = [e.text for e in train_all] + [r["text"] for r in reports]
        full_y = [e.label for e in train_all] + [r["label"] for r in reports]
        p_svm_full = [code[p] for p in make_pipeline().fit(full_text, full_y).predict(held_text)]
        row = {"n": n, "train": len(x_text),
               "probe": interval(gold, p_probe, k), "svm_same_data": interval(gold, p_svm_same, k),
               "svm_full_train": interval(gold, p_svm_full, k),
               "probe_vs_svm_same": paired(gold, p_svm_same, p_probe, k),
               "probe_vs_svm_full": paired(gold, p_svm_full, p_probe, k),
               "probe_c": float(lr[-1].C_[0]), "probe_fit_s": round(fit_s, 2)}
        out.append(row)
        print(json.dumps(row), flush=True)

    n_states = len(dict.fromkeys(texts))
    doc = {"protocol": {"train": args.train, "seed": args.seed, "pool_fraction": args.pool_fraction,
                        "held": len(held), "prompt": PROMPT, "model": "qwen2.5-coder-0.5b (embedded GGUF)"},
           "rows": out, "states": n_states, "state_s": round(state_s, 1),
           "wall_s": round(time.perf_counter() - started, 1), "load_average": round(os.getloadavg()[0], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"\n{n_states} states in {state_s:.0f} s; {doc['wall_s']} s in all, load {doc['load_average']}; "
          f"rows in {args.out}")


if __name__ == "__main__":
    main()
