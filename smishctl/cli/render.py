"""Rich renderings shared by commands (kept apart so commands stay short)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from smishctl.cli.common import fmt
from smishctl.core.records import RunRecord
from smishctl.util.tails import shortest_unique_tails


def metrics_table(record: dict | RunRecord, title: str | None = None) -> Table:
    rec = RunRecord.of(record)
    m = rec.metrics or {}
    t = Table(title=title or f"run {rec.id}", show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("items", f"{m.get('n_items', 0)} ({m.get('n_scored', 0)} scored)")
    t.add_row("accuracy", fmt(m.get("accuracy")))
    t.add_row("macro-F1", fmt(m.get("macro_f1")))
    for label, pc in (m.get("per_class") or {}).items():
        t.add_row(f"  {label} P/R/F1", f"{pc['precision']:.3f} / {pc['recall']:.3f} / {pc['f1']:.3f}")
    for label, auc in (m.get("auc") or {}).items():  # from the label probabilities
        t.add_row(f"  {label} ROC-AUC / PR-AUC", f"{fmt(auc['roc_auc'])} / {fmt(auc['pr_auc'])}")
    if m.get("ece") is not None:
        t.add_row("calibration ECE / Brier", f"{fmt(m['ece'])} / {fmt(m['brier'])}")
    t.add_row("invalid outputs", str(m.get("n_invalid", 0)))
    t.add_row("errors", str(m.get("n_errors", 0)))
    if m.get("attack_success_rate") is not None:  # robustness set
        t.add_row("attack success rate", f"{m['attack_success_rate']:.3f} "
                  f"({m.get('n_attack_successes')}/{m.get('n_attacks')} malicious -> ham)")
        t.add_row("ham controls kept", f"{fmt(m.get('control_ham_accuracy'))} "
                  "(read with the rate above: a model that never says ham lets no attack through)")
    lat = m.get("latency_ms", {})
    t.add_row("latency p50 / p95 (ms)", f"{fmt(lat.get('p50'), '.0f')} / {fmt(lat.get('p95'), '.0f')}")
    tok = m.get("tokens", {})
    t.add_row("tokens prompt / cached / completion",
              f"{tok.get('prompt', 0)} / {tok.get('cached', 0)} / {tok.get('completion', 0)}")
    t.add_row("cache hits", str(m.get("cache_hits", 0)))
    t.add_row("cost (USD) / per 1k msgs", f"{fmt(m.get('cost_usd'), '.5f')} / {fmt(m.get('cost_per_1k'), '.4f')}")
    return t


SCREEN = 80  # the narrowest terminal a summary is written for


def macro_f1_interval(run) -> tuple[float, float] | None:
    """The 95% bootstrap interval of a run's macro-F1 over its scored items (errors left out, as the
    metrics do; None when its rows cannot be read): how far the number could move on another sample."""
    from smishctl.core.errors import SmishError
    from smishctl.score.stats import bootstrap_macro_f1

    labels = run.record().labels
    try:
        rows = [r for r in run.predictions(slim=True) if r.get("status") in ("ok", "invalid")]
    except (SmishError, OSError, ValueError):
        return None
    if not rows or not labels:
        return None
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)  # the code of an invalid answer or a label outside the scored ones: always wrong
    gold = [index.get(r.get("gold"), k) for r in rows]
    pred = [index.get(r.get("pred"), k) if r["status"] == "ok" else k for r in rows]
    ci = bootstrap_macro_f1(gold, pred, k, n_boot=1000, seed=0)
    return ci["low"], ci["high"]


def headline(record: dict | RunRecord, ref: str, interval: tuple[float, float] | None = None) -> list[str]:
    """What a newcomer reads first: accuracy and macro-F1 (with its interval), the items and what failed,
    and where the run was written; each line fits 80 columns."""
    rec = RunRecord.of(record)
    m = rec.metrics or {}
    f1 = f"[bold]{fmt(m.get('macro_f1'))}[/bold]"
    if interval is not None:
        f1 += f" (95% CI {interval[0]:.3f} to {interval[1]:.3f})"
    lines = [f"accuracy [bold]{fmt(m.get('accuracy'))}[/bold]   macro-F1 {f1}",
             f"{m.get('n_items', 0)} items: {m.get('n_errors', 0)} errors, {m.get('n_invalid', 0)} invalid outputs"]
    if m.get("attack_success_rate") is not None:  # the robustness set's own headline
        lines += [f"attack success rate [bold]{m['attack_success_rate']:.3f}[/bold] "
                  f"({m.get('n_attack_successes')}/{m.get('n_attacks')} malicious -> ham)",
                  f"ham controls kept {fmt(m.get('control_ham_accuracy'))} (a model that never says ham "
                  "lets no attack through)"]
    where = f"written to runs/{escape(rec.id)}/"
    tail = f" (ref {escape(ref)}, or latest)"
    if len(where) + len(tail) <= SCREEN:
        lines.append(where + tail)
    else:  # a long id: the path whole on a line of its own, so it can be copied
        lines += [f"run {escape(ref)} (or latest) written to", f"  runs/{escape(rec.id)}/"]
    return lines


def duration(seconds: float) -> str:
    """12 s, 4 min, 1.5 h: an estimate, so no false precision."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def confusion_table(record: dict | RunRecord) -> Table:
    cm = (RunRecord.of(record).metrics or {}).get("confusion", {})
    labels = cm.get("labels", [])
    t = Table(title="confusion (rows: gold, columns: predicted)", header_style="bold")
    t.add_column("gold \\ pred")
    for lab in labels:
        t.add_column(lab, justify="right")
    for lab, row in zip(labels, cm.get("matrix", []), strict=False):
        t.add_row(lab, *[str(v) for v in row])
    return t


def short_prompt_refs(ids: list[str]) -> dict[str, str]:
    """Each prompt id's shortest '/'-separated tail that no other id shares (`v0003` while only one
    group has a v0003); `smishctl evaluate --prompt` and friends accept that tail."""
    distinct = sorted(set(ids))
    return shortest_unique_tails(
        distinct, "/", lambda tail, pid: not any(o != pid and (o == tail or o.endswith("/" + tail)) for o in distinct))
