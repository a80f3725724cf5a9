"""`optimize --json` prints the same document, and writes the same CARD.md, as before the result became a
typed `OptimizeResult`.

The golden file was written by the code of the commit before that change (958d7aa), on the same tiny kNN
optimize against the loopback fault server (deterministic answers): regenerate it with

    SMISHCTL_DATA_MIRROR=... .venv/bin/python tests/test_optimize_json.py --code DIR

where DIR holds that commit's `smishctl` package (it goes first on the CLI's PYTHONPATH).

What varies between two runs of the same code is replaced in `normalise`, the one place that knows it:
the project folder, the creation time, the fault server's port, the optimization id (a timestamp and a
pid), the library versions, and timings (latencies, wall seconds; in the card: its seconds spent). Everything
else, key order included, is compared as text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from faultutil import fake_model_fixture, fault_fixture  # noqa: F401

GOLDEN = Path(__file__).parent / "fixtures" / "optimize" / "knn-json.golden.json"
GOLDEN_CARD = GOLDEN.with_name("knn-card.golden.md")
ARGS = ("optimize", "-m", "fake", "--optimizer", "knn", "--train-size", "12", "--dev-size", "6", "--no-langfuse",
        "--json")
TIMINGS = {"latency_ms", "latency_p50_ms", "wall_seconds"}


def normalise(doc: object, project: Path) -> object:
    """The document with what differs from run to run replaced by placeholders (see the module's doc)."""
    def walk(value, key=None):
        if key in TIMINGS:
            return "<timing>"
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and str(project) in value:
            return value.replace(str(project), "<project>")
        return value

    out = walk(doc)
    out["created_at"] = "<created_at>"
    out["model"]["api_base"] = "<fault server>"
    out["versions"] = dict.fromkeys(out["versions"], "<version>")
    if isinstance(out.get("langfuse"), dict) and "session_id" in out["langfuse"]:
        out["langfuse"]["session_id"] = "<optimization id>"
    return out


def normalise_card(text: str) -> str:
    return re.sub(r"(LM calls), [0-9.]+ s", r"\1, <timing> s", text)


def as_text(doc: object) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_optimize_json_is_unchanged(cli, fake_model, fault, project):
    r = cli(*ARGS)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert as_text(normalise(doc, project)) == GOLDEN.read_text(encoding="utf-8")
    card = (Path(doc["path"]) / "CARD.md").read_text(encoding="utf-8")
    assert normalise_card(card) == GOLDEN_CARD.read_text(encoding="utf-8")


def _write_golden(code: Path) -> None:
    """Run the CLI of the package under `code` on a fresh project and store its normalised `--json`."""
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
        r = subprocess.run([sys.executable, "-m", "smishctl", *ARGS], cwd=project, env=env, capture_output=True,
                           text=True, timeout=600, check=False)
        if r.returncode:
            raise SystemExit(r.stderr)
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        doc = json.loads(r.stdout)
        GOLDEN.write_text(as_text(normalise(doc, project)), encoding="utf-8")
        card = (Path(doc["path"]) / "CARD.md").read_text(encoding="utf-8")
        GOLDEN_CARD.write_text(normalise_card(card), encoding="utf-8")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="write the golden `optimize --json` with the code under --code")
    ap.add_argument("--code", type=Path, required=True)
    _write_golden(ap.parse_args().code.resolve())
