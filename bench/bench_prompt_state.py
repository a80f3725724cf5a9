"""One-shot `smishctl classify` in a fresh process, with and without saved prompt states
(smishctl/models/prompt_state.py), alternating in one run so that machine noise hits both alike.

    .venv/bin/python bench/bench_prompt_state.py --rounds 5

Programs: zero-shot (the signature's instructions only) and a fixed-demo `labeled` program with k=8
demonstrations (built here with `smishctl optimize`). Each "on" round starts from the states the
warm-up call saved; each "off" round has SMISHCTL_PROMPT_STATES=0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _common import project

MESSAGE = "USPS: your parcel is on hold, pay the 1.99 redelivery fee at usps-track-care.com today"


def classify(root, prompt: str, states: bool) -> tuple[float, dict]:
    env = {**os.environ, "SMISHCTL_HOME": str(root), "SMISHCTL_NO_PROGRESS": "1"}
    if not states:
        env["SMISHCTL_PROMPT_STATES"] = "0"
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "smishctl", "classify", MESSAGE, "--prompt", prompt, "--json"],
                       cwd=root, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"classify failed: {r.stderr.strip()[-500:]}")
    return elapsed, json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with project("http://127.0.0.1:9/v1") as root:
        env = {**os.environ, "SMISHCTL_HOME": str(root), "SMISHCTL_NO_PROGRESS": "1"}
        r = subprocess.run([sys.executable, "-m", "smishctl", "optimize", "--optimizer", "labeled", "--param", "k=8",
                            "--train-size", "40", "--dev-size", "2", "--json"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise SystemExit(f"optimize failed: {r.stderr.strip()[-500:]}")
        labeled = json.loads(r.stdout)["artifact"]
        rows = []
        for name, prompt in (("zero-shot", "zero-shot"), ("labeled k=8", labeled)):
            classify(root, prompt, True)  # warm-up: saves the state (and the page cache holds the weights)
            times: dict[bool, list[float]] = {True: [], False: []}
            answers = set()
            for _ in range(args.rounds):
                for states in (False, True):
                    t, out = classify(root, prompt, states)
                    times[states].append(t)
                    answers.add(out.get("label"))
            off, on = statistics.median(times[False]), statistics.median(times[True])
            rows.append((name, off, on, off / on, sorted(map(str, answers))))
        print(f"one-shot classify in a fresh process, median of {args.rounds} (seconds, wall)")
        print(f"{'program':<14}{'states off':>12}{'states on':>12}{'ratio':>8}  labels")
        for name, off, on, ratio, answers in rows:
            print(f"{name:<14}{off:>12.2f}{on:>12.2f}{ratio:>7.2f}x  {', '.join(answers)}")


if __name__ == "__main__":
    main()
