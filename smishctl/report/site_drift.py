"""The drift page: the project's drift-recovery benchmark, when it has one. bench/bench_drift.py writes its
rows to bench/data/drift.json (--out) and its published curve to docs/drift.svg (--svg); other
bench/data/drift*.json files are earlier or partial runs it can merge (--also). The curve of drift.json is
drawn here from its rows (macro-F1 against the N reviewed reports, with 95% intervals); the published SVG
is shown as an image, which runs nothing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from smishctl.util import jsonio

DATA = Path("bench") / "data"
MAIN = DATA / "drift.json"
SVG = Path("docs") / "drift.svg"
TARGETS = (("modern-held", "modern held", ""), ("sms-phishing-test", "sms-phishing test", "5 4"))
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
MAX_BYTES = 5_000_000
W, H, LEFT, RIGHT, TOP, BOTTOM = 820, 320, 48, 260, 12, 40


@dataclass(frozen=True)
class Score:
    """Macro-F1 of one program on one target, with its 95% bootstrap interval."""

    f1: float
    lo: float
    hi: float
    n_items: int


@dataclass(frozen=True)
class DriftRow:
    n: int  # reviewed reports added to training
    program: str  # "svm", "knn + modern-train" (with the extra training data it named)
    scores: tuple[Score | None, ...]  # per target of TARGETS

    @property
    def held(self) -> Score | None:
        return self.scores[0]

    @property
    def old(self) -> Score | None:
        return self.scores[1]


@dataclass
class Drift:
    rows: list[DriftRow] = field(default_factory=list)  # of bench/data/drift.json, checked
    problem: str | None = None  # why drift.json cannot be shown
    others: list[dict] = field(default_factory=list)  # the other drift*.json files, in a line each
    svg: str | None = None  # the published curve, copied into the site
    chart: dict | None = None

    @property
    def empty(self) -> bool:
        return not self.rows and not self.problem and not self.others and not self.svg


def _score(t: dict | None) -> Score | None:
    if t is None:
        return None
    low, high = t["ci95"]
    return Score(float(t["macro_f1"]), float(low), float(high), int(t["n_items"]))


def _row(r: dict) -> DriftRow:
    extra = r.get("extra_train")
    return DriftRow(int(r["n"]), str(r["program"]) + (f" + {extra}" if extra else ""),
                    tuple(_score(r.get(key)) for key, _, _ in TARGETS))


def _rows(path: Path) -> list[DriftRow]:
    """The benchmark's rows; ValueError naming what is wrong otherwise."""
    with open(path, "rb") as fh:
        data = fh.read(MAX_BYTES + 1)
    # BadJSON (a ValueError) says what is wrong; "it", not the machine's path, which the site would carry
    doc = jsonio.loads(data, where="it", max_bytes=MAX_BYTES)
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ValueError("no list of rows")
    out = []
    for k, r in enumerate(rows):
        try:
            out.append(_row(r))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(f"row {k + 1} is not a benchmark row ({type(exc).__name__})") from None
    return out


def read_drift(root: Path, out_dir: Path) -> Drift:
    """What the project holds of the benchmark; the published SVG is copied to out_dir/drift/."""
    d = Drift()
    if (root / MAIN).is_file():
        try:
            d.rows = _rows(root / MAIN)
            d.chart = chart(d.rows)
        except (OSError, ValueError, AttributeError) as exc:
            d.problem = f"{MAIN.as_posix()} cannot be read: {exc if isinstance(exc, ValueError) else type(exc).__name__}"
    for path in sorted((root / DATA).glob("drift*.json")) if (root / DATA).is_dir() else []:
        if path.name == MAIN.name:
            continue
        try:
            rows = _rows(path)
            what = (f"{len(rows)} rows · N {', '.join(map(str, sorted({r.n for r in rows})))} · "
                    f"{', '.join(dict.fromkeys(r.program for r in rows))}")
        except (OSError, ValueError, AttributeError) as exc:
            what = f"cannot be read: {exc if isinstance(exc, ValueError) else type(exc).__name__}"
        d.others.append({"file": (DATA / path.name).as_posix(), "what": what})
    if (root / SVG).is_file() and (root / SVG).stat().st_size <= MAX_BYTES:
        (out_dir / "drift").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / SVG, out_dir / "drift" / "drift.svg")
        d.svg = "drift/drift.svg"
    return d


def chart(rows: list[DriftRow]) -> dict | None:
    """Polylines of macro-F1 against N, one per program and target (the old traffic dashed), with their
    95% intervals as bars, and a legend."""
    scores = [sc for r in rows for sc in r.scores if sc]
    if not scores:
        return None
    ns = sorted({r.n for r in rows})
    y0 = max(0.0, int(min(sc.lo for sc in scores) * 10) / 10)
    y1 = min(1.0, (int(max(sc.hi for sc in scores) * 10) + 1) / 10)
    span = max(ns[-1] - ns[0], 1)

    def x(n: int) -> float:
        return round(LEFT + 10 + (n - ns[0]) / span * (W - LEFT - RIGHT - 20), 1)

    def y(v: float) -> float:
        return round(TOP + (y1 - v) / (y1 - y0) * (H - TOP - BOTTOM), 1)

    series: list[dict] = []
    for k, program in enumerate(dict.fromkeys(r.program for r in rows)):
        for t, (_, name, dash) in enumerate(TARGETS):
            got = [(r.n, sc) for r in rows if r.program == program and (sc := r.scores[t]) is not None]
            if not got:
                continue
            dots = [{"x": x(n), "y": y(sc.f1), "lo": y(sc.lo), "hi": y(sc.hi),
                     "title": f"{program}, {name}, N={n}: {sc.f1:.3f} [{sc.lo:.3f}, {sc.hi:.3f}]"} for n, sc in got]
            series.append({"name": f"{program}, {name}", "colour": COLOURS[k % len(COLOURS)], "dash": dash,
                           "points": " ".join(f"{x(n)},{y(sc.f1)}" for n, sc in got), "dots": dots,
                           "ly": TOP + 8 + 16 * len(series)})
    ticks = [round(y0 + i / 10, 1) for i in range(int(round((y1 - y0) * 10)) + 1)]
    return {"w": W, "h": H, "x0": LEFT, "x1": W - RIGHT, "y0": H - BOTTOM, "y1": TOP, "series": series,
            "xticks": [{"x": x(n), "label": n} for n in ns], "yticks": [{"y": y(v), "label": f"{v:.1f}"} for v in ticks]}
