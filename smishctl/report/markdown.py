"""The comparison as GitHub-flavoured Markdown (a CI job summary or a PR comment)."""

from __future__ import annotations

from smishctl.core.comparison import Comparison, MustPassResult
from smishctl.report.cells import cell, delta, interval
from smishctl.report.refs import letter_refs
from smishctl.report.verdict import NO_GATES, verdict
from smishctl.util.inert import inert_text


def _esc(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _esc_text(text: str) -> str:
    """A message as literal text in a table cell: no HTML, emphasis or link that GitHub would render."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for c in "\\`*_[]~":
        text = text.replace(c, "\\" + c)
    return _esc(" ".join(text.split()))


def must_pass_markdown(results: list[MustPassResult]) -> list[str]:
    """Per must-pass set and run: the verdict, then every missed message."""
    if not results:
        return []
    lines = ["", "### Must-pass"]
    for res in results:
        missed = res.missed
        lines += ["", f"{'✅' if res.passed else '❌'} **{_esc(res.set)}** on `{res.run}` "
                      f"({_esc(res.model)} · {_esc(res.prompt)}): {res.n_passed}/{res.n} passed"]
        if missed:
            lines += ["", "| expected | got | note | message |", "|---|---|---|---|"]
            lines += [f"| {c.expected} | {_esc(c.predicted)} | {_esc(c.note)} | {_esc(c.text)} |"
                      for c in missed]
    return lines


TEXT_CHARS = 200  # a message longer than this is cut in the table (the JSON report keeps it whole)


def diff_markdown(cmp: Comparison) -> list[str]:
    """The common items the runs answer differently (at most the comparison's cap), one column per run."""
    d = cmp.diff
    if not d.items:
        return []
    letters = letter_refs(cmp)
    more = f"; the first {len(d.items)} are listed, {d.left_out} left out" if d.left_out else ""
    lines = ["", "### Items answered differently", "",
             f"{d.n} of {cmp.n_common_items} common items{more}. ✗ = not the gold label.", "",
             "| item | gold | " + " | ".join(letters[r.id] for r in cmp.runs) + " | text |",
             "|---|---|" + "---|" * len(cmp.runs) + "---|"]
    for it in d.items:
        answers = [_esc(a) if ok else f"{_esc(a)} ✗" for a, ok in zip(it.answers, it.correct, strict=True)]
        text = it.text or ""
        text = text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"
        lines.append(f"| `{_esc(it.item_id)}` | {_esc(it.gold)} | " + " | ".join(answers) + f" | {_esc_text(text)} |")
    return lines


CACHED_NOTE = (" *cached* = answered from the cache: its latency, tokens and cost are not the model's, "
               "so they are not compared.")


def _metrics_lines(cmp: Comparison) -> list[str]:
    """The metrics table: a column per run (its letter, name, role and id), a row per metric."""
    heads = []
    letters = letter_refs(cmp)
    for r in cmp.runs:
        role = {"baseline": " (baseline)", "reference": " (reference)"}.get(r.role, "")
        cached = " (cached)" if r.cached else ""
        heads.append(f"**{letters[r.id]}** · {_esc(r.name)}{role}{cached}<br>`{r.id}`")
    lines = ["| metric | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for row in cmp.rows:
        cells = []
        for i in range(len(row.values)):
            text = cell(row, i)
            if (d := delta(row, i)) is not None:
                text += f" ({d})"
            cells.append(f"**{text}**" if i in row.best else text)
        lines.append(f"| {_esc(row.title)} | " + " | ".join(cells) + " |")
    return lines


def _stats_lines(cmp: Comparison) -> list[str]:
    if not cmp.stats:
        return []
    lines = ["", f"### Paired statistics vs baseline `{cmp.baseline}`", "",
             "| run | paired items | only baseline right | only run right | McNemar p | Δ macro-F1 [95% CI] |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in cmp.stats:
        sig = " (significant)" if s.significant else ""
        lines.append(f"| `{s.run}` | {s.n_paired} | {s.baseline_only_correct} | "
                     f"{s.candidate_only_correct} | {s.mcnemar_p:.4g}{sig} | {interval(s)} |")
    return lines + ["", (f"Exact McNemar test on discordant pairs; percentile bootstrap "
                         f"({cmp.stats[0].n_boot} resamples, seed {cmp.stats[0].seed}).")]


def _gates_lines(cmp: Comparison) -> list[str]:
    if not (cmp.gates or cmp.checks):
        return []
    lines = ["", "### Gates", "", "| | run | gate | value |", "|---|---|---|---:|"]
    for g in cmp.gates:
        value = "unknown" if g.value is None else f"{g.value:.4g}"
        lines.append(f"| {'✅' if g.passed else '❌'} | `{g.run}` | `{_esc(g.gate)}` | {value} |")
    for c in cmp.checks:
        lines.append(f"| {'✅' if c.passed else '❌'} | `{c.run}` | `{_esc(c.check)}` | {c.value:.4g} |")
    return lines


def render_markdown(cmp: Comparison) -> str:
    ds = cmp.dataset
    word = verdict(cmp)
    verdict_line = word if word == NO_GATES else f"{'✅' if cmp.exit_code == 0 else '❌'} {word}"
    lines = [f"## smishctl compare — {verdict_line}", "",
             (f"Dataset **{_esc(ds.name)}/{_esc(ds.split)}**, {cmp.n_common_items} items common to all runs. "
             f"**Bold** = best per row; (±) = difference to the baseline."
             f"{CACHED_NOTE if any(r.cached for r in cmp.runs) else ''}"), ""]
    for w in cmp.warnings:
        lines.append(f"> ⚠️ {_esc(w)}")
    if cmp.warnings:
        lines.append("")
    lines += _metrics_lines(cmp)
    lines += _stats_lines(cmp)
    lines += _gates_lines(cmp)
    lines += must_pass_markdown(cmp.must_pass)
    lines += diff_markdown(cmp)
    if cmp.failures:
        lines += ["", "### Failures", ""] + [f"- {_esc(f)}" for f in cmp.failures]
    return inert_text("\n".join(lines) + "\n")  # no raw ESC or BEL from a message or a record
