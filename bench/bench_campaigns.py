"""Unseen campaigns: does a program recognise a smishing campaign that no training message shows?

The classic programs (the default; about 5 minutes on 2 cores):
  SMISHCTL_DATA_MIRROR=../shared/datasets .venv/bin/python bench/bench_campaigns.py

With the default LLM program (optimize + evaluate for every campaign, about 10 minutes each on 2 cores;
rows of an earlier run join the table with --also):
  ... bench/bench_campaigns.py --programs svm,knn --out bench/data/campaigns-knn.json --also bench/data/campaigns.json

Protocol. Every row of the registered dataset `modern` (smishctl/bundled/modern/modern_sms.csv) has a
`campaign` (docs/labelling.md). A fixed set of ham controls is drawn once, with a seed, grouped by
template (--control-fraction of the ham, bench_drift's split). For each smishing campaign C, a fresh
project imports every other modern message (other campaigns' smishing, all spam, the ham that is not a
control) with `smishctl feedback import`, into the feedback of the default dataset, and each program of
--programs learns from the default dataset's train split plus those reports:
- svm, svm-signals, svm-balanced, svm-signals-balanced: `classic/tfidf-svm`, the same with the message
  signals as features, and both with `:balanced` class weights (`evaluate --with-feedback`);
- knn: `smishctl optimize --with-feedback` with its defaults (kNN demos and the SVM prior both come from
  that training pool), that version evaluated;
- lora: `smishctl finetune --with-feedback` when finetune has that option.
No message of C is in the reports, the demos or the prior. Each program is scored on C's messages plus
the controls, written as an evaluation-only CSV in the project. Per campaign and pooled over campaigns:
smishing recall on C (a spam answer is a miss), ham precision and the ham false-positive rate on the
controls, each with a 95% bootstrap interval over messages (a control scored once per campaign is one
draw), and the paired recall difference to svm on the same messages; the pooled recall and its
difference also carry a campaign-level interval (whole campaigns resampled), the wider and more honest
one for "a campaign never seen". Writes --out (JSON rows with every item's answer), a Markdown table on
stdout and --svg (recall per campaign and program, hand-written SVG).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SMISHCTL_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

from _common import REPO, _codes, add_llm_program_options, bootstrap_ratio, parse_programs, svg_bars  # noqa: E402
from bench_drift import (  # noqa: E402
    COLOURS,
    MODERN,
    PROGRAMS,
    _gain,
    build_program,
    finetune_takes_feedback,
    fresh_project,
    import_reports,
    knn_params,
    load_modern,
    split_pool,
    write_csv,
)

POOLED = "pooled"
FIELDS = ("text", "label", "template", "campaign", "locale")


# ---- the held-out sets ----------------------------------------------------------------------------

def plan(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], dict[str, tuple[list[dict], list[dict]]]]:
    """(ham controls, {campaign: (its messages, the reports it learns from)}): the reports are every
    modern message outside the campaign and the controls."""
    controls, _ = split_pool([r for r in rows if r["label"] == "ham"], fraction, seed)
    scored = {r["text"] for r in controls}
    campaigns = sorted({r["campaign"] for r in rows if r["label"] == "smishing"})
    out = {}
    for c in campaigns:
        held = [r for r in rows if r["campaign"] == c]
        reports = [r for r in rows if r["campaign"] != c and r["text"] not in scored]
        # a template never spans two campaigns (tests/test_modern_set.py), so no variant of C is a report
        assert not {r["template"] for r in held} & {r["template"] for r in reports}, c
        out[c] = (held, reports)
    return controls, out


# ---- programs and scores --------------------------------------------------------------------------

def score(settings, how: dict, held_csv: Path) -> dict:
    """Evaluate on C + controls: every item's (id, gold, answer); an answer outside the scored labels (spam)
    is kept as it is, an error or invalid output is None."""
    from smishctl.ops.evaluate import EvalConfig, evaluate
    from smishctl.ops.hooks import default_hooks

    rec = evaluate(settings, EvalConfig(**how, dataset=str(held_csv), evaluation_only=True),
                   hooks=default_hooks(settings, enabled=False))
    ids, gold, pred, labels = _codes(settings, rec["id"], tuple(rec["dataset"]["model_labels"]))
    items = [[i, labels[g], labels[p] if p >= 0 else None] for i, g, p in zip(ids, gold, pred, strict=True)]
    fb = ((rec["dataset"].get("train_dataset") or {}).get("feedback") or {}).get("used")
    return {"run": rec["id"], "items": items, "feedback_used": fb, "p50_ms": rec["metrics"]["latency_ms"]["p50"]}


def figures(items: list[list], campaign_of: list[str] | None = None, base: list[list] | None = None) -> dict:
    """Recall, ham precision and ham FPR of (id, gold, answer) items; with `base` (svm's answers on the
    same items, same order) the paired recall difference and its exact McNemar test (a few discordant
    messages can make a percentile interval exclude 0 alone); with `campaign_of` also the campaign-level
    intervals of recall and of that difference."""
    from smishctl.score.stats import discordant, mcnemar_exact

    smish = [(i, a) for i, g, a in items if g == "smishing"]
    ham = [(i, a) for i, g, a in items if g == "ham"]
    hit = [a == "smishing" for _, a in smish]
    out = {"n_smishing": len(smish), "n_controls": len(ham),
           "recall": bootstrap_ratio(hit, [1] * len(hit), [i for i, _ in smish]),
           "ham_precision": bootstrap_ratio([g == "ham" for _, g, a in items if a == "ham"],
                                            [1] * sum(a == "ham" for *_, a in items),
                                            [i for i, _, a in items if a == "ham"]),
           "ham_fpr": bootstrap_ratio([a != "ham" for _, a in ham], [1] * len(ham), [i for i, _ in ham])}
    base_hit = None
    if base is not None:
        assert [b[:2] for b in base] == [x[:2] for x in items], "the two programs were not scored on the same items"
        base_hit = [a == "smishing" for _, g, a in base if g == "smishing"]
        out["vs_svm"] = bootstrap_ratio(hit, [1] * len(hit), [i for i, _ in smish], base_hit)
        lost, won = discordant(base_hit, hit)
        out["mcnemar"] = {"svm_only": lost, "program_only": won, "p": round(mcnemar_exact(lost, won), 4)}
    if campaign_of is not None:
        groups = [c for c, (_, g, _) in zip(campaign_of, items, strict=True) if g == "smishing"]
        out["recall_by_campaign"] = bootstrap_ratio(hit, [1] * len(hit), groups)
        if base_hit is not None:
            out["vs_svm_by_campaign"] = bootstrap_ratio(hit, [1] * len(hit), groups, base_hit)
    return out


def run_campaign(campaign: str, held: list[dict], n_controls: int, reports: list[dict], programs: list[str],
                 shared_cache: Path, args) -> list[dict]:
    from smishctl.core.config import load_settings

    root = fresh_project(shared_cache)
    try:
        settings = load_settings(root)
        held_csv = write_csv(root / "eval" / "campaign_held.csv", held, FIELDS)
        imported = import_reports(root, reports)
        rows = []
        for program in programs:
            start = time.perf_counter()
            how, build_s, _ = build_program(program, settings, root, args)
            rows.append({"campaign": campaign, "program": program, "prompt": how["prompt"], "reports": len(reports),
                         "reports_added": imported["added"], "build_s": round(build_s, 1),
                         **score(settings, how, held_csv), "total_s": round(time.perf_counter() - start, 1)})
            hits = sum(a == "smishing" for _, g, a in rows[-1]["items"] if g == "smishing")
            print(f"{campaign} {program}: {hits}/{len(held) - n_controls} caught, {rows[-1]['total_s']} s", flush=True)
        return rows
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def with_figures(rows: list[dict]) -> list[dict]:
    """Each row with its campaign's figures, paired with svm's row of the same campaign (recomputed from
    the items, so rows of earlier files are read the same way)."""
    svm = {r["campaign"]: r["items"] for r in rows if r["program"] == "svm"}
    return [{**{k: v for k, v in r.items() if k not in ("vs_svm", "mcnemar")},
             **figures(r["items"], base=svm.get(r["campaign"]) if r["program"] != "svm" else None)} for r in rows]


def pooled(rows: list[dict]) -> list[dict]:
    """One row per program over every campaign it has (paired with svm where svm has them all)."""
    svm = {r["campaign"]: r for r in rows if r["program"] == "svm"}
    out = []
    for program in dict.fromkeys(r["program"] for r in rows):
        mine = sorted((r for r in rows if r["program"] == program), key=lambda r: r["campaign"])
        items = [it for r in mine for it in r["items"]]  # ids are text hashes: a control is one message
        campaign_of = [r["campaign"] for r in mine for _ in r["items"]]
        base = None
        if program != "svm" and all(r["campaign"] in svm for r in mine):
            base = [it for r in mine for it in svm[r["campaign"]]["items"]]
        out.append({"campaign": POOLED, "program": program, "campaigns": len(mine),
                    **figures(items, campaign_of, base)})
    return out


# ---- output ---------------------------------------------------------------------------------------

def _ci(p: dict | None) -> str:
    if not p or p.get("value") is None:
        return "–"
    return f"{p['value']:.3f} [{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]"


def markdown(rows: list[dict], pools: list[dict]) -> str:
    """Two tables: smishing recall per campaign, one column per program (the ham figures of one campaign
    are in --out), then the pooled figures with the paired difference to svm."""
    programs = list(dict.fromkeys(r["program"] for r in rows))
    at = {(r["campaign"], r["program"]): r for r in rows}
    lines = [f"| campaign | n | {' | '.join(programs)} |", "|---|---|" + "---|" * len(programs)]
    for c in sorted({r["campaign"] for r in rows}):
        n = next(r["n_smishing"] for r in rows if r["campaign"] == c)
        lines.append(f"| {c} | {n} | " + " | ".join(_ci((at.get((c, p)) or {}).get("recall")) for p in programs) + " |")
    lines += ["", "| pooled | campaigns | n | smishing recall [95% CI]; campaign-level | vs svm [paired 95% CI] "
              "(McNemar); campaign-level | ham precision [95% CI] | ham FPR [95% CI] |", "|---|---|---|---|---|---|---|"]
    for r in pools:
        c = r["recall_by_campaign"]["ci95"]
        gain = _gain(r)
        if r.get("mcnemar"):
            m = r["mcnemar"]
            gain += f" (+{m['program_only']} / −{m['svm_only']}, p {m['p']:.3f})"
        if r.get("vs_svm_by_campaign"):
            g = r["vs_svm_by_campaign"]["ci95"]
            gain += f"; [{g[0]:+.3f}, {g[1]:+.3f}]"
        lines.append(f"| {r['program']} | {r['campaigns']} | {r['n_smishing']} | {_ci(r['recall'])}; "
                     f"[{c[0]:.3f}, {c[1]:.3f}] | {gain} | {_ci(r['ham_precision'])} | {_ci(r['ham_fpr'])} |")
    return "\n".join(lines)


def plot(rows: list[dict], pools: list[dict], n_controls: int) -> str:
    groups = sorted({r["campaign"] for r in rows}) + [POOLED]
    programs = list(dict.fromkeys(r["program"] for r in rows))
    at = {(r["campaign"], r["program"]): r["recall"] for r in rows + pools}
    return svg_bars(f"Smishing recall on a campaign no training message shows ({n_controls} ham controls)",
                    groups, {p: [at.get((g, p)) for g in groups] for p in programs},
                    COLOURS, "smishing recall (95% bootstrap interval)")


def merge(rows: list[dict], earlier: list[dict], protocol: dict) -> list[dict]:
    """This run's rows and the earlier files' rows it has no (campaign, program) for, on the same
    controls only; in campaign, then program order."""
    merged, have = list(rows), {(r["campaign"], r["program"]) for r in rows}
    for doc in earlier:
        same = {k: doc["protocol"].get(k) for k in ("control_fraction", "seed", "data_sha256")}
        if same != {k: protocol[k] for k in same}:
            raise SystemExit(f"an --also file was made on other controls or data ({same}): not one table")
        for r in doc["rows"]:
            if (r["campaign"], r["program"]) not in have:
                have.add((r["campaign"], r["program"]))
                merged.append(r)
    return sorted(merged, key=lambda r: (r["campaign"], PROGRAMS.index(r["program"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", default="svm,svm-signals,svm-balanced,svm-signals-balanced",
                    help=f"comma list of {', '.join(PROGRAMS)}")
    ap.add_argument("--campaigns", help="comma list of smishing campaigns (default: every one)")
    ap.add_argument("--control-fraction", type=float, default=0.5, help="share of the modern ham held as controls")
    ap.add_argument("--seed", type=int, default=13, help="seed of the controls")
    add_llm_program_options(ap)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "data" / "campaigns.json")
    ap.add_argument("--svg", type=Path, default=REPO / "docs" / "campaigns.svg")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects (their runs)")
    ap.add_argument("--also", nargs="+", type=Path, default=[],
                    help="earlier --out files whose rows join the table and the plot (this run's rows win)")
    ap.add_argument("--plot-only", action="store_true", help="run nothing: the table and plot of --also")
    args = ap.parse_args()
    programs = parse_programs(ap, args.programs, PROGRAMS)
    notes = []
    if "lora" in programs and not finetune_takes_feedback():
        notes.append("`smishctl finetune` has no --with-feedback: the lora rows are skipped")
        programs.remove("lora")
    if "svm" not in programs and not args.plot_only:
        programs.insert(0, "svm")  # every other program is paired with it
    for note in notes:
        print(f"note: {note}", flush=True)

    rows = load_modern()
    controls, campaigns = plan(rows, args.control_fraction, args.seed)
    chosen = [c.strip() for c in args.campaigns.split(",")] if args.campaigns else list(campaigns)
    if set(chosen) - set(campaigns):
        ap.error(f"unknown campaign(s) {', '.join(sorted(set(chosen) - set(campaigns)))}: use {', '.join(campaigns)}")
    protocol = {"dataset": "modern", "data_sha256": hashlib.sha256(MODERN.read_bytes()).hexdigest(),
                "control_fraction": args.control_fraction, "seed": args.seed, "controls": len(controls),
                "knn": {"train_size": args.knn_train_size, "dev_size": args.knn_dev_size, "model": args.model,
                        "params": knn_params(args.knn_param)}}
    print(f"modern: {len(rows)} messages, {len(campaigns)} smishing campaigns, {len(controls)} ham controls; "
          + ", ".join(f"{c} {len(campaigns[c][0])}" for c in chosen), flush=True)
    earlier = [json.loads(path.read_text(encoding="utf-8")) for path in args.also]

    out_rows: list[dict] = []
    started = time.perf_counter()
    if not args.plot_only:
        shared_cache = Path(tempfile.mkdtemp(prefix="smishctl-bench-campaigns-cache-"))
        try:
            for c in chosen:
                out_rows += run_campaign(c, campaigns[c][0] + controls, len(controls), campaigns[c][1], programs,
                                         shared_cache, args)
        finally:
            shutil.rmtree(shared_cache, ignore_errors=True)
        out_rows = with_figures(out_rows)
        doc = {"protocol": protocol, "notes": notes, "rows": out_rows, "wall_s": round(time.perf_counter() - started, 1),
               "load_average": round(os.getloadavg()[0], 2)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    shown = with_figures(merge(out_rows, earlier, protocol))
    pools = pooled(shown)
    args.svg.parent.mkdir(parents=True, exist_ok=True)
    args.svg.write_text(plot(shown, pools, len(controls)), encoding="utf-8")
    print("\n" + markdown(shown, pools))
    print(f"\n* the message-level paired interval excludes 0; read it with McNemar's p and the campaign-level interval. "
          f"{round(time.perf_counter() - started, 1)} s, load average "
          f"{round(os.getloadavg()[0], 2)}; " + ("" if args.plot_only else f"rows in {args.out}, ") + f"plot in {args.svg}")


if __name__ == "__main__":
    main()
