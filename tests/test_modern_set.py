"""The project's modern SMS set (`--dataset modern`): evaluation-only, every class scoreable, every
row in a campaign the labelling guide defines, a template never mixes labels or campaigns, and it is
not a copy of the must-pass or robustness sets."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

from smishctl.data.fetch import BUNDLED_DIR
from smishctl.data.prepare import load_dataset_splits

MODERN = BUNDLED_DIR / "modern" / "modern_sms.csv"
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "labelling.md"


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


def test_rows_carry_template_and_locale_and_a_template_is_one_label_and_one_campaign():
    rows = _rows()
    assert all(r["template"].strip() and r["locale"].strip() for r in rows)
    seen: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        seen.setdefault(r["template"], set()).add((r["label"], r["campaign"]))
    split = {t: sorted(v) for t, v in seen.items() if len(v) > 1}
    assert not split, f"templates that mix labels or campaigns: {split}"
    assert len({r["locale"] for r in rows}) >= 7


def _documented_campaigns() -> dict[str, set[str]]:
    """label -> the campaign names the labelling guide defines for it ("- `name`: definition" lines
    under "Smishing campaigns:", "Spam topics:" and "Ham topics:")."""
    text = GUIDE.read_text(encoding="utf-8").split("## Campaigns and topics", 1)[1].split("\n## ", 1)[0]
    groups: dict[str, set[str]] = {}
    label = None
    for line in text.splitlines():
        heading = re.fullmatch(r"(Smishing|Spam|Ham) (?:campaigns|topics):", line.strip())
        if heading:
            label = heading.group(1).lower()
            groups[label] = set()
        elif (m := re.match(r"- `([a-z0-9-]+)`: \S", line)) and label:
            groups[label].add(m.group(1))
    return groups


def test_every_row_has_a_campaign_the_labelling_guide_defines_for_its_label():
    documented = _documented_campaigns()
    assert set(documented) == {"smishing", "spam", "ham"}
    assert 8 <= len(documented["smishing"]) <= 14, documented["smishing"]
    prefix = {"smishing": "", "spam": "spam-", "ham": "ham-"}
    for label, names in documented.items():  # spam and ham topics never pass for a scam campaign
        assert all(n.startswith(prefix[label]) if prefix[label] else not n.startswith(("spam-", "ham-"))
                   for n in names), (label, names)
    rows = _rows()
    undocumented = [(r["label"], r["campaign"], r["text"][:40]) for r in rows
                    if r["campaign"] not in documented[r["label"]]]
    assert not undocumented, undocumented[:5]
    used = {(r["label"], r["campaign"]) for r in rows}
    unused = sorted((label, n) for label, names in documented.items() for n in names if (label, n) not in used)
    assert not unused, f"defined in the guide but on no row: {unused}"


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
