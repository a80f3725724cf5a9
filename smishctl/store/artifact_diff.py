"""A flat, comparable description of an artifact (for `prompts diff`)."""

from __future__ import annotations

from typing import Any

from smishctl.solve.signature import DEFAULT_INSTRUCTIONS, KNN_INSTRUCTIONS
from smishctl.store.artifacts import PROGRAM, Artifact
from smishctl.util.fs import read_json


def describe(art: Artifact) -> dict[str, Any]:
    if art.is_zero_shot:
        return {"id": art.id, "model": "-", "optimizer": "zero-shot", "dev macro-F1": "-",
                "instructions": DEFAULT_INSTRUCTIONS, "demos": "none"}
    m = art.manifest
    state = read_json(art.folder / PROGRAM)
    if state.get("kind") == "knn":
        instructions = state.get("instructions") or KNN_INSTRUCTIONS
        demos = f"kNN: {state['k']} nearest of a pool of {len(state['pool'])}"
    else:
        # A Predict program's dump holds signature and demos at the top; a multi-predictor dump, per predictor.
        pred = state if "signature" in state else next(
            iter(v for v in state.values() if isinstance(v, dict) and "demos" in v), {})
        instructions = pred.get("signature", {}).get("instructions", DEFAULT_INSTRUCTIONS)
        demos = "\n".join(f"[{d.get('label')}] {str(d.get('sms'))[:70]}" for d in pred.get("demos", [])) or "none"
    opt = m.get("optimizer", {})
    f1 = m.get("dev_metrics", {}).get("optimized", {}).get("macro_f1")
    how = [str(opt.get("name") or "?")]
    if opt.get("params"):  # a hand-written version has neither params nor a seed
        how.append(str(opt["params"]))
    if opt.get("seed") is not None:
        how.append(f"seed {opt['seed']}")
    return {"id": art.id, "model": m.get("model", {}).get("name", "?"), "optimizer": " ".join(how),
            "dev macro-F1": "-" if f1 is None else f"{f1:.3f}", "instructions": instructions, "demos": demos}
