"""Golden outputs of `smishctl promote ... --json`: the before/after proof that typing the promotion door
(PromotionResult, Release, HistoryEntry) left every JSON document it prints unchanged.

`build_project` makes a project of three real artifacts with recorded test-split evaluations (the test
factories: real writers, no model) and one artifact without any. `SCENARIO` is one walk through the
door in that project: status, dry runs, promotions, a refusal, a forced promotion, rollbacks; each
step's exit code, stdout and stderr are kept, normalised by `normalise` (the one place where volatile
fields are replaced).

Regenerate (the goldens come from the code at --code, e.g. the commit before the change):

    SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python tests/promote_golden.py --code /tmp/base

`tests/test_promote_golden.py` walks the same scenario with the code of this checkout and compares.
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
GOLDEN = REPO / "tests" / "fixtures" / "promote_golden" / "golden.json"
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()
ENV = {"COLUMNS": "100", "LINES": "40", "SMISHCTL_NO_PROGRESS": "1", "NO_COLOR": "1", "TERM": "dumb", "CI": "1",
       "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
       "SMISHCTL_DATA_MIRROR": str(MIRROR)}

# Each step: CLI arguments, in one project, in this order; {good}, {ok}, {poor}, {fresh} are artifact ids.
SCENARIO: list[list[str]] = [
    ["promote", "--status", "--json"],
    ["promote", "{good}", "--dry-run", "--json"],
    ["promote", "{fresh}", "--dry-run", "--json"],
    ["promote", "{good}", "--reason", "first prompt", "--json", "--no-langfuse"],
    ["promote", "--status", "--json"],
    ["promote", "{good}", "--reason", "again", "--json", "--no-langfuse"],
    ["promote", "{ok}", "--dry-run", "--json"],
    ["promote", "{ok}", "--reason", "second", "--json", "--no-langfuse"],
    ["promote", "{poor}", "--reason", "worse", "--json", "--no-langfuse"],
    ["promote", "{poor}", "--force", "--reason", "demo for the workshop", "--json", "--no-langfuse"],
    ["promote", "--status", "--json"],
    ["promote", "--rollback", "--dry-run", "--json", "--no-langfuse"],
    ["promote", "--rollback", "--reason", "back", "--json", "--no-langfuse"],
    ["promote", "--rollback", "--json", "--no-langfuse"],
    ["promote", "--status", "--json"],
]

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?")


def normalise(text: str, project: Path) -> str:
    """Volatile fields replaced, so that two walks give the same text: the temporary project folder
    (a release's `dir`) and time stamps (`when`, `since`, `promoted_at`). Run ids, release names,
    figures, checks and the user name are fixed by the project and kept."""
    for form in {str(project), str(project.resolve())}:
        text = text.replace(form, "<project>")
    return _STAMP.sub("<time>", text)


def build_project(root: Path) -> dict[str, str]:
    """The project the scenario walks (see the module docstring); returns the artifact ids by name."""
    sys.path.insert(0, str(REPO / "tests"))
    from factories import accept_small_promotions, make_artifact, promotion_run

    from smishctl.core.config import load_settings

    root.mkdir(parents=True)
    shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
    settings = load_settings(root)
    accept_small_promotions(settings)
    arts = {"good": make_artifact(settings, instructions="Label the SMS: ham, spam or smishing."),
            "ok": make_artifact(settings, instructions="Decide: ham, spam or smishing?"),
            "poor": make_artifact(settings, instructions="Guess the label."),
            "fresh": make_artifact(settings, instructions="Which label fits this SMS?")}
    promotion_run(settings, arts["good"], {1, 2}, run_id="run-good")
    promotion_run(settings, arts["ok"], {1, 2, 3, 4}, run_id="run-ok")
    promotion_run(settings, arts["poor"], set(range(20)), run_id="run-poor")
    return {name: art.id for name, art in arts.items()}


def walk(project: Path, ids: dict[str, str], code: Path) -> list[dict]:
    """Every step of SCENARIO run by the CLI of the package at `code`, in `project`."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(code), "SMISHCTL_HOME": str(project)}
    for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
        env.pop(var, None)
    out = []
    for step in SCENARIO:
        args = [a.format(**ids) for a in step]
        done = subprocess.run([sys.executable, "-m", "smishctl", *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)
        out.append({"args": " ".join(step), "exit": done.returncode, "stdout": normalise(done.stdout, project),
                    "stderr": normalise(done.stderr, project)})
    return out


def walk_fresh(code: Path) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="smishctl-promote-golden-") as tmp:
        project = Path(tmp) / "project"
        ids = build_project(project)
        return walk(project, ids, code)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, required=True, help="folder holding the smishctl/ package to record")
    args = ap.parse_args()
    steps = walk_fresh(args.code.resolve())
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(steps, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} ({len(steps)} steps)")


if __name__ == "__main__":
    main()
