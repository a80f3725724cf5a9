"""Geometry of the run page's charts (calibration plot, latency histogram) and its headline interval,
computed in Python; the templates draw them as inline SVG from these numbers only."""

from __future__ import annotations

import numpy as np

from smishctl.score.metrics import answer
from smishctl.score.stats import bootstrap_macro_f1

W, H, PAD = 320, 220, 34  # the plot area is [PAD, W-8] x [8, H-PAD]
CAL_BINS = 10
LAT_BINS = 20


def _x(frac: float) -> float:
    return round(PAD + frac * (W - 8 - PAD), 1)


def _y(frac: float) -> float:
    return round(H - PAD - frac * (H - PAD - 8), 1)


def headline(rows: list[dict], labels: tuple[str, ...]) -> dict | None:
    """Macro-F1 over the rows with its 95% percentile bootstrap interval (score/stats.py); every
    unanswered or off-label item counts as wrong, as in the metrics."""
    if not rows or not labels:
        return None
    index = {lab: i for i, lab in enumerate(labels)}
    gold = [index.get(str(r.get("gold")), len(labels)) for r in rows]  # no gold: not a label, wrong
    pred = [index.get(answer(r), len(labels)) for r in rows]
    return bootstrap_macro_f1(gold, pred, len(labels), n_boot=1000)


def calibration(rows: list[dict]) -> dict | None:
    """Reliability diagram: per confidence bin (the top label's probability), the share answered right.
    None when no answered item has probabilities."""
    pts = [(max(r["probs"].values()), answer(r) == r.get("gold")) for r in rows
           if r.get("status") == "ok" and isinstance(r.get("probs"), dict) and r["probs"]]
    if not pts:
        return None
    conf = np.array([c for c, _ in pts], dtype=float)
    hit = np.array([h for _, h in pts], dtype=float)
    bins = np.minimum((conf * CAL_BINS).astype(int), CAL_BINS - 1)
    dots = []
    for b in range(CAL_BINS):
        sel = bins == b
        if sel.any():
            c, a, n = float(conf[sel].mean()), float(hit[sel].mean()), int(sel.sum())
            dots.append({"cx": _x(c), "cy": _y(a), "r": round(2.5 + 5 * (n / len(pts)) ** 0.5, 1),
                         "title": f"confidence {c:.2f}: {a:.0%} right ({n} items)"})
    return {"dots": dots, "n": len(pts), "diag": [_x(0), _y(0), _x(1), _y(1)], **_frame()}


def latency_histogram(rows: list[dict]) -> dict | None:
    """Latency of the answered items in LAT_BINS equal bins up to the 99th percentile (slower ones in the
    last bin, marked), so one slow call does not flatten the rest."""
    ms = np.array([float(r["latency_ms"]) for r in rows
                   if r.get("status") != "error" and isinstance(r.get("latency_ms"), (int, float))])
    if ms.size == 0:
        return None
    top = float(np.percentile(ms, 99)) or float(ms.max()) or 1.0
    counts = np.bincount(np.minimum((ms / top * LAT_BINS).astype(int), LAT_BINS - 1), minlength=LAT_BINS)
    peak = int(counts.max())
    width = (W - 8 - PAD) / LAT_BINS
    bars = [{"x": round(PAD + k * width, 1), "w": round(width - 1, 1), "y": _y(c / peak), "h": round(_y(0) - _y(c / peak), 1),
             "title": f"{k * top / LAT_BINS:.0f}–{(k + 1) * top / LAT_BINS:.0f} ms: {c} items"
                      + (" (slower ones included)" if k == LAT_BINS - 1 and ms.max() > top else "")}
            for k, c in enumerate(counts.tolist()) if c]
    return {"bars": bars, "n": int(ms.size), "max_label": f"{top:.0f} ms", "peak": peak,
            "p50": float(np.percentile(ms, 50)), **_frame()}


def _frame() -> dict:
    return {"w": W, "h": H, "x0": PAD, "x1": W - 8, "y0": H - PAD, "y1": 8}
