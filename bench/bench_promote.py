"""`smishctl promote` of a candidate whose evaluation is already recorded: two source trees timed side by
side in one run (interleaved, so that load drifts hit both alike), the working tree against another
checkout of the package (the code before the change), then the ratio of the medians.

The project is built once in a temporary folder with the real CLI: two prompt versions for a model alias
at the loopback fault server (tests/fault_server.py), both evaluated on the whole test split, the first
promoted. Each timed call promotes the second version in a fresh copy of that project, so every call
does the same work: it finds the recorded evaluations of the candidate and of production, checks the
policy and installs a release. No model is called while timing (the evaluations are found, not run).
`smishctl --help` is timed the same way, so the start-up cost is seen next to it.

    git archive <before> smishctl | tar -x -C /tmp/base     # or any checkout of the package
    .venv/bin/python bench/bench_promote.py --baseline /tmp/base --runs 7

`--tree DIR` times another copy of the package instead of this checkout (a snapshot, so that edits made
while it runs do not change what is timed); the project is built with it too.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIRROR, REPO, fault_server, print_medians  # noqa: E402


def _env(source: Path, home: Path | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(source), "SMISHCTL_DATA_MIRROR": str(MIRROR),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "SMISHCTL_NO_PROGRESS": "1", "CI": "1"}
    for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL", "SMISHCTL_HOME"):
        env.pop(var, None)
    return env


def run_cli(cwd: Path, *args: str, source: Path = REPO) -> str:
    done = subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=cwd, env=_env(source),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"smishctl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_project(root: Path, api_base: str, source: Path = REPO) -> None:
    """Two versions of a prompt for the alias `fake`, both evaluated on the whole test split, v1 promoted."""

    def cli(cwd: Path, *args: str) -> str:
        return run_cli(cwd, *args, source=source)

    cli(root, "init")
    with open(root / "smishctl.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[models.alias.fake]\nlitellm = "openai/fake"\napi_base = "{api_base}"\n')
    for n, text in enumerate(("Label the SMS: ham, spam or smishing.", "Decide: ham, spam or smishing?"), 1):
        (root / f"instructions{n}.txt").write_text(text + "\n", encoding="utf-8")
        cli(root, "prompts", "new", "--instructions", f"instructions{n}.txt", "-m", "fake", "--name", f"p{n}")
    ids = [p["id"] for p in json.loads(cli(root, "prompts", "list", "--json"))]
    for art in ids:
        cli(root, "evaluate", "-p", art, "-m", "fake", "--threads", "8", "--no-langfuse")
    cli(root, "promote", ids[0], "--reason", "first", "--no-langfuse")
    (root / "candidate").write_text(ids[1], encoding="utf-8")


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def promote_once(template: Path, source: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `promote <candidate>` in a fresh copy of the project (the copy is not
    timed); CPU time suffers less from a machine others load."""
    work = Path(tempfile.mkdtemp(prefix="smishctl-promote-"))
    try:
        root = work / "p"
        shutil.copytree(template, root, symlinks=True)
        art = (root / "candidate").read_text(encoding="utf-8")
        cpu, start = _cpu(), time.perf_counter()
        out = run_cli(root, "promote", art, "--reason", "bench", "--no-langfuse", "--json", source=source)
        wall = time.perf_counter() - start
        assert json.loads(out)["release"] == "r0002", out
        return wall, _cpu() - cpu
    finally:
        shutil.rmtree(work, ignore_errors=True)


def help_once(source: Path) -> tuple[float, float]:
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "smishctl", "--help"], env=_env(source), check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu() - cpu


def report(what: str, times: dict[str, list[tuple[float, float]]]) -> None:
    for i, kind in enumerate(("wall", "CPU")):
        med = print_medians(f"{what:7s} ", kind, {name: [t[i] for t in ts] for name, ts in times.items()})
        print(f"{what:7s} {kind:4s} speed-up baseline / this tree (medians): {med['baseline'] / med['this tree']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="folder holding the baseline's smishctl/ package")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--tree", type=Path, default=REPO, help="folder holding the smishctl/ package to compare")
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this tree": args.tree.resolve()}
    with tempfile.TemporaryDirectory(prefix="smishctl-bench-promote-") as tmp, fault_server(0.0) as api_base:
        template = Path(tmp) / "project"
        template.mkdir()
        build_project(template, api_base, trees["this tree"])  # both trees read what it writes
        for tree in trees.values():  # warm the page cache and .pyc files of both
            promote_once(template, tree)
            help_once(tree)
        promote_t: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        help_t: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                promote_t[name].append(promote_once(template, tree))
                help_t[name].append(help_once(tree))
    report("promote", promote_t)
    report("--help", help_t)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.runs} interleaved runs of each")


if __name__ == "__main__":
    main()
