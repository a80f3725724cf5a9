"""`smishctl view` on a large run: a throwaway project with one run of N items (default 10,000) made by
the tests' run factory (the real record, probabilities on every answer), then

- `build_view` wall time (what `smishctl view` runs: every page, the project's gates judged on the run)
  and the size of the run page and the compare page;
- if Chromium is installed, the run page opened headless (`--dump-dom`): when its first 200 rows were on
  screen, from the start of navigation (the page's own `performance.now()`), and the whole wall time
  of the browser process, beside the wall time of an empty page (the browser's own start).

    .venv/bin/python bench/bench_view.py --n 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def messages(n: int) -> list[tuple[str, str]]:
    """n distinct (text, label) pairs: the mirror's Mendeley messages, numbered when reused."""
    with open(MIRROR / "sms_phishing_mendeley_5971.csv", encoding="utf-8", errors="replace", newline="") as fh:
        rows = list(csv.DictReader(fh))
    label = {"ham": "ham", "spam": "spam", "smishing": "smishing"}
    base = [(r["TEXT"], label.get(r["LABEL"].strip().lower(), "spam")) for r in rows if r.get("TEXT")]
    return [(t if k < len(base) else f"{t} ({k // len(base)})", lab) for k, (t, lab) in
            ((k, base[k % len(base)]) for k in range(n))]


def make_project(root: Path, n: int):
    os.environ.update(SMISHCTL_HOME=str(root), SMISHCTL_DATA_MIRROR=str(MIRROR), HF_DATASETS_OFFLINE="1",
                      HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    data = root / "big.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(messages(n + n // 5))  # exact repeats are dropped when the file is read: a margin
    from factories import next_label, record_run

    from smishctl.core.config import load_settings
    from smishctl.ops.evaluate import EvalConfig

    settings = load_settings(root)
    # an LLM run (no model is built: the factory chooses the answers)
    rec = record_run(settings, EvalConfig(model="local/qwen2.5-coder-0.5b", dataset=str(data), evaluation_only=True,
                                          limit=n),
                     answer=lambda k, ex: next_label(ex.label) if k % 7 == 0 else ex.label, probs=True, run_id="big")
    return settings, rec


def chromium(url: str, profile: Path) -> tuple[float, str]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    start = time.perf_counter()
    r = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                       capture_output=True, text=True, timeout=120, check=True)
    return time.perf_counter() - start, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="smishctl-bench-view-"))
    try:
        t0 = time.perf_counter()
        settings, rec = make_project(root, args.n)
        print(f"project: one run of {rec.n_items} items in {time.perf_counter() - t0:.1f} s")
        from smishctl.ops.view import build_view

        builds = []
        for k in range(args.repeat):
            start = time.perf_counter()
            build_view(settings, root / f"site{k}")
            builds.append(time.perf_counter() - start)
        site = root / "site0"
        page = next((site / "runs").glob("*.html"))
        later = f", later builds (signals cached per text) median {statistics.median(builds[1:]):.2f} s" if args.repeat > 1 else ""
        print(f"build_view: first {builds[0]:.2f} s (every message's signals extracted, the gates judged){later}")
        print(f"run page {page.stat().st_size / 1e6:.2f} MB, compare page {(site / 'compare.html').stat().st_size / 1e6:.2f} MB")
        if not (shutil.which("chromium") or shutil.which("chromium-browser")):
            print("chromium: not installed, page load not measured")
            return
        empty = root / "empty.html"
        empty.write_text("<!doctype html><title>empty</title>", encoding="utf-8")
        chromium(empty.as_uri(), root / "profile-warm")  # first start warms the disk cache
        rows, walls, bare = [], [], []
        for k in range(args.repeat):
            wall, dom = chromium(page.as_uri(), root / f"profile-{k}")
            first = re.search(r'data-first-rows-ms="(\d+)"', dom)
            assert first and dom.count("<tr data-item=") == 200, "the run page did not render its first page of rows"
            rows.append(int(first.group(1)))
            walls.append(wall)
            bare.append(chromium(empty.as_uri(), root / f"profile-empty-{k}")[0])
        print(f"run page, first 200 rows on screen: median {statistics.median(rows)} ms from navigation start "
              f"(of {rows})")
        print(f"chromium --dump-dom wall: run page median {statistics.median(walls):.2f} s, empty page "
              f"{statistics.median(bare):.2f} s (browser start)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
