"""Golden outputs of `smishctl compare` on a fixed set of recorded runs: the before/after proof that
typing the comparison left every output format unchanged.

The runs under tests/fixtures/compare_golden/project/runs were recorded once by the real CLI (classic
models: fast and deterministic). Each scenario copies that project into a temporary folder, runs
`smishctl compare` there and keeps its exit code, stdout, stderr and every report file it wrote,
normalised by `normalise` (the one place where volatile fields are replaced).

Regenerate (the goldens come from the code at --code, e.g. the commit before the change):

    SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python tests/compare_golden.py --code /tmp/base
    SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python tests/compare_golden.py --record-runs  # new runs

`tests/test_compare_golden.py` runs the same scenarios with the code of this checkout and compares.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "compare_golden"
PROJECT = FIXTURE / "project"  # smishctl.toml, datasets/golden/pins.csv and the recorded runs
GOLDEN = FIXTURE / "golden"
MODELS = ("classic/tfidf-svm", "classic/tfidf-knn", "classic/tfidf-svm-signals")
RECORD_ARGS = ["compare", "--models", ",".join(MODELS), "--limit", "60", "--balanced", "--no-langfuse",
               "--must-pass", "pins", "--json"]
ENV = {"COLUMNS": "100", "LINES": "40", "SMISHCTL_NO_PROGRESS": "1", "NO_COLOR": "1", "TERM": "dumb"}
REPORTS = ("--markdown", "report.md", "--html", "report.html", "--junit", "gates.xml", "--json-file", "cmp.json")

# name -> arguments; {svm}, {knn}, {signals} are the ids of the recorded runs of those models.
SCENARIOS: dict[str, list[str]] = {
    "gated-json": ["{svm}", "{knn}", "{signals}", "--gate", "macro_f1>=0.8", "--gate", "recall[smishing]>=0.9",
                   "--no-regression", "--max-error-rate", "0.1", "--must-pass", "pins", "--json", *REPORTS],
    "gated-text": ["{svm}", "{knn}", "{signals}", "--gate", "macro_f1>=0.8", "--gate", "recall[smishing]>=0.9",
                   "--no-regression", "--max-error-rate", "0.1", "--must-pass", "pins"],
    "baseline-json": ["{knn}", "{signals}", "--baseline", "{svm}", "--json", *REPORTS],
    "baseline-text": ["{knn}", "{signals}", "--baseline", "{svm}", "--bootstrap", "500", "--seed", "3"],
    "one-run-json": ["{signals}", "--json", *REPORTS],
    "one-run-wide-text": ["{signals}", "--wide"],
    "refused-text": ["{knn}", "{knn}"],
    "diff-text": ["{svm}", "{knn}", "--diff"],
    "diff-wide-text": ["{svm}", "{knn}", "{signals}", "--diff", "--wide"],
}

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?")


def normalise(text: str, project: Path) -> str:
    """Volatile fields replaced, so that two runs of one scenario give the same text: the temporary
    project folder (report paths, must-pass set paths) and the comparison's `created_at` stamp
    (JSON, the HTML page's 'generated', JUnit's timestamp). Run ids and figures are fixed by the
    recorded runs and are kept."""
    for form in {str(project), str(project.resolve())}:
        text = text.replace(form, "<project>")
    return _STAMP.sub("<time>", text)


def run_ids() -> dict[str, str]:
    """{svm, knn, signals} -> the id of that model's recorded run on the test split (not its must-pass run)."""
    out = {}
    for d in sorted((PROJECT / "runs").iterdir()):
        rec = json.loads((d / "run.json").read_text())
        if rec["dataset"].get("split") == "test" and rec["dataset"].get("name") != "pins":
            key = {"classic/tfidf-svm": "svm", "classic/tfidf-knn": "knn",
                   "classic/tfidf-svm-signals": "signals"}.get(rec["model"]["name"])
            if key and rec["dataset"].get("n_items") == 60:
                out[key] = rec["id"]
    return out


def copy_project(dest: Path) -> Path:
    shutil.copytree(PROJECT, dest)
    return dest


def smishctl(args: list[str], project: Path, code: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter, in `project`, with the package at `code` (default: this checkout)."""
    env = {**os.environ, **ENV, "SMISHCTL_HOME": str(project)}
    env["PYTHONPATH"] = str(code or REPO)
    return subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=600)


def outputs(name: str, project: Path, run=None) -> dict[str, str]:
    """Scenario `name` run in `project`: {'exit', 'stdout', 'stderr', each report file} normalised.
    `run(args, project)` runs the CLI (default: `smishctl` on this checkout)."""
    ids = run_ids()
    args = ["compare", *(a.format(**ids) for a in SCENARIOS[name]), "--no-langfuse"]
    for f in REPORTS[1::2]:
        (project / f).unlink(missing_ok=True)
    r = (run or smishctl)(args, project)
    got = {"exit": f"{r.returncode}\n", "stdout": r.stdout, "stderr": r.stderr}
    for f in REPORTS[1::2]:
        if (project / f).is_file():
            got[f] = (project / f).read_text()
    return {k: normalise(v, project) for k, v in got.items()}


def golden(name: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((GOLDEN / name).iterdir())}


def write_goldens(code: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp) / "proj")
        for name in SCENARIOS:
            out = GOLDEN / name
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            for k, v in outputs(name, project, lambda a, p: smishctl(a, p, code)).items():
                (out / k).write_text(v)
            print(f"{name}: {sorted(p.name for p in out.iterdir())}")


def record_runs() -> None:
    """Record the runs afresh (classic models on 60 balanced test items, and their must-pass runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        (project / "datasets" / "golden").mkdir(parents=True)
        shutil.copy(REPO / "smishctl.toml", project / "smishctl.toml")
        shutil.copy(PROJECT / "datasets" / "golden" / "pins.csv", project / "datasets" / "golden" / "pins.csv")
        r = smishctl(RECORD_ARGS, project)
        if r.returncode not in (0, 1):
            raise SystemExit(r.stderr)
        shutil.rmtree(PROJECT / "runs", ignore_errors=True)
        shutil.copytree(project / "runs", PROJECT / "runs")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="the smishctl checkout whose outputs become the goldens")
    ap.add_argument("--record-runs", action="store_true", help="record the fixture runs again first")
    a = ap.parse_args()
    if a.record_runs:
        record_runs()
    write_goldens(a.code.resolve())
