"""CARD.md of an optimized version: what was searched, what it scored on dev and its instructions."""

from __future__ import annotations

from smishctl.ops.optimize_result import OptimizeSummary
from smishctl.report.prompt_facts import source_note


def _f3(value: float | None) -> str:
    """A score, or '-' when nothing could be scored (every call failed)."""
    return "-" if value is None else f"{value:.3f}"


def optimize_card(s: OptimizeSummary, instructions: str, start: str | None = None) -> str:
    """The card's text; `{{id}}` is filled in by the store once the version has its number."""
    before = "starting prompt" if start else "zero-shot"
    candidates = s.search.candidates
    return "\n".join([
        "# Prompt {{id}}",
        "",
        f"- model: `{s.model}`; optimizer: `{s.optimizer}` {s.params}, seed {s.seed}",
        f"- dataset: `{s.dataset}`, {s.train_size} train / {s.dev_size} dev messages (balanced)",
        *([f"- started from: {source_note(s.source)}"] if start and s.source is not None else []),
        f"- dev macro-F1: {before} {_f3(s.baseline.macro_f1)} -> optimized {_f3(s.optimized.macro_f1)} "
        f"(gain {s.macro_f1_gain:+.3f})",
        f"- spent: {s.spend.lm_calls} LM calls, {s.spend.wall_seconds} s"
        + (" — budget exhausted, best program so far" if s.budget_exhausted else ""),
        f"- demos: {s.demos}",
        *([f"- search: {s.search.note}"] if s.search.evaluations else []),
        *(["- candidates (dev macro-F1): " + "; ".join(f"{c.note} {_f3(c.dev_macro_f1)}" for c in candidates)]
          if len(candidates) > 1 else []),
        f"- adapter: `{s.adapter.name}`" + s.decision_note,
        "",
        *(_start_section(start, instructions) if start else []),
        "## Instructions",
        "",
        instructions,
        "",
    ])


def _start_section(start: str, result: str) -> list[str]:
    """The instructions the search started from, shown before the result's."""
    same = " (the result keeps them unchanged)" if start == result else ""
    return [f"## Starting instructions{same}", "", start, ""]
