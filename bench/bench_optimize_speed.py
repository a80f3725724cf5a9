"""Wall and CPU time of the default `smishctl optimize` (embedded model, default dataset, every default)
for two source trees, side by side: the working tree against another checkout of the package, e.g. the
commit before a change. Each run gets a fresh project (its own DSPy cache, so nothing is answered from
an earlier run); the assembled weights and the dataset file are shared. Runs alternate between the trees
so that load drifts hit both alike.

    git archive f34bfd4 smishctl | tar -x -C /tmp/opt-base
    .venv/bin/python bench/bench_optimize_speed.py --baseline /tmp/opt-base --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
SHARED_CACHE = REPO / ".cache" / "bench-optimize-speed"


def once(source: Path) -> dict:
    root = Path(tempfile.mkdtemp(prefix="smishctl-optspeed-"))
    try:
        shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
        (root / ".cache").mkdir()
        for shared in ("models", "hf-datasets"):
            (SHARED_CACHE / shared).mkdir(parents=True, exist_ok=True)
            (root / ".cache" / shared).symlink_to(SHARED_CACHE / shared)
        env = {**os.environ, "PYTHONPATH": str(source), "SMISHCTL_HOME": str(root),
               "SMISHCTL_DATA_MIRROR": str(MIRROR), "SMISHCTL_NO_PROGRESS": "1", "SMISHCTL_LANGFUSE": "off"}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "smishctl", "optimize", "--json"], cwd=root, env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise SystemExit(f"optimize failed in {source}: {r.stderr.strip().splitlines()[-1:]}")
        doc = json.loads(r.stdout)
        dev = (doc.get("dev_metrics") or {}).get("optimized", {}).get("macro_f1")
        return {"wall_s": round(wall, 1), "cpu_s": round((after.ru_utime - before.ru_utime)
                                                        + (after.ru_stime - before.ru_stime), 1),
                "dev_macro_f1": dev, "artifact": doc.get("id") or doc.get("artifact")}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="folder holding the baseline's smishctl/ package")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this tree": REPO}
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(args.runs):
        for name, tree in trees.items():
            res = once(tree)
            results[name].append(res)
            print(json.dumps({"tree": name, **res}), flush=True)
    for what in ("wall_s", "cpu_s"):
        mean = {name: sum(r[what] for r in rs) / len(rs) for name, rs in results.items()}
        print(f"{what}: baseline {mean['baseline']:.1f}, this tree {mean['this tree']:.1f}, "
              f"ratio {mean['this tree'] / mean['baseline']:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
