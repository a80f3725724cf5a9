"""The project folder as a static site (`smishctl view`, `smishctl view --export DIR`): runs, one page
per run with its items, a compare page, prompt versions and production.

Rendered with Jinja2, autoescaping on. Item data goes into each page as JSON in a
<script type="application/json"> block (Jinja's `tojson` escapes <, >, & and '), which the page's own
script parses and shows with textContent only, so a message's text never becomes markup. Every string
passes through `inert_text` (control characters shown, not acted on). The pages load nothing but
their own assets/ files, and a Content-Security-Policy forbids anything else.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import markupsafe

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.core.records import RunRecord
from smishctl.report.site_charts import calibration, headline, latency_histogram
from smishctl.report.site_data import (
    PromptEntry,
    RunEntry,
    item_view,
    production_view,
    prompt_view,
    read_items,
    run_row,
    scan_prompts,
    scan_runs,
    version_facts,
)
from smishctl.report.site_drift import read_drift
from smishctl.report.site_gates import ProjectGates, run_gates
from smishctl.score.metrics import answer
from smishctl.util.inert import inert_text

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "view"
PAGE_SIZE = 200  # items per page of a run (client-side pagination)


@dataclass
class SiteSummary:
    out_dir: Path
    pages: int
    runs: int
    damaged_runs: int
    prompts: int


def inert(value):
    """Every string in a tree of dicts and lists made inert (smishctl.util.inert)."""
    if isinstance(value, str):
        return inert_text(value)
    if isinstance(value, dict):
        return {inert(k): inert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [inert(v) for v in value]
    return value


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _inert_value(v):
    """Every value a template prints, made inert; markup the templates made themselves (tojson, macros)
    was built from values that already were."""
    return inert_text(v) if isinstance(v, str) and not isinstance(v, markupsafe.Markup) else v


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=_inert_value)
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":")}
    env.filters["num"] = lambda v, spec=".3f": format(v, spec) if _number(v) else "–"
    env.filters["pct"] = lambda v: f"{v:.1%}" if _number(v) else "–"
    return env


class _Writer:
    def __init__(self, out_dir: Path):
        self.out, self.env, self.pages = out_dir, _env(), 0

    def page(self, name: str, template: str, **context) -> None:
        depth = name.count("/")
        context["data"] = inert(context.get("data"))
        html = self.env.get_template(template).render(root="../" * depth, **context)
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.pages += 1


def build_site(settings: Settings, out_dir: str | Path, *, gates: ProjectGates | None = None,
               served: bool = False) -> SiteSummary:
    """Render every page of the project's viewer into `out_dir` (created if missing; files of an
    earlier export are replaced). `gates`: the project's gates (smishctl.ops.view.project_gates), judged
    on each run for the compare page; `served`: the pages are served by `smishctl view`, whose
    endpoints they may call (the exact turns of a typed message)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a folder", hint="pass --export a folder (it is created if missing)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TEMPLATES / "assets", out / "assets", dirs_exist_ok=True)
    w = _Writer(out)
    runs = scan_runs(settings.runs_dir)
    compare_runs: list[dict] = []
    texts: dict[str, str] = {}
    for e in runs:
        if e.record is not None:
            compare_runs.append(_run_page(w, e, e.record, texts, gates))
    rows = [run_row(e) for e in runs]
    w.page("index.html", "runs.html", title="Runs", data={"runs": rows}, n_damaged=sum(e.record is None for e in runs))
    w.page("compare.html", "compare.html", title="Compare", gates=gates, served=served,
           data={"runs": compare_runs, "texts": texts, "gates": gates.heads() if gates else None,
                 "gate_problem": gates.problem if gates else None})
    prompts = scan_prompts(settings.prompts_dir)
    _prompt_pages(w, prompts, served)
    pages = {p.art.id: p.page for p in prompts}
    run_pages = {e.id: e.page for e in runs}
    w.page("production.html", "production.html", title="Production", prod=production_view(settings),
           run_pages=run_pages, prompt_pages=pages)
    w.page("drift.html", "drift.html", title="Drift", drift=read_drift(settings.root, out))
    return SiteSummary(out, w.pages, len(runs), sum(e.record is None for e in runs), len(prompts))


def _prompt_pages(w: _Writer, prompts: list[PromptEntry], served: bool) -> None:
    """The list of versions (with the diff of two chosen ones) and a page per readable version."""
    by_id = {p.art.id: p for p in prompts}
    facts = [version_facts(p) for p in prompts]
    w.page("prompts.html", "prompts.html", title="Prompts", prompts=list(zip(prompts, facts, strict=True)),
           n_prompts=len(prompts), data={"versions": facts})
    for p in prompts:
        if p.manifest is not None:
            w.page(p.page, "prompt.html", title=p.art.id, entry=p, view=prompt_view(p, by_id), served=served)


def _run_page(w: _Writer, e: RunEntry, rec: RunRecord, texts: dict[str, str], gates: ProjectGates | None) -> dict:
    """Write the run's page; return its compact form for the compare page (answers by item id)."""
    got = read_items(e)
    items = [item_view(r) for r in got.rows]
    labels = rec.labels or tuple(sorted({str(r.get("gold")) for r in got.rows}))
    w.page(e.page, "run.html", title=f"run {e.ref}", run=run_row(e), rec=rec, metrics=rec.metrics or {},
           got=got, head=headline(got.rows, labels), cal=calibration(got.rows), lat=latency_histogram(got.rows),
           data={"labels": list(labels), "answers": sorted({i["a"] for i in items}), "items": items,
                 "page_size": PAGE_SIZE})
    for r in got.rows:
        texts.setdefault(str(r.get("item_id")), r.get("text") or "")
    return {**run_row(e), "items": [[str(r.get("item_id")), r.get("gold"), answer(r)] for r in got.rows],
            "gates": run_gates(gates, rec, got.rows, len(got.damaged) + bool(got.unreadable)) if gates else None}
