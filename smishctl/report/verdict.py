"""The one-word outcome of a comparison, shared by the Markdown and HTML reports."""

from __future__ import annotations

NO_GATES = "no gates set"


def verdict(cmp: dict) -> str:
    """'passed' only when something was checked: a comparison without gates, checks or must-pass sets
    passed nothing, and a green 'passed' would read as an approval."""
    if cmp["exit_code"] == 0 and not (cmp["gates"] or cmp["checks"] or cmp["must_pass"]):
        return NO_GATES
    return {0: "passed", 1: "quality gate failed", 3: "too many errors"}.get(cmp["exit_code"], "failed")
