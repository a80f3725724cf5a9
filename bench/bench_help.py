"""`smishctl --help` start-up time of two source trees, side by side (interleaved, so that load drifts hit
both alike): the working tree against another checkout of the package, e.g. main's.

    git archive main smishctl | tar -x -C /tmp/help-main
    .venv/bin/python bench/bench_help.py --baseline /tmp/help-main --runs 15
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_medians  # noqa: E402


def once(source: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `smishctl --help`; CPU time suffers less from a busy machine."""
    env = {**os.environ, "PYTHONPATH": str(source)}  # ahead of the editable install's finder
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smishctl", "--help"], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="folder holding the baseline's smishctl/ package")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this tree": REPO}
    for tree in trees.values():  # warm the page cache and .pyc files of both
        once(tree)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            times[name].append(once(tree))
    load = os.getloadavg()[0]
    for i, what in enumerate(("wall", "CPU")):
        med = print_medians("", what, {name: [t[i] for t in ts] for name, ts in times.items()})
        print(f"{what:4s} ratio this tree / baseline (medians): {med['this tree'] / med['baseline']:.2f}")
    print(f"load average {load:.1f}")


if __name__ == "__main__":
    main()
