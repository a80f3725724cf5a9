"""Check the modern training pool (smishctl/bundled/modern/modern_train.csv) before it is committed.

  .venv/bin/python datasets/modern/check_train.py [FILE]

Checks: the CSV parses with its six columns, labels are ham/spam/smishing, no text is empty or repeated
(case-folded), a template holds 1-3 rows of one label and one campaign, no template id or smishing
campaign is shared with the evaluation file (modern_sms.csv, when it has a campaign column), and no row
is a near-copy of an evaluation row by the project's own leak rule (smishctl.data.leaks.near_copies:
an equal template key, or masked word TF-IDF cosine at the template threshold). The test suite runs
the same `problems` (tests/test_modern_train.py).
Prints the counts per label, locale and campaign; exits 1 on any problem.
"""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from smishctl.data.leaks import near_copies  # noqa: E402

BUNDLED = REPO / "smishctl" / "bundled" / "modern"
COLUMNS = ["text", "label", "template", "campaign", "locale", "note"]
LABELS = {"ham", "spam", "smishing"}
LOCALES = {"US", "UK", "IN", "PH", "AU", "CA", "NG"}
LINK = re.compile(r"https?://|\b[\w-]+(?:\.[\w-]+)*\.(?:[a-z]{2,6})(?:/\S*)?(?=[\s,.!?)]|$)", re.IGNORECASE)


def read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def problems(rows: list[dict], columns: list[str], evaluation: list[dict]) -> list[str]:
    out = []
    if columns != COLUMNS:
        out.append(f"columns {columns}, expected {COLUMNS}")
    seen: dict[str, int] = {}
    by_template: dict[str, list[dict]] = defaultdict(list)
    for n, r in enumerate(rows, 2):
        if None in r or any(r.get(c) is None for c in COLUMNS):
            out.append(f"line {n}: wrong number of fields")
            continue
        if any(not r[c].strip() for c in COLUMNS):
            out.append(f"line {n}: an empty field")
        if r["label"] not in LABELS:
            out.append(f"line {n}: label {r['label']!r}")
        if r["locale"] not in LOCALES:
            out.append(f"line {n}: locale {r['locale']!r}")
        prefix = {"ham": "hm-", "spam": "sp-", "smishing": "sm-"}.get(r["label"], "")
        if not r["template"].startswith(prefix):
            out.append(f"line {n}: template {r['template']!r} does not start with {prefix}")
        key = " ".join(r["text"].casefold().split())
        if key in seen:
            out.append(f"line {n}: same text as line {seen[key]}")
        seen[key] = n
        by_template[r["template"]].append(r)
    for t, rs in by_template.items():
        if len(rs) > 3 or len({r["label"] for r in rs}) > 1 or len({r["campaign"] for r in rs}) > 1:
            out.append(f"template {t}: {len(rs)} rows, labels {sorted({r['label'] for r in rs})}, "
                       f"campaigns {sorted({r['campaign'] for r in rs})}")
    shared = sorted(set(by_template) & {r["template"] for r in evaluation})
    if shared:
        out.append(f"template ids also in the evaluation file: {shared}")
    eval_campaigns = {r.get("campaign") for r in evaluation if r["label"] == "smishing"} - {None, ""}
    shared = sorted({r["campaign"] for r in rows if r["label"] == "smishing"} & eval_campaigns)
    if shared:
        out.append(f"smishing campaigns also in the evaluation file: {shared}")
    texts, others = [r["text"] for r in rows], [r["text"] for r in evaluation]
    for i in near_copies(texts, others).learned.nonzero()[0]:
        out.append(f"line {i + 2} is a near-copy of an evaluation row (template rule): {texts[i][:70]!r}")
    return out


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else BUNDLED / "modern_train.csv"
    columns, rows = read(path)
    _, evaluation = read(BUNDLED / "modern_sms.csv")
    found = problems(rows, columns, evaluation)
    print(f"{len(rows)} rows; labels {dict(sorted(Counter(r['label'] for r in rows).items()))}; "
          f"templates {len({r['template'] for r in rows})}")
    print("locales", dict(sorted(Counter((r["locale"], r["label"]) for r in rows).items())))
    print("campaigns", dict(sorted(Counter(r["campaign"] for r in rows if r["label"] == "smishing").items())))
    print("with a link", {lab: sum(bool(LINK.search(r["text"])) for r in rows if r["label"] == lab)
                          for lab in sorted(LABELS)})
    for p in found:
        print("PROBLEM:", p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
