"""Where compared runs come from: run ids/paths, models to evaluate (or reuse), production."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError
from smishctl.data.evaluation_only import is_evaluation_only
from smishctl.data.registry import DEFAULT_DATASET, REGISTRY
from smishctl.models.registry import CLASSIC_PREFIX
from smishctl.ops.evaluate import EvalConfig, EvalPlan
from smishctl.ops.pairing import RunData
from smishctl.ops.production import served_system
from smishctl.ops.production_baseline import production_baseline
from smishctl.ops.run_source import RunSource
from smishctl.store.artifacts import resolve_artifact
from smishctl.store.production import read_current

# Added to every `compare --models` (unless a classic model is named): a linear model and plain
# retrieval, so that any gain of a prompt over what TF-IDF neighbours already give is visible.
CLASSIC_BASELINES = ("classic/tfidf-svm", "classic/tfidf-knn")


def split_list(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def runs_from_models(settings: Settings, models: list[str], prompts: list[str], *, dataset: str | None = None,
                     split: str = "test", limit: int | None = None, balanced: bool = False, threads: int = 1,
                     include_classic: bool = True, data_options: dict[str, Any] | None = None,
                     on_start: Callable[[EvalPlan], None] | None = None,
                     on_item: Callable[[dict[str, Any]], None] | None = None,
                     on_reuse: Callable[[dict[str, Any]], None] | None = None, evaluation_only: bool = False, train_dataset: str | None = None,
                     source: RunSource | None = None) -> list[RunData]:
    """Evaluate every model x prompt on the same items (reusing identical runs); add the classic baselines.
    `source`: the command's run source (smishctl.ops.run_source), so that each dataset is loaded once."""
    source = source or RunSource(settings)

    combos: list[tuple[str, str]] = []
    for m in models:
        for p in (["zero-shot"] if m.startswith(CLASSIC_PREFIX) else prompts or ["zero-shot"]):
            if (m, p) not in combos:
                combos.append((m, p))
    auto_classic = include_classic and not any(m.startswith(CLASSIC_PREFIX) for m, _ in combos)
    if auto_classic:
        combos += [(m, "zero-shot") for m in CLASSIC_BASELINES]

    if train_dataset is None and (evaluation_only or is_evaluation_only(dataset or DEFAULT_DATASET, settings)):
        train_dataset = _optimized_on(settings, [p for _, p in combos])
    out: list[RunData] = []
    for model, prompt in combos:
        classic = model.startswith(CLASSIC_PREFIX)
        cfg = EvalConfig(model=model, prompt=prompt, dataset=dataset, split=split, limit=limit,
                         balanced=balanced, threads=threads, data_options=dict(data_options or {}),
                         evaluation_only=evaluation_only, train_dataset=train_dataset if classic else None)
        got = source.obtain(cfg, on_start=on_start, on_item=on_item)
        assert got.record is not None  # obtain evaluates unless asked for a dry run
        if got.reused and on_reuse:
            on_reuse(got.record.to_dict())
        rd = source.run_data(got.record.id)
        if auto_classic and model in CLASSIC_BASELINES:
            rd.role = "reference"
        out.append(rd)
    return out


def _optimized_on(settings: Settings, prompts: list[str]) -> str | None:
    """The dataset the compared artifact was optimized on (a classic baseline learns there when the
    evaluated file is evaluation-only); None for zero-shot or several datasets."""

    names = set()
    for p in prompts:
        art = resolve_artifact(settings.prompts_dir, p)
        if not art.is_zero_shot:
            names.add(art.info.dataset_name)
    name = names.pop() if len(names) == 1 else None
    return name if name in REGISTRY else None


def production_run(settings: Settings, like: RunData | None, *, on_start: Callable[[EvalPlan], None] | None = None,
                   on_item: Callable[[dict[str, Any]], None] | None = None,
                   on_reuse: Callable[[dict[str, Any]], None] | None = None,
                   source: RunSource | None = None) -> RunData:
    """The production prompt's run on the same items as `like` (evaluated if there is none yet)."""

    current = read_current(settings)
    if current is None:
        raise ConfigError("--baseline production: nothing is in production yet", hint="promote an artifact first")
    served_system(settings, current)  # production is what was promoted: a moved alias is not its baseline
    rd = production_baseline(settings, current, like.record if like is not None else None,
                             on_start=on_start, on_item=on_item, on_reuse=on_reuse, source=source)
    if rd is None:
        raise ConfigError("--baseline production: the production run is missing",
                          hint="pass a run to compare against, or re-promote")
    return rd
