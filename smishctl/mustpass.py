"""Must-pass checks: run the model and prompt of a run on a must-pass set; every miss is reported.

The set is evaluated like any dataset (evaluation-only, so scored whole), reusing a run of identical
configuration, so a CI job pays for it once. An item that failed with an error is not a pass: a
must-pass message has to be shown to be classified right.
"""

from __future__ import annotations

from smishctl.config import Settings
from smishctl.data.golden import GoldenSet


def golden_config(record: dict, golden: GoldenSet):
    """The evaluation of `record`'s model and prompt on the must-pass set."""
    from smishctl.evaluate import EvalConfig

    c = record.get("config") or {}
    ds = record.get("dataset") or {}
    model_labels = tuple(ds.get("model_labels") or ds.get("labels") or ())
    train = (ds.get("train_dataset") or {}).get("dataset") or c.get("train_dataset")
    if train is None and not (ds.get("provenance") or {}).get("evaluation_only"):
        train = c.get("dataset")  # a classic model learns where the compared run's model learned
    return EvalConfig(model=c.get("model") or (record.get("model") or {}).get("name"),
                      prompt=c.get("prompt") or (record.get("prompt") or {}).get("id") or "zero-shot",
                      dataset=str(golden.path), split="test", evaluation_only=True, train_dataset=train,
                      threads=c.get("threads", 1), harden=c.get("harden", True),
                      data_options={"labels": model_labels} if model_labels else {})


def result(golden: GoldenSet, run_id: str, golden_record: dict, rows: list[dict]) -> dict:
    by_id = {r["item_id"]: r for r in rows}
    cases = []
    for it in golden.items:
        row = by_id.get(it["id"]) or {"status": "missing", "pred": None}
        ok = row.get("status") == "ok" and row.get("pred") == it["label"]
        got = row.get("pred") if row.get("status") == "ok" else f"<{row.get('status')}>"
        cases.append({"id": it["id"], "text": it["text"], "expected": it["label"], "predicted": got,
                      "probs": row.get("probs"), "note": it["note"], "passed": ok})
    missed = [c for c in cases if not c["passed"]]
    return {"set": golden.name, "path": str(golden.path), "run": run_id, "golden_run": golden_record["id"],
            "model": (golden_record.get("model") or {}).get("name"),
            "prompt": (golden_record.get("prompt") or {}).get("id"),
            "n": len(cases), "n_passed": len(cases) - len(missed), "passed": not missed, "cases": cases}


def check_record(settings: Settings, record: dict, golden: GoldenSet, *, on_start=None, on_item=None) -> dict:
    from smishctl.reuse import find_or_evaluate
    from smishctl.runs import open_run

    cfg = golden_config(record, golden)
    golden_record, _ = find_or_evaluate(settings, cfg, on_start=on_start, on_item=on_item)
    rows = open_run(settings.runs_dir, golden_record["id"]).predictions()
    return result(golden, record["id"], golden_record, rows)


def summary_line(res: dict) -> str:
    missed = res["n"] - res["n_passed"]
    return (f"must-pass {res['set']}: {res['n_passed']}/{res['n']} passed"
            + (f", {missed} missed" if missed else "") + f" ({res['model']} · {res['prompt']})")


def miss_line(case: dict) -> str:
    text = case["text"] if len(case["text"]) <= 90 else case["text"][:87] + "..."
    note = f" [{case['note']}]" if case["note"] else ""
    return f"expected {case['expected']}, got {case['predicted']}{note}: {text}"


def policy_checks(settings: Settings, record: dict, names: list[str]) -> list[dict]:
    """`[promotion] must_pass = [...]`: one promotion check per set, failed by any miss."""
    from smishctl.data.golden import load_golden

    checks = []
    for name in names:
        res = check_record(settings, record, load_golden(settings, name))
        missed = [miss_line(c) for c in res["cases"] if not c["passed"]]
        checks.append({"name": f"must_pass:{res['set']}", "passed": res["passed"], "value": res["n_passed"],
                       "threshold": res["n"], "golden_run": res["golden_run"],
                       "detail": summary_line(res) + ("; " + "; ".join(missed[:5]) if missed else "")})
    return checks
