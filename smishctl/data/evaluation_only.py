"""Which datasets are for evaluation only: scored whole (every item in `test`), never trained on.

Registry sets marked `all_test`, every file under datasets/golden/ and datasets/feedback/, and the
files matched by `[data].evaluation_only` in smishctl.toml (glob patterns relative to the project,
e.g. `["eval/*.csv"]`).

Such a file is scored against the task, not against itself: its label set is the task's (`--labels`,
else the default dataset's), so a file that lacks a label never narrows what a model may answer.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from smishctl.core.config import Settings
from smishctl.data.registry import DEFAULT_DATASET, REGISTRY

DECLARED_FOLDERS = ("golden", "feedback")


def is_evaluation_only(dataset: str, settings: Settings) -> bool:
    if dataset in REGISTRY:
        return REGISTRY[dataset].all_test
    if dataset.startswith("hf:"):
        return False
    path = Path(dataset).expanduser().resolve()
    for folder in DECLARED_FOLDERS:
        if path.is_relative_to((settings.datasets_dir / folder).resolve()):
            return True
    patterns = settings.raw.get("data", {}).get("evaluation_only") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    rel = path.relative_to(settings.root.resolve()).as_posix() if path.is_relative_to(settings.root.resolve()) else None
    return any(fnmatch.fnmatch(rel, p) if rel is not None else False for p in patterns) or any(
        fnmatch.fnmatch(str(path), p) for p in patterns if Path(p).is_absolute())


def task_labels(found: tuple[str, ...]) -> tuple[str, ...]:
    """The label set an evaluation-only file without `--labels` is scored on: the default dataset's
    labels, in their order, then any other label the file has (never fewer than the task's)."""
    task = REGISTRY[DEFAULT_DATASET].labels
    return tuple(task) + tuple(sorted(set(found) - set(task)))
