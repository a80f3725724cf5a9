"""`optimize --json` prints the same document, and writes the same CARD.md, as before the result became a
typed `OptimizeResult`.

The golden files were written by the code of the commit before that change (958d7aa), on the same tiny
optimizations against the loopback fault server (deterministic answers): a kNN search (candidates, the
chosen settings), and a labeled program with a forced calibration and a recall threshold (the decision
rule in the JSON and the card). Regenerate them with

    SMISHCTL_DATA_MIRROR=... .venv/bin/python tests/test_optimize_json.py --code DIR

where DIR holds that commit's `smishctl` package (it goes first on the CLI's PYTHONPATH).

What varies between two runs of the same code is replaced in `normalise`, the one place that knows it:
the project folder, the dataset mirror's folder (CI's checkout lies elsewhere), the creation time, the fault server's port, the optimization id (a timestamp and a
pid), the library versions, and timings (latencies, wall seconds; in the card: its seconds spent); and the
checksum of a DSPy program.json, which holds the library versions (a kNN program.json does not, and its
checksum is compared). Everything else, key order included, is compared as text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

GOLDEN = Path(__file__).parent / "fixtures" / "optimize"
CASES = {
    "knn": ("--optimizer", "knn", "--train-size", "12", "--dev-size", "6"),
    "labeled-decision": ("--optimizer", "labeled", "--param", "k=3", "--train-size", "9", "--dev-size", "12",
                         "--calibrate", "on", "--recall-target", "smishing=0.9"),
}
TIMINGS = {"latency_ms", "latency_p50_ms", "wall_seconds"}


def normalise(doc: object, project: Path) -> object:
    """The document with what differs from run to run replaced by placeholders (see the module's doc)."""
    mirror = str(Path(os.environ["SMISHCTL_DATA_MIRROR"]).resolve())

    def walk(value, key=None):
        if key in TIMINGS:
            return "<timing>"
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return value.replace(str(project), "<project>").replace(mirror, "<mirror>")
        return value

    out = walk(doc)
    out["created_at"] = "<created_at>"
    out["model"]["api_base"] = "<fault server>"
    out["versions"] = dict.fromkeys(out["versions"], "<version>")
    if isinstance(out.get("langfuse"), dict) and "session_id" in out["langfuse"]:
        out["langfuse"]["session_id"] = "<optimization id>"
    if out["program_kind"] != "knn":
        out["files"]["program.json"] = "<sha256 of a file holding the library versions>"
    return out


def normalise_card(text: str) -> str:
    return re.sub(r"(LM calls), [0-9.]+ s", r"\1, <timing> s", text)


def as_text(doc: object) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _args(case: str) -> tuple[str, ...]:
    return ("optimize", "-m", "fake", *CASES[case], "--no-langfuse", "--json")


@pytest.mark.parametrize("case", list(CASES))
def test_optimize_json_is_unchanged(cli, fake_model, fault, project, case):
    r = cli(*_args(case))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert as_text(normalise(doc, project)) == (GOLDEN / f"{case}-json.golden.json").read_text(encoding="utf-8")
    card = (Path(doc["path"]) / "CARD.md").read_text(encoding="utf-8")
    assert normalise_card(card) == (GOLDEN / f"{case}-card.golden.md").read_text(encoding="utf-8")


def _write_golden(code: Path, case: str) -> None:
    """Run the CLI of the package under `code` on a fresh project; store its normalised `--json` and card."""
    import tempfile

    from fault_server import FaultServer
    from faultutil import add_alias

    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="smishctl-golden-") as tmp, FaultServer() as srv:
        project = Path(tmp) / "proj"
        project.mkdir()
        shutil.copy(repo / "smishctl.toml", project / "smishctl.toml")
        add_alias(project, "fake", srv.base_url)
        env = {**os.environ, "SMISHCTL_HOME": str(project), "PYTHONPATH": str(code)}
        r = subprocess.run([sys.executable, "-m", "smishctl", *_args(case)], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600, check=False)
        if r.returncode:
            raise SystemExit(r.stderr)
        GOLDEN.mkdir(parents=True, exist_ok=True)
        doc = json.loads(r.stdout)
        (GOLDEN / f"{case}-json.golden.json").write_text(as_text(normalise(doc, project)), encoding="utf-8")
        card = (Path(doc["path"]) / "CARD.md").read_text(encoding="utf-8")
        (GOLDEN / f"{case}-card.golden.md").write_text(normalise_card(card), encoding="utf-8")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="write the golden `optimize --json` with the code under --code")
    ap.add_argument("--code", type=Path, required=True)
    for name in CASES:
        _write_golden(ap.parse_args().code.resolve(), name)
