"""Drift recovery: how much do N reviewed reports of today's traffic give back on today's traffic?

Full benchmark (the knn rows optimize on the embedded model, about 10 minutes per N on 2 cores):
  SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_drift.py --programs svm,knn --n 0 20 50 100

Quick check, no LLM (seconds): ... bench/bench_drift.py --programs svm --n 0 20

Protocol. The registered dataset `modern` (smishctl/bundled/modern/modern_sms.csv) is split once, with
a fixed seed, into a feedback pool (--pool-fraction, default 40%) and a held part, grouped by
`template` (variants of one script stay on one side) and stratified by label. The pool is put in a
seeded, label-balanced order, so the first 20 reports are a subset of the first 50. For each N (--n):
a fresh project, the first N reports imported with `smishctl feedback import` (into the feedback of
the default dataset, which every program trains on), then each program of --programs:
- svm: `classic/tfidf-svm` trained on the default dataset's train split plus the reports
  (`evaluate --with-feedback`); svm-signals: `classic/tfidf-svm-signals`, the same with the message
  signals as features; svm-balanced, svm-signals-balanced: the same two with `:balanced` class weights;
- knn: `smishctl optimize --with-feedback` with its defaults (kNN, label scoring), that version evaluated;
- lora: `smishctl finetune --with-feedback` when finetune has that option (else a printed note).
Every program is scored on the held part, written as an evaluation-only CSV in the project (stable
ids), and with --in-distribution on the old traffic too (sms-phishing test, 150 balanced), so a gain
on today's messages that costs the old ones shows. Each row: macro-F1 with its 95% bootstrap
interval, per-class F1, and the paired macro-F1 difference to the svm row of the same N on the same
items with its interval (smishctl.score.stats, as bench/_common.py), wall times and per-message p50.
With --extra-train NAME (a registered dataset, e.g. modern-train) every program of each N runs twice
in the same project: first as above, then after the whole of NAME is imported as reports too, so the
SVMs and any LLM program learn from the same extra data. The second row names the dataset and carries
its paired macro-F1 gain over the first (same items): what the extra data gave.
Writes --out (JSON rows), a Markdown table on stdout and --svg (macro-F1 against N, hand-written SVG).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

from _common import (  # noqa: E402
    REPO,
    _codes,
    add_llm_program_options,
    macro_f1_interval,
    model_project,
    paired,
    paired_gain_interval,
)

MODERN = REPO / "smishctl" / "bundled" / "modern" / "modern_sms.csv"
# The classic programs: evaluate trains them (with the reports) on the default dataset's train split.
CLASSIC = {"svm": "classic/tfidf-svm", "svm-signals": "classic/tfidf-svm-signals",
           "svm-balanced": "classic/tfidf-svm:balanced", "svm-signals-balanced": "classic/tfidf-svm-signals:balanced"}
PROGRAMS = ("svm", "svm-signals", "svm-balanced", "svm-signals-balanced", "knn", "lora")
HELD, IN_DIST = "modern-held", "sms-phishing-test"


# ---- the split and the order of the reports -------------------------------------------------------

def load_modern() -> list[dict]:
    with open(MODERN, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def split_pool(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(pool, held): whole templates go to the pool, label by label in a seeded order, until the
    pool holds `fraction` of that label's rows; a template never has rows on both sides."""
    rng = random.Random(seed)
    templates: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        templates[r["template"]].append(r)
    pool_t: set[str] = set()
    for label in sorted({r["label"] for r in rows}):
        names = sorted(t for t, rs in templates.items() if rs[0]["label"] == label)
        rng.shuffle(names)
        target = round(fraction * sum(len(templates[t]) for t in names))
        taken = 0
        for t in names:
            if taken >= target:
                break
            pool_t.add(t)
            taken += len(templates[t])
    return [r for r in rows if r["template"] in pool_t], [r for r in rows if r["template"] not in pool_t]


def report_order(pool: list[dict], seed: int) -> list[dict]:
    """The pool in a seeded order that takes the labels in turn: any prefix is label-balanced and
    the first N reports are a subset of the first M > N."""
    rng = random.Random(seed)
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in pool:
        by_label[r["label"]].append(r)
    queues = []
    for label in sorted(by_label):
        rs = sorted(by_label[label], key=lambda r: r["text"])
        rng.shuffle(rs)
        queues.append(rs)
    order = []
    for i in range(max(map(len, queues))):
        order += [q[i] for q in queues if i < len(q)]
    return order


def write_csv(path: Path, rows: list[dict], fields: tuple[str, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


# ---- projects and programs ------------------------------------------------------------------------

def fresh_project(shared_cache: Path) -> Path:
    """A new project for the embedded model; the caches (prepared splits, template groups, the
    assembled weights unless the repository has them) are shared by every N, so they are made once."""
    root = model_project(None, "smishctl-bench-drift-")
    for name in ("hf-datasets", "template-groups", "models"):
        if not (root / ".cache" / name).exists():
            (shared_cache / name).mkdir(parents=True, exist_ok=True)
            (root / ".cache" / name).symlink_to(shared_cache / name)
    return root


def smishctl(root: Path, *args: str) -> dict:
    """The real CLI in the project; its --json answer."""
    r = subprocess.run([sys.executable, "-m", "smishctl", *args, "--json"], cwd=root, capture_output=True,
                       text=True, env={**os.environ, "SMISHCTL_HOME": str(root)})
    if r.returncode != 0:
        raise SystemExit(f"smishctl {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def import_reports(root: Path, reports: list[dict]) -> dict:
    if not reports:
        return {"added": 0, "duplicates": 0}
    path = write_csv(root / "reports.csv", [{**r, "note": f"drift bench; template {r['template']}"} for r in reports],
                     ("text", "label", "note"))
    return smishctl(root, "feedback", "import", str(path))


def import_extra(root: Path, settings, name: str) -> dict:
    """The whole of registered dataset `name` (checksum verified) imported as reports, each noting its
    template: the extra training data of --extra-train."""
    from smishctl.data.fetch import fetch
    from smishctl.data.registry import REGISTRY

    spec = REGISTRY[name]
    path, _ = fetch(spec, settings)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [{"text": r[spec.text_column], "label": r[spec.label_column],
                 "note": f"extra train {name}; template {r.get('template', '?')}"} for r in csv.DictReader(fh)]
    return smishctl(root, "feedback", "import", str(write_csv(root / "extra_train.csv", rows, ("text", "label", "note"))))


def extra_train_info(name: str | None) -> dict | None:
    """What --extra-train added, for the protocol: the dataset and its pinned checksum."""
    if not name:
        return None
    from smishctl.data.registry import REGISTRY

    return {"dataset": name, "sha256": REGISTRY[name].sha256}


def name_of(row: dict) -> str:
    """A row's program, with the extra training data it had (--extra-train)."""
    params = ", ".join(f"{k}={v.removeprefix('classic/')}" for k, v in (row.get("params") or {}).items())
    return row["program"] + (f" ({params})" if params else "") + (f" + {row['extra_train']}" if row.get("extra_train") else "")


def finetune_takes_feedback() -> bool:
    r = subprocess.run([sys.executable, "-m", "smishctl", "finetune", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "200"})
    return r.returncode == 0 and "--with-feedback" in r.stdout


def knn_params(pairs: list[str]) -> dict:
    """--knn-param KEY=VALUE options as optimize's --param dict (e.g. prior_model=..., signals=true)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--knn-param {pair!r}: use KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def build_program(program: str, settings, root: Path, args) -> tuple[dict, float, int | None]:
    """(what evaluate needs: model and prompt, seconds it took to make, reports it trained on); svm is
    trained inside evaluate, which records its reports."""
    start = time.perf_counter()
    if program in CLASSIC:
        return {"model": CLASSIC[program], "prompt": "zero-shot", "with_feedback": True}, 0.0, None
    if program == "knn":
        from smishctl.ops.optimize import OptimizeConfig, optimize

        result = optimize(settings, OptimizeConfig(model=args.model, with_feedback=True, langfuse=False,
                                                   train_size=args.knn_train_size, dev_size=args.knn_dev_size,
                                                   params=knn_params(args.knn_param)))
        used = (result.summary.feedback or {}).get("used")
        return {"model": args.model, "prompt": result.artifact}, time.perf_counter() - start, used
    extra = ["--model", args.model] if args.model else []
    s = smishctl(root, "finetune", "--with-feedback", *extra)
    used = ((s.get("dataset") or {}).get("feedback") or {}).get("used")
    return {"model": args.model, "prompt": s["artifact"]}, time.perf_counter() - start, used


def score(settings, how: dict, target: str, held_csv: Path, args) -> dict:
    from smishctl.ops.evaluate import EvalConfig, evaluate
    from smishctl.ops.hooks import default_hooks

    if target == HELD:
        data = {"dataset": str(held_csv), "evaluation_only": True, "limit": args.eval_limit,
                "balanced": args.eval_balanced}
    else:
        data = {"dataset": "sms-phishing", "split": "test", "limit": args.id_limit, "balanced": True}
    from smishctl.store.runs import open_run

    rec = evaluate(settings, EvalConfig(**how, **data), hooks=default_hooks(settings, enabled=False))
    m = rec["metrics"]
    wall = open_run(settings.runs_dir, rec["id"]).record().wall_seconds
    return {"run": rec["id"], "n_items": rec["dataset"]["n_items"], **macro_f1_interval(settings, rec["id"]),
            "f1": {lab: round(v["f1"], 3) for lab, v in m["per_class"].items()},
            "eval_wall_s": round(wall, 2), "p50_ms": m["latency_ms"]["p50"],
            "feedback_used": ((rec["dataset"].get("train_dataset") or {}).get("feedback") or {}).get("used")}


def gain_over(base: tuple, settings, run_id: str) -> dict:
    """The paired macro-F1 gain of a run over `base` (the _codes of the same program's N=0 run, made in
    another project) on the same items: what the reports gave back."""
    ids_b, gold, pred_b, labels = base
    ids_c, _, pred_c, _ = _codes(settings, run_id, labels)
    assert ids_b == ids_c, "the two runs are not on the same items"
    return paired(gold, pred_b, pred_c, len(labels))


def run_n(n: int, reports: list[dict], held: list[dict], programs: list[str], shared_cache: Path, args,
          first: dict) -> list[dict]:
    """The rows of one N; `first` keeps the codes of each (program name, target) run at the smallest N."""
    from smishctl.core.config import load_settings

    root = fresh_project(shared_cache)
    try:
        settings = load_settings(root)
        held_csv = write_csv(root / "eval" / "modern_held.csv", held, ("text", "label", "template", "locale"))
        imported = import_reports(root, reports[:n])
        print(f"N={n}: {imported['added']} report(s) imported, {imported['duplicates']} already known", flush=True)
        rows, without = [], {}
        extras = [None] + ([args.extra_train] if args.extra_train else [])
        for extra in extras[1:] if args.extra_only else extras:
            if extra:
                added = import_extra(root, settings, extra)
                print(f"N={n}: {added['added']} message(s) of {extra} imported, {added['duplicates']} already known",
                      flush=True)
            svm_runs = {}
            for program in programs:
                how, build_s, used = build_program(program, settings, root, args)
                row = {"n": n, "program": program, "extra_train": extra, "prompt": how["prompt"],
                       "build_s": round(build_s, 1), "reports_added": imported["added"]}
                if program == "knn" and args.knn_param:
                    row["params"] = knn_params(args.knn_param)
                for target in [HELD] + ([IN_DIST] if args.in_distribution else []):
                    start = time.perf_counter()
                    r = score(settings, how, target, held_csv, args)
                    r["feedback_used"] = r["feedback_used"] if used is None else used
                    r["total_s"] = round(time.perf_counter() - start, 1)  # svm: includes training it
                    if program == args.vs:
                        svm_runs[target] = r["run"]
                    elif target in svm_runs:
                        r["vs_svm"] = paired_gain_interval(settings, svm_runs[target], r["run"])
                        r["vs_program"] = args.vs
                    if extra and not args.extra_only:  # the same program and reports without the extra data
                        r["vs_no_extra"] = paired_gain_interval(settings, without[program, target], r["run"])
                    else:
                        without[program, target] = r["run"]
                    if (name_of(row), target) in first:
                        r["vs_first_n"] = gain_over(first[name_of(row), target], settings, r["run"])
                    else:
                        first[name_of(row), target] = _codes(settings, r["run"])
                    row[target] = r
                rows.append(row)
                print(json.dumps(row), flush=True)
        return rows
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


# ---- output ---------------------------------------------------------------------------------------

def _cell(r: dict | None) -> str:
    return f"{r['macro_f1']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]" if r else "–"


def _gain(r: dict | None, key: str = "vs_svm") -> str:
    g = (r or {}).get(key)
    if not g:
        return "–"
    return f"{g['gain']:+.3f} [{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}]" + (" *" if g["significant"] else "")


def markdown(rows: list[dict], labels: tuple[str, ...], vs: str = "svm") -> str:
    n0 = rows[0]["n"] if rows else 0
    extra = any(r.get("extra_train") for r in rows)  # then a column for the gain the extra data gave
    lines = [f"| N reports | program | modern held macro-F1 [95% CI] | F1 {' / '.join(labels)} | vs N={n0} [paired 95% CI] "
             f"| vs {vs} [paired 95% CI] | {'vs no extra [paired 95% CI] | ' if extra else ''}"
             f"sms-phishing test macro-F1 [95% CI] | vs N={n0} | vs {vs} | {'vs no extra | ' if extra else ''}build s "
             "| eval wall s | p50 ms/msg |",
             "|---" * (12 + 2 * extra) + "|"]
    for row in rows:
        h, i = row[HELD], row.get(IN_DIST)
        f1 = " / ".join(f"{h['f1'].get(lab, 0):.2f}" for lab in labels)
        p50 = f"{h['p50_ms']:.1f}" if h["p50_ms"] is not None else "–"
        no_extra = (lambda r: f" {_gain(r, 'vs_no_extra')} |") if extra else (lambda r: "")  # noqa: E731
        lines.append(f"| {row['n']} | {name_of(row)} | {_cell(h)} | {f1} | {_gain(h, 'vs_first_n')} | {_gain(h)} |"
                     f"{no_extra(h)} {_cell(i)} | {_gain(i, 'vs_first_n')} | {_gain(i)} |{no_extra(i)} "
                     f"{row['build_s']} | {h['eval_wall_s']} | {p50} |")
    return "\n".join(lines)


COLOURS = {"svm": "#1f77b4", "svm-signals": "#17becf", "svm-balanced": "#9467bd", "svm-signals-balanced": "#8c564b",
           "knn": "#d62728", "lora": "#2ca02c"}


def svg(rows: list[dict], n_held: int) -> str:
    """Macro-F1 against N, one line per program (held part solid, sms-phishing test dashed), 95%
    bootstrap intervals as error bars; written by hand (no plotting library)."""
    ns = sorted({r["n"] for r in rows})
    labels = [f"{name_of(r)}, {name}" for r in rows for name in ("modern held", "sms-phishing test")]
    right = max(200, 50 + 7 * max(map(len, labels)))  # the legend's longest label fits inside the picture
    w, h, left, top, bottom = 520 + right, 400, 64, 40, 56
    points = [(r, t) for r in rows for t in (HELD, IN_DIST) if r.get(t)]
    lo = min(r[t]["ci95"][0] for r, t in points)
    hi = max(r[t]["ci95"][1] for r, t in points)
    y0, y1 = max(0.0, int(lo * 10) / 10), min(1.0, (int(hi * 10) + 1) / 10)
    programs = list(dict.fromkeys(name_of(r) for r in rows))
    span = max(ns[-1] - ns[0], 1)

    def x(n: int, k: int = 0) -> float:  # programs a few pixels apart, so the bars do not overlap
        return left + (n - ns[0]) / span * (w - left - right) + (k - (len(programs) - 1) / 2) * 5

    def y(v: float) -> float:
        return top + (y1 - v) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2 - right / 2 + left / 2}" y="22" text-anchor="middle" font-size="14">'
           f'Drift recovery: macro-F1 after N reviewed reports (held modern: {n_held} messages)</text>']
    for i in range(int(round((y1 - y0) * 10)) + 1):
        v = y0 + i / 10
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    for n in ns:
        out.append(f'<line x1="{x(n):.1f}" x2="{x(n):.1f}" y1="{h - bottom}" y2="{h - bottom + 5}" stroke="black"/>'
                   f'<text x="{x(n):.1f}" y="{h - bottom + 18}" text-anchor="middle">{n}</text>')
    out += [f'<line x1="{left}" x2="{w - right}" y1="{h - bottom}" y2="{h - bottom}" stroke="black"/>',
            f'<line x1="{left}" x2="{left}" y1="{top}" y2="{h - bottom}" stroke="black"/>',
            f'<text x="{(left + w - right) / 2}" y="{h - 14}" text-anchor="middle">reviewed reports added to training (N)</text>',
            f'<text transform="translate(18 {(top + h - bottom) / 2}) rotate(-90)" text-anchor="middle">'
            'macro-F1 (95% bootstrap interval)</text>']
    legend = 0
    for k, program in enumerate(programs):
        colour = COLOURS.get(program.split(" + ")[0], "black")
        if " + " in program:  # the same program with extra training data: its colour, lighter
            colour += "88" if colour.startswith("#") else ""
        for target, dash, name in ((HELD, "", "modern held"), (IN_DIST, ' stroke-dasharray="5 4"', "sms-phishing test")):
            pts = [(x(r["n"], k), r[target]) for r in rows if name_of(r) == program and r.get(target)]
            if not pts:
                continue
            path = " ".join(f"{px:.1f},{y(p['macro_f1']):.1f}" for px, p in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for px, p in pts:
                a, b = y(p["ci95"][0]), y(p["ci95"][1])
                out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{a:.1f}" y2="{b:.1f}" stroke="{colour}"/>'
                           f'<line x1="{px - 4:.1f}" x2="{px + 4:.1f}" y1="{a:.1f}" y2="{a:.1f}" stroke="{colour}"/>'
                           f'<line x1="{px - 4:.1f}" x2="{px + 4:.1f}" y1="{b:.1f}" y2="{b:.1f}" stroke="{colour}"/>'
                           f'<circle cx="{px:.1f}" cy="{y(p["macro_f1"]):.1f}" r="3" fill="{colour}"/>')
            ly = top + 10 + legend * 18
            out.append(f'<line x1="{w - right + 12}" x2="{w - right + 36}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                       f'stroke-width="2"{dash}/><text x="{w - right + 42}" y="{ly + 4}">{program}, {name}</text>')
            legend += 1
    out.append("</svg>")
    return "\n".join(out) + "\n"


def merge_rows(rows: list[dict], earlier: list[list[dict]]) -> list[dict]:
    """This run's rows and the earlier files' rows it has no (program name, N) for (the first file named
    wins), in N order. Rows of one held part only: a different split would not be the same items. A
    gain over "the first N" is kept only where that N is the merged table's first N."""
    groups = ([rows] if rows else []) + earlier
    first_n = min(r["n"] for group in groups for r in group)
    merged, have = [], set()
    for group in groups:
        base = min(r["n"] for r in group)
        for r in group:
            if (name_of(r), r["n"]) in have:
                continue
            have.add((name_of(r), r["n"]))
            if base != first_n:  # a gain over another N than the column's
                r = {**r, **{t: {k: v for k, v in r[t].items() if k != "vs_first_n"}
                             for t in (HELD, IN_DIST) if isinstance(r.get(t), dict)}}
            merged.append(r)
    sizes = {r[HELD]["n_items"] for r in merged}
    if len(sizes) > 1:
        raise SystemExit(f"rows scored on different held parts ({sorted(sizes)} items): not one curve")
    return sorted(merged, key=lambda r: (r["n"], r.get("extra_train") or "", PROGRAMS.index(r["program"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", default="svm,knn", help=f"comma list of {', '.join(PROGRAMS)}")
    ap.add_argument("--n", nargs="+", type=int, default=[0, 20, 50, 100], help="reports added, one project each")
    ap.add_argument("--pool-fraction", type=float, default=0.4, help="share of `modern` in the feedback pool")
    ap.add_argument("--seed", type=int, default=13, help="seed of the pool/held split and of the report order")
    ap.add_argument("--in-distribution", action=argparse.BooleanOptionalAction, default=True,
                    help="also score every program on sms-phishing test (--id-limit balanced)")
    ap.add_argument("--id-limit", type=int, default=150)
    ap.add_argument("--eval-limit", type=int, help="score only this many held messages (a quick check)")
    ap.add_argument("--eval-balanced", action="store_true",
                    help="with --eval-limit: that many held messages balanced across labels (the file is in label order)")
    add_llm_program_options(ap)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "drift.json")
    ap.add_argument("--svg", type=Path, default=REPO / "docs" / "drift.svg")
    ap.add_argument("--extra-train", metavar="DATASET",
                    help="a registered dataset (e.g. modern-train) every program also trains on: each program "
                    "runs without it and then with it, on the same reports and items")
    ap.add_argument("--extra-only", action="store_true",
                    help="with --extra-train: only the rows with the extra data (no 'vs no extra' column)")
    ap.add_argument("--vs", default="svm", help="the program every other row is paired with (default svm)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects (their runs)")
    ap.add_argument("--also", nargs="+", type=Path, default=[],
                    help="earlier --out files whose rows join the table and the curve (this run's rows win, "
                    "then the first file named)")
    ap.add_argument("--plot-only", action="store_true", help="run nothing: the table and curve of --also")
    args = ap.parse_args()
    programs = [p.strip() for p in args.programs.split(",") if p.strip()]
    unknown = sorted(set(programs) - set(PROGRAMS))
    if unknown:
        ap.error(f"unknown program(s) {', '.join(unknown)}: use {', '.join(PROGRAMS)}")
    if args.extra_train:
        from smishctl.data.registry import REGISTRY

        if args.extra_train not in REGISTRY or REGISTRY[args.extra_train].all_test:
            ap.error(f"--extra-train {args.extra_train}: not a registered training dataset "
                     f"(use one of {', '.join(n for n, s in REGISTRY.items() if not s.all_test)})")
    if args.vs not in PROGRAMS:
        ap.error(f"--vs {args.vs}: use one of {', '.join(PROGRAMS)}")
    if args.extra_only and not args.extra_train:
        ap.error("--extra-only needs --extra-train")
    knn_params(args.knn_param)
    if "lora" in programs and not finetune_takes_feedback():
        print("note: `smishctl finetune` has no --with-feedback: the lora rows are skipped", flush=True)
        programs.remove("lora")

    rows = load_modern()
    pool, held = split_pool(rows, args.pool_fraction, args.seed)
    order = report_order(pool, args.seed)
    if max(args.n) > len(order):
        ap.error(f"--n {max(args.n)} is more than the {len(order)} reports of the pool; raise --pool-fraction")
    count = lambda rs: {lab: sum(r["label"] == lab for r in rs) for lab in sorted({r["label"] for r in rows})}  # noqa: E731
    print(f"modern: {len(rows)} messages; pool {len(pool)} {count(pool)}, held {len(held)} {count(held)}; "
          f"first {max(args.n)} reports {count(order[:max(args.n)])}", flush=True)

    labels = tuple(sorted({r["label"] for r in rows}))
    earlier = [json.loads(path.read_text(encoding="utf-8"))["rows"] for path in args.also]
    if args.plot_only:
        merged = merge_rows([], earlier)
        args.svg.write_text(svg(merged, merged[0][HELD]["n_items"]), encoding="utf-8")
        print(markdown(merged, labels, args.vs) + f"\ncurve in {args.svg}")
        return

    started = time.perf_counter()
    shared_cache = Path(tempfile.mkdtemp(prefix="smishctl-bench-drift-cache-"))
    out_rows: list[dict] = []
    first: dict = {}
    try:
        for n in sorted(set(args.n)):
            out_rows += run_n(n, order, held, programs, shared_cache, args, first)
    finally:
        shutil.rmtree(shared_cache, ignore_errors=True)
    doc = {"protocol": {"dataset": "modern", "pool_fraction": args.pool_fraction, "seed": args.seed,
                        "pool": len(pool), "held": len(held), "eval_limit": args.eval_limit,
                        "eval_balanced": args.eval_balanced,
                        "in_distribution": {"dataset": "sms-phishing", "split": "test", "limit": args.id_limit,
                                            "balanced": True} if args.in_distribution else None,
                        "knn": {"train_size": args.knn_train_size, "dev_size": args.knn_dev_size, "model": args.model,
                                "params": knn_params(args.knn_param)},
                        "vs": args.vs, "extra_only": args.extra_only,
                        "extra_train": extra_train_info(args.extra_train)},
           "rows": out_rows, "wall_s": round(time.perf_counter() - started, 1),
           "load_average": round(os.getloadavg()[0], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    shown = merge_rows(out_rows, earlier)
    args.svg.write_text(svg(shown, shown[0][HELD]["n_items"]), encoding="utf-8")
    print("\n" + markdown(shown, labels, args.vs))
    print(f"\n* the paired interval excludes 0. {doc['wall_s']} s, load average {doc['load_average']}; "
          f"rows in {args.out}, curve in {args.svg}")


if __name__ == "__main__":
    main()
