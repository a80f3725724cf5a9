"""Screenshots of `smishctl view`'s pages (1280x900, headless Chromium) into docs/view/*.png, from a demo
project made here:

- two real runs of the classic baselines (classic/tfidf-svm, classic/tfidf-svm-signals) on a balanced
  sample of the default dataset's test split;
- two prompt versions for the embedded model: one as optimize would store it, one hand-written from a
  file (`smishctl prompts new --instructions FILE --name gpt4`), each with a run on the same items recorded
  by the tests' run factory (no model is called: it picks the answers, with probabilities);
- the first version promoted, a run whose run.json is damaged, and this repository's drift benchmark
  (bench/data/drift.json, docs/drift.svg).

The pages are served by `smishctl view` (so that the prompt page shows the exact turns of a typed message).

    .venv/bin/python bench/view_screenshots.py [--out docs/view] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
N = 120  # test items of every run (balanced), so that all runs pair
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--window-size=1280,900"]
SMS = "Your parcel is held at the depot: pay the 1.99 GBP fee at http://royal-mail.parcel-fee.co/uk today"


def smishctl(root: Path, *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=root, capture_output=True, text=True,
                       timeout=600, env=os.environ)
    if r.returncode != 0:
        raise SystemExit(f"smishctl {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


def make_project(root: Path) -> dict:
    os.environ.update(SMISHCTL_HOME=str(root), SMISHCTL_DATA_MIRROR=str(MIRROR), HF_DATASETS_OFFLINE="1",
                      HF_HUB_OFFLINE="1", LITELLM_LOCAL_MODEL_COST_MAP="True", SMISHCTL_NO_PROGRESS="1")
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    for model in ("classic/tfidf-svm", "classic/tfidf-svm-signals"):
        smishctl(root, "evaluate", "-m", model, "--limit", str(N), "--balanced")
    from factories import accept_small_promotions, make_artifact, promotion_run

    from smishctl.core.config import load_settings
    from smishctl.ops.promote import promote
    from smishctl.ops.prompts_new import new_prompt, read_instructions_file

    settings = load_settings(root)
    accept_small_promotions(settings, N)
    first = make_artifact(settings, instructions="Classify the SMS as ham, spam or smishing.")
    (root / "gpt4.txt").write_text("You screen text messages for a bank's customers.\n"
                                   "Smishing asks for money, codes or a click on a link, often with urgency.\n"
                                   "Spam advertises. Everything else is ham.\n", encoding="utf-8")
    hand = new_prompt(settings, read_instructions_file(root / "gpt4.txt"), name="gpt4")["id"]
    run_first = promotion_run(settings, first, set(range(0, N, 6)), n=N, probs=True).id
    run_hand = promotion_run(settings, load_artifact(settings, hand), set(range(0, N, 11)), n=N, probs=True).id
    promote(settings, first.id, reason="first prompt of the embedded model")
    damaged = settings.runs_dir / "20260101-000000-damaged"
    damaged.mkdir()
    (damaged / "run.json").write_text('{"id": "20260101-000000-damaged", "status": "compl', encoding="utf-8")
    (root / "bench" / "data").mkdir(parents=True)
    shutil.copy(REPO / "bench" / "data" / "drift.json", root / "bench" / "data" / "drift.json")
    (root / "docs").mkdir()
    shutil.copy(REPO / "docs" / "drift.svg", root / "docs" / "drift.svg")
    from smishctl.store.runs import list_runs

    listed = list_runs(settings.runs_dir, on_unreadable=lambda *_: None)  # the damaged one is meant
    svm = next(r.id for r in listed if r.record().model_name == "classic/tfidf-svm")
    return {"first": first.id, "hand": hand, "runs": [svm, run_first, run_hand], "run": run_first}


def load_artifact(settings, ref: str):
    from smishctl.store.artifacts import resolve_artifact

    return resolve_artifact(settings.prompts_dir, ref)


def shoot(url: str, png: Path, profile: Path) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=8000",
                    f"--screenshot={png}", url], capture_output=True, timeout=180, check=True)
    print(f"{png}  <-  {url}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "view")
    ap.add_argument("--keep", action="store_true", help="keep the demo project")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="smishctl-view-shots-"))
    try:
        made = make_project(root)
        proc = subprocess.Popen([sys.executable, "-m", "smishctl", "view", "--port", "0"], cwd=root,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=os.environ)
        try:
            base = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline()).group(0)
            with urllib.request.urlopen(base + "index.html", timeout=30) as resp:
                index = resp.read().decode("utf-8")
            run_page = re.search(rf'"id":"{re.escape(made["run"])}","ref":"[^"]*","page":"(runs/[^"]+)"', index).group(1)
            pages = {
                "runs": "index.html",
                "run": run_page + "#wrong=1",
                "compare": "compare.html#runs=" + ",".join(made["runs"]),
                "prompts": f"prompts.html#a={urllib.parse.quote(made['first'])}&b={urllib.parse.quote(made['hand'])}",
                "prompt": f"prompts/{made['hand'].replace('/', '_')}.html#for={urllib.parse.quote(SMS)}",
                "production": "production.html",
                "drift": "drift.html",
            }
            args.out.mkdir(parents=True, exist_ok=True)
            for k, (name, path) in enumerate(pages.items()):
                shoot(base + path, args.out / f"{name}.png", root / f"profile-{k}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        if args.keep:
            print(f"demo project kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
