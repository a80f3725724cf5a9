"""The project's modern SMS set (`--dataset modern`): evaluation-only, every class scoreable, its
templates never mix labels, and it is not a copy of the must-pass or robustness sets."""

from __future__ import annotations

import csv
import json
from collections import Counter
from difflib import SequenceMatcher

from smishctl.data.fetch import BUNDLED_DIR
from smishctl.data.prepare import load_dataset_splits

MODERN = BUNDLED_DIR / "modern" / "modern_sms.csv"


def _rows() -> list[dict]:
    with open(MODERN, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_it_loads_whole_as_an_evaluation_only_dataset(settings):
    ds = load_dataset_splits("modern", settings)
    assert ds.provenance.get("evaluation_only") and not ds.split("train") and not ds.split("dev")
    test = ds.split("test")
    assert len(test) == len(_rows()) >= 240
    counts = Counter(ex.label for ex in test)
    assert set(counts) == {"ham", "spam", "smishing"} and min(counts.values()) >= 60, counts


def test_rows_carry_template_and_locale_and_templates_never_mix_labels():
    rows = _rows()
    assert all(r["template"].strip() and r["locale"].strip() for r in rows)
    labels_of: dict[str, set[str]] = {}
    for r in rows:
        labels_of.setdefault(r["template"], set()).add(r["label"])
    assert all(len(v) == 1 for v in labels_of.values())
    assert len({r["locale"] for r in rows}) >= 7


def test_it_is_not_a_copy_of_the_must_pass_or_robustness_sets():
    with open(BUNDLED_DIR / "golden" / "smishing-basics.csv", encoding="utf-8", newline="") as fh:
        others = [r["text"] for r in csv.DictReader(fh)]
    with open(BUNDLED_DIR / "robustness" / "injection.jsonl", encoding="utf-8") as fh:
        others += [json.loads(line)["text"] for line in fh if line.strip()]
    def too_close(a: str, b: str) -> bool:  # ratio() >= 0.8; the cheap upper bounds rule most pairs out first
        m = SequenceMatcher(None, a.casefold(), b.casefold())
        return m.real_quick_ratio() >= 0.8 and m.quick_ratio() >= 0.8 and m.ratio() >= 0.8

    close = [(a, b) for a in (r["text"] for r in _rows()) for b in others if too_close(a, b)]
    assert not close, close[:3]
