"""Short names for the runs of a comparison, so that column headers stay narrow; every report prints a
legend that maps each short name back to the whole run id, model and prompt."""

from __future__ import annotations

import string

from smishctl.core.comparison import Comparison


def letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the i-th run of a report."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = string.ascii_uppercase[r] + out
    return out


def letter_refs(cmp: Comparison) -> dict[str, str]:
    """Run id -> A, B, C… in the comparison's run order."""
    return {r.id: letter(i) for i, r in enumerate(cmp.runs)}


def run_refs(cmp: Comparison, known: dict[str, str]) -> dict[str, str]:
    """Run id -> the reference `known` gives it (the short ref `runs list` prints, which can be pasted
    into any command), else its letter (a run read from a folder outside the store)."""
    taken = set(known.values())
    out = {}
    for i, r in enumerate(cmp.runs):
        ref = known.get(r.id) or letter(i)
        while ref in taken and known.get(r.id) != ref:
            ref += "'"  # a letter some stored run's short ref already is
        out[r.id] = ref
        taken.add(ref)
    return out


def resolved(typed: str, short: str, model: str, status: str, n_rows: int) -> str:
    """What a reference the user typed resolved to, for errors about several runs:
    'latest~1 = a3f2 (gpt-4o-mini, aborted, 0 items)'; the typed name is left out when it is the short ref."""
    state = "" if status == "complete" else f"{status}, "
    head = f"{typed} = {short}" if typed and typed != short else short
    return f"{head} ({model}, {state}{n_rows} items)"
