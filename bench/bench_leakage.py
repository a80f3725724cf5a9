"""Template leakage of the splits: how many dev/test scams have a near copy in train, per split policy.

For each policy (exact, template) and each of dev and test, among the spam and smishing messages:
- identical: the masked text (smishctl.data.templates.mask: URLs, e-mails, phones, digits replaced;
  punctuation and case ignored) equals that of a training message;
- neighbour >= t: a training message at masked word TF-IDF cosine >= t.

Run: SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_leakage.py
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def leakage(ds, name: str, thresholds: tuple[float, ...]) -> dict:
    import numpy as np

    from smishctl.data.templates import mask, masked_vectorizer, similar_pairs

    def key(text: str) -> str:
        return " ".join(re.sub(r"[^\w]+", " ", mask(text)).split())

    train = ds.split("train")
    items = [e for e in ds.split(name) if e.label != "ham"]
    vec = masked_vectorizer().fit([e.text for s in ds.splits.values() for e in s])
    train_keys = {key(e.text) for e in train}
    out = {"n": len(items), "identical": sum(key(e.text) in train_keys for e in items) / len(items)}
    x, t = vec.transform([e.text for e in items]), vec.transform([e.text for e in train])
    best = np.zeros(len(items))
    rows, _, sims = similar_pairs(x, min(thresholds), t)
    np.maximum.at(best, rows, sims)
    for th in thresholds:
        out[f">={th}"] = float(np.mean(best >= th - 1e-9))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sms-phishing")
    ap.add_argument("--template-threshold", type=float, action="append",
                    help="also measure the template policy at this grouping threshold (repeatable)")
    args = ap.parse_args()
    from smishctl.core.config import load_settings
    from smishctl.data.prepare import SplitOptions, load_dataset_splits

    settings = load_settings(Path(tempfile.mkdtemp(prefix="smishctl-bench-")))
    thresholds = (0.7, 0.8, 0.9)
    policies = [("exact", None), ("template", None)] + [("template", t) for t in args.template_threshold or []]
    print(f"{args.dataset}: spam+smishing messages of dev/test with a masked near copy in train")
    print(f"{'policy':<16} {'split':<5} {'n':>4} {'identical':>9} " + " ".join(f"{'cos>=' + str(t):>9}" for t in thresholds)
          + "  load s")
    for policy, th in policies:
        start = time.perf_counter()
        ds = load_dataset_splits(args.dataset, settings,
                                 options=SplitOptions(policy=policy, template_threshold=th))
        load_s = time.perf_counter() - start
        label = policy if policy == "exact" else f"template@{ds.provenance['template_threshold']}"
        for name in ("dev", "test"):
            r = leakage(ds, name, thresholds)
            print(f"{label:<16} {name:<5} {r['n']:>4} {r['identical']:>9.1%} "
                  + " ".join(f"{r[f'>={t}']:>9.1%}" for t in thresholds) + f"  {load_s:.1f}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
