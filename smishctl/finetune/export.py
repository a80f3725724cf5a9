"""`finetune --export-only`: the training and validation data as OpenAI-style chat JSONL and as a
Hugging Face dataset, rendered exactly as `finetune` trains, for a model that lives behind an API."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from smishctl.core.errors import ConfigError
from smishctl.solve.label_chat import render_label_chat

FORMATS = ("openai",)


def chat_record(instructions: str, text: str, label: str) -> dict:
    return {"messages": [*render_label_chat(instructions, [], text), {"role": "assistant", "content": label}]}


def export_chat_data(out_dir: Path, fmt: str, instructions: str, splits: dict[str, list], meta: dict) -> dict:
    """Write <out>/train.jsonl, <out>/validation.jsonl, <out>/hf/ (datasets.save_to_disk) and
    export.json, staged in a hidden sibling folder and renamed: never half-written."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} already exists and is not empty", hint="pass a new folder with --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        counts = {}
        records = {}
        for split, examples in splits.items():
            rows = [chat_record(instructions, e.text, e.label) for e in examples]
            records[split] = rows
            counts[split] = len(rows)
            with open(staging / f"{split}.jsonl", "w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        import datasets

        datasets.disable_progress_bars()
        datasets.DatasetDict({s: datasets.Dataset.from_list(r) for s, r in records.items()}).save_to_disk(
            str(staging / "hf"))
        summary = {"format": fmt, "instructions": instructions, "counts": counts, **meta}
        (staging / "export.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
        return {"path": str(out_dir), **summary}
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
