"""The comparison as one self-contained HTML page: inline CSS and SVG only (no network, no CDN).

Charts: the metrics table, per-class F1 bars, a confusion matrix per run, and quality-vs-cost and
quality-vs-latency scatter plots with the Pareto front (no other run is both better and cheaper/faster)
marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from smishctl.core.comparison import ComparedRun, Comparison
from smishctl.report.cells import cell, delta, interval
from smishctl.report.refs import letter_refs
from smishctl.report.verdict import NO_GATES, verdict
from smishctl.score.gates import metric_value
from smishctl.util.inert import inert_text

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.pass{color:#1a7f37}.none{color:#57606a}.fail{color:#cf222e}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0}
table{border-collapse:collapse;font-size:13px} th,td{border:1px solid #d0d7de;padding:4px 8px}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700;background:#dafbe1} td.cached{color:#9a6700;font-style:italic} .delta{color:#57606a;font-size:11px}
.charts{display:flex;flex-wrap:wrap;gap:18px} figure{margin:0} figcaption{font-size:12px;color:#57606a}
svg text{font-size:11px;fill:#333} .legend span{display:inline-block;margin-right:14px;font-size:12px;cursor:pointer}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.dim{opacity:.15}
table.diff td.wrong{color:#cf222e;font-weight:600} table.diff th.sort{cursor:pointer;user-select:none}
table.diff th.sort[data-dir=asc]::after{content:" ▲"} table.diff th.sort[data-dir=desc]::after{content:" ▼"}
table.diff td.text{max-width:60em} #diff-filter{font-size:13px;padding:3px 6px;width:24em;margin:0 0 8px}
"""

SCRIPT = """
(function(){
  // Click a legend entry to highlight one run in every chart.
  var active=null;
  document.querySelectorAll('.legend span').forEach(function(el){
    el.addEventListener('click',function(){
      var run=el.getAttribute('data-run'); active=(active===run)?null:run;
      document.querySelectorAll('[data-run]').forEach(function(n){
        if(n.closest('.legend'))return;
        n.classList.toggle('dim',active!==null&&n.getAttribute('data-run')!==active);
      });
    });
  });
  var charts=document.querySelectorAll('svg.chart');
  var drawn=0; charts.forEach(function(s){ if(s.querySelectorAll('rect,circle,path,line').length>0) drawn++; });
  document.body.setAttribute('data-charts-drawn', String(drawn));
  // The items the runs answer differently: filter by any text in a row, sort by a clicked header.
  // Both can be set in the address too (report.html#filter=paypal&sort=4), to share a view.
  var diff=document.querySelector('table.diff');
  if(diff){
    var body=diff.tBodies[0], box=document.getElementById('diff-filter'), heads=diff.querySelectorAll('th.sort');
    var filter=function(q){
      q=q.trim().toLowerCase(); var shown=0;
      Array.prototype.forEach.call(body.rows,function(tr){
        var hide=q!==''&&tr.textContent.toLowerCase().indexOf(q)<0; tr.hidden=hide; if(!hide)shown++;
      });
      diff.setAttribute('data-shown',String(shown));
    };
    var sort=function(col,dir){
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[col].textContent, y=b.cells[col].textContent, num=/^-?[0-9]+([.][0-9]+)?$/;
        if(num.test(x)&&num.test(y)){x=+x;y=+y;}  // numbers as numbers, the rest as written
        return (dir==='desc'?-1:1)*(x<y?-1:x>y?1:0);
      });
      rows.forEach(function(tr){body.appendChild(tr);});
      heads.forEach(function(h,i){ if(i===col)h.setAttribute('data-dir',dir); else h.removeAttribute('data-dir'); });
    };
    box.addEventListener('input',function(){filter(box.value);});
    heads.forEach(function(h,i){h.addEventListener('click',function(){
      sort(i,h.getAttribute('data-dir')==='asc'?'desc':'asc');
    });});
    var params={};
    location.hash.replace(/^#/,'').split('&').forEach(function(kv){
      var k=kv.split('=')[0]; if(k)params[k]=decodeURIComponent(kv.slice(k.length+1));
    });
    if(params.sort!==undefined&&heads[+params.sort])sort(+params.sort,params.dir==='desc'?'desc':'asc');
    if(params.filter)box.value=params.filter;
    filter(box.value);
  }
  document.body.setAttribute('data-ready','1');
})();
"""


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _legend(cmp: Comparison) -> str:
    letters = letter_refs(cmp)
    return '<div class="legend">' + "".join(
        f'<span data-run="{escape(r.id)}"><i style="background:{_color(i)}"></i><b>{letters[r.id]}</b> '
        f'{escape(r.name)}</span>' for i, r in enumerate(cmp.runs)) + "</div>"


def _metrics_table(cmp: Comparison) -> str:
    letters = letter_refs(cmp)
    head = "".join(f"<th>{letters[r.id]} · {escape(r.name)}<br><small>{escape(r.role)}"
                   f"{' · cached' if r.cached else ''} · {escape(r.id)}</small></th>" for r in cmp.runs)
    body = []
    for row in cmp.rows:
        cells = []
        for i in range(len(row.values)):
            d = delta(row, i)
            shown = f' <span class="delta">({escape(d)})</span>' if d is not None else ""
            cls = "num best" if i in row.best else ("num cached" if i in row.cached else "num")
            cells.append(f'<td class="{cls}">{escape(cell(row, i))}{shown}</td>')
        body.append(f"<tr><th>{escape(row.title)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(body)}</table>"


def _stats_table(cmp: Comparison) -> str:
    if not cmp.stats:
        return "<p>One run only: no paired statistics.</p>"
    rows = []
    for s in cmp.stats:
        rows.append(f"<tr><td>{escape(s.run)}</td><td class=num>{s.n_paired}</td>"
                    f"<td class=num>{s.baseline_only_correct}</td><td class=num>{s.candidate_only_correct}</td>"
                    f"<td class=num>{s.mcnemar_p:.4g}{' *' if s.significant else ''}</td>"
                    f"<td class=num>{escape(interval(s))}</td></tr>")
    return ("<table><tr><th>run</th><th>paired items</th><th>only baseline right</th><th>only run right</th>"
            "<th>McNemar p</th><th>Δ macro-F1 [95% CI]</th></tr>" + "".join(rows) + "</table>")


def _gates_table(cmp: Comparison) -> str:
    rows = []
    for g in cmp.gates:
        rows.append((g.passed, g.run, g.gate, "unknown" if g.value is None else f"{g.value:.4g}"))
    for c in cmp.checks:
        rows.append((c.passed, c.run, c.check, f"{c.value:.4g}" if c.value is not None else "-"))
    if not rows:
        return "<p>No gates.</p>"
    return "<table><tr><th></th><th>run</th><th>gate</th><th>value</th></tr>" + "".join(
        f'<tr><td class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</td><td>{escape(r)}</td>'
        f"<td>{escape(g)}</td><td class=num>{escape(v)}</td></tr>" for ok, r, g, v in rows) + "</table>"


def f1_bars(cmp: Comparison) -> str:
    labels = cmp.dataset.labels
    runs = cmp.runs
    w, h, left, bottom, top = 520, 240, 40, 30, 12
    group = (w - left - 10) / max(1, len(labels))
    bar = min(28.0, (group - 16) / max(1, len(runs)))
    parts = [(f'<svg class="chart f1-bars" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img" aria-label="per-class F1">')]
    plot_h = h - bottom - top
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - t)
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    for li, lab in enumerate(labels):
        gx = left + li * group + 8
        for ri, r in enumerate(runs):
            f1 = metric_value(r.metrics, "f1", lab) or 0.0
            bh = plot_h * f1
            x = gx + ri * bar
            parts.append(f'<rect data-run="{escape(r.id)}" x="{x:.1f}" y="{top + plot_h - bh:.1f}" '
                         f'width="{bar - 2:.1f}" height="{max(bh, 0.5):.1f}" fill="{_color(ri)}">'
                         f'<title>{escape(r.name)} F1[{escape(lab)}] = {f1:.3f}</title></rect>')
        parts.append(f'<text x="{gx + bar * len(runs) / 2:.1f}" y="{h - 10}" text-anchor="middle">{escape(lab)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def confusion_svg(run: ComparedRun, color: str) -> str:
    cm = run.metrics.get("confusion") or {}
    labels, matrix = cm.get("labels") or [], cm.get("matrix") or []
    n = len(labels)
    cell, left, top = 46, 80, 60
    w, h = left + cell * max(n, 1) + 10, top + cell * max(len(matrix), 1) + 10
    peak = max([v for row in matrix for v in row] or [1]) or 1
    parts = [(f'<svg class="chart confusion" data-run="{escape(run.id)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="confusion matrix">')]
    for j, lab in enumerate(labels):
        x = left + j * cell + cell / 2
        parts.append(f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" transform="rotate(-30 {x:.1f} {top - 8})">'
                     f"{escape(lab)}</text>")
    for i, row in enumerate(matrix):
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4:.1f}" text-anchor="end">{escape(labels[i])}</text>')
        for j, v in enumerate(row):
            alpha = 0.08 + 0.85 * (v / peak)
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{color}" '
                         f'fill-opacity="{alpha:.2f}"><title>gold {escape(labels[i])}, predicted '
                         f'{escape(labels[j])}: {v}</title></rect>'
                         f'<text x="{left + j * cell + cell / 2 - 1:.1f}" y="{y + cell / 2 + 4:.1f}" '
                         f'text-anchor="middle">{v}</text>')
    parts.append("</svg>")
    return "".join(parts)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point dominates (x lower-or-equal and y higher-or-equal, one strictly)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def _scatter_points(cmp: Comparison, x_metric: str) -> list[tuple[int, float, float]]:
    """(run index, x, macro-F1) of each run with a known x; runs answered from the cache left out (their
    cost and latency are the cache's: no place on a front of model calls)."""
    pts = []
    for i, r in enumerate(cmp.runs):
        if r.cached:
            continue
        x = metric_value(r.metrics, x_metric)
        y = metric_value(r.metrics, "macro_f1")
        if x is not None and y is not None:
            pts.append((i, float(x), float(y)))
    return pts


@dataclass
class _Plot:
    """The plot area of a scatter chart and its scales: x linear or log, y in macro-F1 around the points."""
    left: float
    top: float
    pw: float
    ph: float
    lo: float
    hi: float
    ylo: float
    yhi: float
    use_log: bool

    @classmethod
    def around(cls, pts: list[tuple[int, float, float]], left: float, top: float, pw: float, ph: float) -> _Plot:
        xs = [p[1] for p in pts]
        use_log = min(xs) > 0 and max(xs) / min(xs) > 20
        lo, hi = (math.log10(min(xs)), math.log10(max(xs))) if use_log else (min(xs), max(xs))
        if hi - lo < 1e-12:
            lo, hi = lo - 1, hi + 1
        pad = (hi - lo) * 0.08
        ys = [p[2] for p in pts]
        ylo, yhi = max(0.0, min(ys) - 0.1), min(1.0, max(ys) + 0.1)
        if yhi - ylo < 0.05:
            ylo, yhi = max(0.0, ylo - 0.05), min(1.0, yhi + 0.05)
        return cls(left, top, pw, ph, lo - pad, hi + pad, ylo, yhi, use_log)

    def tx(self, v: float) -> float:
        return math.log10(v) if self.use_log else v

    def px(self, v: float) -> float:
        return self.left + (self.tx(v) - self.lo) / (self.hi - self.lo) * self.pw

    def py(self, v: float) -> float:
        return self.top + (1 - (v - self.ylo) / (self.yhi - self.ylo)) * self.ph


def _scatter_axes(p: _Plot, x_title: str, h: int) -> list[str]:
    parts = []
    left, top, pw, ph = p.left, p.top, p.pw, p.ph
    for k in range(5):
        yv = p.ylo + (p.yhi - p.ylo) * k / 4
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{p.py(yv):.1f}" y2="{p.py(yv):.1f}" stroke="#f0f0f0"/>'
                     f'<text x="{left - 6}" y="{p.py(yv) + 4:.1f}" text-anchor="end">{yv:.2f}</text>')
    for k in range(5):
        t = p.lo + (p.hi - p.lo) * k / 4
        v = 10 ** t if p.use_log else t
        x = left + (t - p.lo) / (p.hi - p.lo) * pw
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{v:.3g}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 6}" text-anchor="middle">{escape(x_title)}'
                 f'{" (log scale)" if p.use_log else ""} — lower is better</text>'
                 f'<text x="14" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2})">'
                 f"macro-F1</text>")
    return parts


def _scatter_marks(cmp: Comparison, pts: list[tuple[int, float, float]], p: _Plot, x_title: str) -> list[str]:
    """The Pareto front as a dashed line, then one labelled point per run (ringed on the front)."""
    parts = []
    front = sorted(pareto_front([(x, y) for _, x, y in pts]), key=lambda k: pts[k][1])
    if len(front) > 1:
        d = " ".join(f"{'M' if n == 0 else 'L'}{p.px(pts[k][1]):.1f},{p.py(pts[k][2]):.1f}" for n, k in enumerate(front))
        parts.append(f'<path class="pareto" d="{d}" fill="none" stroke="#444" stroke-dasharray="5,4"/>')
    for k, (i, x, y) in enumerate(pts):
        r = cmp.runs[i]
        on = k in front
        right = p.px(x) > p.left + p.pw / 2
        parts.append(f'<circle class="point{" pareto-point" if on else ""}" data-run="{escape(r.id)}" '
                     f'cx="{p.px(x):.1f}" cy="{p.py(y):.1f}" r="{7 if on else 5}" fill="{_color(i)}" '
                     f'stroke="{"#000" if on else "none"}" stroke-width="2"><title>{escape(r.name)}: macro-F1 '
                     f'{y:.3f}, {escape(x_title)} {x:.4g}{" (Pareto front)" if on else ""}</title></circle>'
                     f'<text x="{p.px(x) + (-9 if right else 9):.1f}" y="{p.py(y) - 8:.1f}" '
                     f'text-anchor="{"end" if right else "start"}">{escape(r.name[:32])}</text>')
    return parts


def scatter(cmp: Comparison, x_metric: str, x_title: str, css_class: str) -> str:
    pts = _scatter_points(cmp, x_metric)
    w, h, left, right, top, bottom = 540, 300, 56, 36, 14, 42
    parts = [(f'<svg class="chart scatter {css_class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img" aria-label="macro-F1 vs {escape(x_title)}">')]
    pw, ph = w - left - right, h - top - bottom
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#d0d7de"/>')
    if not pts:
        parts.append(f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle">no run has a known {escape(x_title)}</text></svg>')
        return "".join(parts)
    plot = _Plot.around(pts, left, top, pw, ph)
    parts += _scatter_axes(plot, x_title, h)
    parts += _scatter_marks(cmp, pts, plot, x_title)
    parts.append("</svg>")
    return "".join(parts)


def _must_pass_html(cmp: Comparison) -> str:
    parts = []
    for res in cmp.must_pass:
        missed = res.missed
        parts.append(f'<p class="{"pass" if res.passed else "fail"}">must-pass <b>{escape(res.set)}</b> on '
                     f'<code>{escape(res.run)}</code>: {res.n_passed}/{res.n} passed</p>')
        if missed:
            parts.append("<table><tr><th>expected</th><th>got</th><th>note</th><th>message</th></tr>" + "".join(
                f"<tr><td>{escape(c.expected)}</td><td>{escape(str(c.predicted))}</td>"
                f"<td>{escape(c.note)}</td><td>{escape(c.text)}</td></tr>" for c in missed) + "</table>")
    return ("<h2>Must-pass</h2>" + "".join(parts)) if parts else ""


def diff_html(cmp: Comparison) -> str:
    """The common items the runs answer differently (at most the comparison's cap): filterable, sortable."""
    d = cmp.diff
    if not d.items:
        return "<h2>Items answered differently</h2><p>The runs answer every common item alike.</p>"
    letters = letter_refs(cmp)
    more = f"; the first {len(d.items)} are listed, {d.left_out} left out" if d.left_out else ""
    heads = ["item", "gold"] + [letters[r.id] for r in cmp.runs] + ["text"]
    rows = []
    for it in d.items:
        answers = "".join(f'<td class="{"right" if ok else "wrong"}">{escape(a)}</td>'
                          for a, ok in zip(it.answers, it.correct, strict=True))
        rows.append(f"<tr><td><code>{escape(it.item_id)}</code></td><td>{escape(it.gold)}</td>{answers}"
                    f'<td class="text">{escape(it.text or "")}</td></tr>')
    return (f"<h2>Items answered differently</h2><p>{d.n} of {cmp.n_common_items} common items{more}; red = not the gold label. "
            f"Click a header to sort.</p>"
            f'<input type="search" id="diff-filter" placeholder="filter: text, label, item id" aria-label="filter items">'
            f'<table class="diff" data-shown="{len(rows)}"><thead><tr>'
            + "".join(f'<th class="sort">{escape(h)}</th>' for h in heads)
            + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _cached_note(cmp: Comparison) -> str:
    names = [r.name for r in cmp.runs if r.cached]
    if not names:
        return ""
    return (f" Left out, answered from the cache (their latency and cost are not the model's): "
            f"{escape(', '.join(names))}.")


def render_html(cmp: Comparison) -> str:
    ds = cmp.dataset
    word = verdict(cmp)
    ok = cmp.exit_code == 0
    warnings = "".join(f'<div class="warn">{escape(w)}</div>' for w in cmp.warnings)
    failures = "".join(f"<li>{escape(f)}</li>" for f in cmp.failures)
    confusions = "".join(
        f"<figure>{confusion_svg(r, _color(i))}<figcaption>{escape(r.name)} (rows gold, columns predicted)"
        f"</figcaption></figure>" for i, r in enumerate(cmp.runs))
    return inert_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>smishctl compare — {escape(str(ds.name))}/{escape(str(ds.split))}</title><style>{CSS}</style></head>
<body>
<h1>smishctl compare — <span class="{'none' if word == NO_GATES else 'pass' if ok else 'fail'}">{word}</span></h1>
<p>Dataset <b>{escape(str(ds.name))}/{escape(str(ds.split))}</b>, {cmp.n_common_items} items common to all runs;
baseline <code>{escape(str(cmp.baseline))}</code>; generated {escape(cmp.created_at)}.</p>
{warnings}{f'<ul class="fail">{failures}</ul>' if failures else ''}
{_legend(cmp)}
<h2>Metrics</h2>{_metrics_table(cmp)}
<h2>Paired statistics against the baseline</h2>{_stats_table(cmp)}
<h2>Gates</h2>{_gates_table(cmp)}{_must_pass_html(cmp)}
<h2>Quality against cost and latency</h2>
<p>Runs on the dashed line are on the Pareto front (black ring): no other run is at least as good and cheaper/faster.{_cached_note(cmp)}</p>
<div class="charts">
<figure>{scatter(cmp, 'cost_per_1k', 'USD per 1,000 messages', 'cost')}<figcaption>macro-F1 vs cost</figcaption></figure>
<figure>{scatter(cmp, 'p95_latency_ms', 'p95 latency (ms)', 'latency')}<figcaption>macro-F1 vs p95 latency</figcaption></figure>
</div>
<h2>Per-class F1</h2><div class="charts"><figure>{f1_bars(cmp)}</figure></div>
<h2>Confusion matrices</h2><div class="charts">{confusions}</div>
{diff_html(cmp)}
<script>{SCRIPT}</script>
</body></html>
""")  # no raw control character from a message or a record
