"""One-shot `smishctl classify` in a fresh process, with and without saved prompt states
(smishctl/models/prompt_state.py), alternating in one run so that machine noise hits both alike.

    .venv/bin/python bench/bench_prompt_state.py --rounds 5

Programs: zero-shot (the signature's instructions only) and a fixed-demo `labeled` program with k=8
demonstrations (built here with `smishctl optimize`). Each "on" round starts from the states a
two-message warm-up saved; each "off" round has SMISHCTL_PROMPT_STATES=0. The model call's time
includes loading the weights into the in-process server (about 1.5 s).
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

MESSAGE = "USPS: your parcel {n} is on hold, pay the 1.99 redelivery fee at usps-track-care.com today"
_calls = iter(range(1, 10**6))  # a new message per call: a repeated one would come from DSPy's cache


def smishctl(root, *args: str, states: bool = True, input: str | None = None) -> str:
    """The CLI in a fresh process in the bench project; its stdout."""
    env = {**os.environ, "SMISHCTL_HOME": str(root), "SMISHCTL_NO_PROGRESS": "1"}
    if not states:
        env["SMISHCTL_PROMPT_STATES"] = "0"
    r = subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=root, env=env, input=input,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"smishctl {args[0]} failed: {r.stderr.strip()[-500:]}")
    return r.stdout


def classify(root, prompt: str, states: bool) -> tuple[float, dict]:
    text = MESSAGE.format(n=f"US{next(_calls):04d}")
    start = time.perf_counter()
    out = smishctl(root, "classify", text, "--prompt", prompt, "--json", states=states)
    return time.perf_counter() - start, json.loads(out.strip().splitlines()[-1])


def warm(root, prompt: str) -> None:
    """Two messages in one process: the instructions' state is saved, and a fixed-demo program's
    prefix once it repeats (as a first `evaluate` or `classify --file` does); the page cache then
    holds the weights for both arms."""
    smishctl(root, "classify", "-", "--prompt", prompt,
             input="\n".join(MESSAGE.format(n=f"WU{i}") for i in range(2)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with project("http://127.0.0.1:9/v1") as root:
        labeled = json.loads(smishctl(root, "optimize", "--optimizer", "labeled", "--param", "k=8",
                                      "--train-size", "40", "--dev-size", "2", "--json"))["artifact"]
        rows = []
        for name, prompt in (("zero-shot", "zero-shot"), ("labeled k=8", labeled)):
            warm(root, prompt)
            times: dict[bool, list[float]] = {True: [], False: []}
            model_ms: dict[bool, list[float]] = {True: [], False: []}
            answers = set()
            for _ in range(args.rounds):
                for states in (False, True):
                    t, out = classify(root, prompt, states)
                    times[states].append(t)
                    model_ms[states].append(out["latency_ms"] / 1000)
                    answers.add(out.get("label"))
            off, on = statistics.median(times[False]), statistics.median(times[True])
            m_off, m_on = statistics.median(model_ms[False]), statistics.median(model_ms[True])
            rows.append((name, off, on, m_off, m_on, sorted(map(str, answers))))
        print(f"one-shot classify in a fresh process, median of {args.rounds} (seconds: process wall; model call)")
        print(f"{'program':<14}{'wall off':>9}{'wall on':>9}{'ratio':>7}{'call off':>10}{'call on':>9}{'ratio':>7}  labels")
        for name, off, on, m_off, m_on, answers in rows:
            print(f"{name:<14}{off:>9.2f}{on:>9.2f}{off / on:>6.2f}x{m_off:>10.2f}{m_on:>9.2f}{m_off / m_on:>6.2f}x  "
                  f"{', '.join(answers)}")


if __name__ == "__main__":
    main()
