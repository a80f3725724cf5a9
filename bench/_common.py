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


def bootstrap_ratio(num, den, groups, base_num=None, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """sum(num) / sum(den) with a 95% percentile bootstrap interval that resamples whole groups (the
    same message scored several times is one draw; campaigns as groups give the wider, campaign-level
    interval). With `base_num` (another program's num on the same items): the paired difference
    ratio(num) - ratio(base_num), drawn on the same resamples, in `paired`'s shape."""
    import numpy as np

    names = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    idx = np.array([names[g] for g in groups], dtype=np.int64)

    def per_group(values) -> np.ndarray:
        return np.bincount(idx, weights=np.asarray(values, dtype=float), minlength=len(names))

    n, d = per_group(num), per_group(den)
    b = per_group(base_num) if base_num is not None else np.zeros_like(n)
    if not len(names) or d.sum() == 0:
        return {"gain" if base_num is not None else "value": None, "ci95": [None, None], "n": int(d.sum())}
    draws = np.random.default_rng(seed).integers(0, len(names), size=(n_boot, len(names)))
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample with no denominator is no draw
        stat = (n[draws].sum(1) - b[draws].sum(1)) / d[draws].sum(1)
    low, high = (round(float(v), 3) for v in np.nanpercentile(stat, [2.5, 97.5]))
    value = round(float((n.sum() - b.sum()) / d.sum()), 3)
    if base_num is None:
        return {"value": value, "ci95": [low, high], "n": int(d.sum())}
    return {"gain": value, "ci95": [low, high], "significant": not (low <= 0 <= high), "n": int(d.sum())}


def svg_bars(title: str, groups: list[str], series: dict[str, list[dict | None]], colours: dict[str, str],
             y_label: str) -> str:
    """Grouped bars (one group per x label, one bar per series) of {"value", "ci95"} points with their
    95% intervals as error bars, on a 0..1 axis; hand-written SVG (no plotting library)."""
    names = list(series)
    bar, gap = 12, 18
    left, top, bottom, legend_w = 64, 40, 110, 170
    plot_w = len(groups) * (len(names) * bar + gap)
    w, h = left + plot_w + legend_w, 420

    def y(v: float) -> float:
        return top + (1 - v) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="sans-serif" font-size="12">', f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left + plot_w / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
           f'<text transform="translate(18 {(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">{y_label}</text>']
    for tick in range(11):
        ty = y(tick / 10)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick / 10:.1f}</text>')
    for gi, group in enumerate(groups):
        x0 = left + gap / 2 + gi * (len(names) * bar + gap)
        for si, name in enumerate(names):
            p = series[name][gi]
            if not p or p.get("value") is None:
                continue
            colour, bx = colours.get(name, "black"), x0 + si * bar
            out.append(f'<rect x="{bx:.1f}" y="{y(p["value"]):.1f}" width="{bar - 2}" '
                       f'height="{y(0) - y(p["value"]):.1f}" fill="{colour}" fill-opacity="0.75"/>'
                       f'<line x1="{bx:.1f}" x2="{bx + bar - 2:.1f}" y1="{y(p["value"]):.1f}" '
                       f'y2="{y(p["value"]):.1f}" stroke="{colour}" stroke-width="2"/>')  # a 0 still shows
            if p["ci95"][0] is not None:
                cx = bx + (bar - 2) / 2
                out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(p["ci95"][0]):.1f}" '
                           f'y2="{y(p["ci95"][1]):.1f}" stroke="black"/>')
        lx = x0 + len(names) * bar / 2
        out.append(f'<text transform="translate({lx:.1f} {y(0) + 12:.1f}) rotate(-40)" text-anchor="end">{group}</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="black"/>')
    for si, name in enumerate(names):
        ly = top + 10 + si * 18
        out.append(f'<rect x="{left + plot_w + 14}" y="{ly - 8}" width="14" height="10" '
                   f'fill="{colours.get(name, "black")}" fill-opacity="0.75"/>'
                   f'<text x="{left + plot_w + 34}" y="{ly + 1}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def add_llm_program_options(ap) -> None:
    """The options bench_drift.build_program reads for its knn and lora programs."""
    ap.add_argument("--model", help="the LLM of knn/lora (default: the embedded local model)")
    ap.add_argument("--knn-train-size", type=int, help="knn: training messages besides the reports (default: all)")
    ap.add_argument("--knn-dev-size", type=int, default=45, help="knn: dev messages (optimize's default)")
    ap.add_argument("--knn-param", action="append", default=[], metavar="KEY=VALUE",
                    help="knn: an optimize --param (repeatable), e.g. prior_model=classic/tfidf-svm-signals, signals=true")


def parse_programs(ap, text: str, known: tuple[str, ...]) -> list[str]:
    """The comma list of --programs; an unknown name is a usage error that names the known ones."""
    programs = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(programs) - set(known))
    if unknown:
        ap.error(f"unknown program(s) {', '.join(unknown)}: use {', '.join(known)}")
    return programs


def print_medians(label: str, kind: str, times: dict[str, list[float]]) -> dict[str, float]:
    """One line per tree (median, min, max of its timings) and the medians, for the caller's ratio."""
    import statistics

    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{label}{kind:4s} {name:10s} median {med[name]:.3f} s  min {min(ts):.3f} s  max {max(ts):.3f} s"
              f"  ({len(ts)} runs)")
    return med
