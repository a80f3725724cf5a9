"""Shared helpers of the benchmarks: a loopback fault server in its own process, throwaway projects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SMISHCTL_DATA_MIRROR", REPO.parent / "shared" / "datasets")).resolve()


@contextmanager
def fault_server(latency: float):
    """`tests/fault_server.py` in a separate process (so that it does not share the GIL with the client)."""
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fault_server.py"), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def project(api_base: str):
    """A temporary project whose model alias `fake` points at the server; DSPy cache off per call."""
    root = Path(tempfile.mkdtemp(prefix="smishctl-bench-"))
    try:
        shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
        with open(root / "smishctl.toml", "a", encoding="utf-8") as fh:
            fh.write(f'\n[models.alias.fake]\nlitellm = "openai/fake"\napi_base = "{api_base}"\n')
        os.environ["SMISHCTL_HOME"] = str(root)
        os.environ["SMISHCTL_DATA_MIRROR"] = str(MIRROR)
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for var in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGFUSE_HOST", "LANGFUSE_BASE_URL"):
            os.environ.pop(var, None)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _codes(settings, run_id: str, labels: tuple[str, ...] | None = None):
    """(item ids, gold codes, predicted codes, labels) of a run; errors and invalid outputs are code -1."""
    from smishctl.store.runs import open_run

    run = open_run(settings.runs_dir, run_id)
    labels = labels or tuple(run.read()["dataset"]["labels"])
    rows = sorted(run.predictions(slim=True), key=lambda r: r["item_id"])
    code = {lab: i for i, lab in enumerate(labels)}
    return ([r["item_id"] for r in rows], [code[r["gold"]] for r in rows],
            [code.get(r.get("pred"), -1) if r["status"] == "ok" else -1 for r in rows], labels)


def interval(gold, pred, k: int) -> dict:
    """95% percentile bootstrap interval of macro-F1 over label codes (quality figures carry one)."""
    from smishctl.score.stats import bootstrap_macro_f1

    ci = bootstrap_macro_f1(gold, pred, k)
    return {"macro_f1": round(ci["value"], 3), "ci95": [round(ci["low"], 3), round(ci["high"], 3)]}


def paired(gold, base, cand, k: int) -> dict:
    """macro-F1(cand) - macro-F1(base) on the same items, with its paired 95% bootstrap interval: a gain
    whose interval includes 0 is not a gain."""
    from smishctl.score.stats import bootstrap_macro_f1_diff

    d = bootstrap_macro_f1_diff(gold, base, cand, k)
    return {"gain": round(d["diff"], 3), "ci95": [round(d["low"], 3), round(d["high"], 3)],
            "significant": not (d["low"] <= 0 <= d["high"])}


def macro_f1_interval(settings, run_id: str) -> dict:
    """`interval` of a recorded run."""
    _, gold, pred, labels = _codes(settings, run_id)
    return interval(gold, pred, len(labels))


def paired_gain_interval(settings, base_run: str, cand_run: str) -> dict:
    """`paired` of two recorded runs on the same items."""
    ids_b, gold, pred_b, labels = _codes(settings, base_run)
    ids_c, _, pred_c, _ = _codes(settings, cand_run, labels)
    assert ids_b == ids_c, "the two runs are not on the same items"
    return paired(gold, pred_b, pred_c, len(labels))


def model_project(path: str | None, prefix: str) -> Path:
    """A project for the embedded model, made current: `path` when given (reused with its prompts, runs
    and DSPy cache), else a new temporary folder; the repository's smishctl.toml and downloaded weights
    are put in a new one."""
    root = Path(path) if path else Path(tempfile.mkdtemp(prefix=prefix))
    if not (root / "smishctl.toml").exists():
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "smishctl.toml", root / "smishctl.toml")
        (root / ".cache").mkdir(exist_ok=True)
        if (REPO / ".cache" / "models").is_dir():
            (root / ".cache" / "models").symlink_to(REPO / ".cache" / "models")
    os.environ["SMISHCTL_HOME"] = str(root)
    os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(MIRROR))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return root
