"""The HTML report: self-contained (no network), charts present, rendered by a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from factories import items, predictions, write_run

from smishctl.ops.compare import CompareOptions, compare_runs
from smishctl.ops.pairing import load_run
from smishctl.report.html import pareto_front, render_html

GOLD = items(30)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture()
def page(settings, tmp_path) -> Path:
    d = settings.runs_dir
    write_run(d, "llm-big", predictions(GOLD, {1}), latency_ms=2000, cost_usd=0.001)
    write_run(d, "llm-small", predictions(GOLD, {1, 2, 3}), latency_ms=600, cost_usd=0.0002)
    write_run(d, "llm-bad", predictions(GOLD, set(range(12))), latency_ms=900, cost_usd=0.0005)
    write_run(d, "classic", predictions(GOLD, {1, 2, 3, 4, 5}), latency_ms=2, cost_usd=0.0000001, model="classic/tfidf-svm")
    runs = [load_run(d, i) for i in ("llm-big", "llm-small", "llm-bad", "classic")]
    cmp = compare_runs(runs, options=CompareOptions(gates=["macro_f1>=0.8"]))
    path = tmp_path / "report.html"
    path.write_text(render_html(cmp), encoding="utf-8")
    return path


def test_pareto_front():
    # (cost, quality): a dominates c; b is cheaper but worse; d is dominated by a
    pts = [(1.0, 0.9), (0.1, 0.7), (2.0, 0.85), (1.0, 0.8)]
    assert pareto_front(pts) == [0, 1]
    assert pareto_front([(1.0, 0.5), (1.0, 0.5)]) == [0, 1]   # ties dominate neither


def test_html_is_self_contained(page):
    html = page.read_text()
    # no resource is fetched: no src/href attributes, no url(), no @import; only the SVG namespace URI
    assert not re.search(r"\b(src|href)\s*=", html, re.IGNORECASE)
    assert "url(" not in html and "@import" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in html                       # CSP forbids any fetch
    assert html.count('class="chart scatter') == 2 and html.count('class="chart confusion"') == 4
    assert html.count('class="pareto"') == 2                    # both scatter plots draw a front
    # cost front: classic (cheapest) and llm-small and llm-big (best); llm-bad is dominated
    cost_svg = html.split('class="chart scatter cost"')[1].split("</svg>")[0]
    assert cost_svg.count("pareto-point") == 3
    assert "llm-bad" in cost_svg and cost_svg.count("(Pareto front)") == 3


def _chromium() -> str:
    """Debian's chromium (bin/test installs it with apt-get when it is missing and we are root)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        reason = ("apt-get is unavailable" if not shutil.which("apt-get") else
                  "not root" if os.geteuid() != 0 else "it was not installed")
        pytest.skip(f"headless Chromium is missing ({reason}): run bin/test, which runs apt-get install -y chromium")
    return exe


def _run_chromium(exe: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          check=False, capture_output=True, text=True, timeout=120)


def _png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the raw (still filtered) scanlines of a PNG, with the standard library only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_html_renders_in_headless_chromium(page, tmp_path):
    exe = _chromium()
    r = _run_chromium(exe, tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    assert r.returncode == 0, r.stderr[-500:]
    dom = r.stdout
    # the inline script ran (it marks the body) and found every chart drawn
    assert 'data-ready="1"' in dom
    n_charts = dom.count('class="chart ')
    assert n_charts == 2 + 1 + 4 and f'data-charts-drawn="{n_charts}"' in dom
    assert dom.count("<circle") == 8 and dom.count("<rect") > 40
    shot = tmp_path / "shot.png"
    r = _run_chromium(exe, tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    assert r.returncode == 0 and shot.is_file(), r.stderr[-500:]
    width, height, raw = _png_pixels(shot)
    assert (width, height) == (1200, 2400)
    # not blank: a blank page compresses to a handful of distinct byte values
    assert len(set(raw)) > 50
