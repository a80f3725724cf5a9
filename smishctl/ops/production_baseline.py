"""Production as a baseline: its run on the same items as another run, for promote and compare alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import SmishError
from smishctl.core.records import RunRecord
from smishctl.ops.evaluate import EvalConfig, EvalPlan
from smishctl.ops.pairing import RunData
from smishctl.ops.run_source import RunSource
from smishctl.store.production import Release, verify_release
from smishctl.store.serving import production_serving


def _recorded_run(source: RunSource, current: Release) -> RunData | None:
    """The evaluation the release was promoted on, when it is still there, readable, and a run of what
    production serves now (an alias moved to another endpoint makes it evidence about another system)."""
    if not current.run:
        return None
    try:
        data = source.run_data(current.run)
        _spec, _adapter, serving = production_serving(verify_release(Path(current.dir or "")), source.settings)
        return data if data.record.serving == serving else None
    except (SmishError, OSError, ValueError):  # an inconsistent record too: it measured nothing known
        return None


def production_config(current: Release, like: dict[str, Any] | RunRecord) -> EvalConfig:
    """Production's prompt and model on exactly the items of run record `like` (same dataset, split, sample)."""
    c = RunRecord.of(like).config
    return EvalConfig(model=current.model_name, prompt="production", dataset=c.get("dataset"),
                      split=c.get("split", "test"), limit=c.get("limit"), balanced=bool(c.get("balanced")),
                      data_options=c.get("data_options") or {})


def production_baseline(settings: Settings, current: Release, like: dict[str, Any] | RunRecord | None, *,
                        dry_run: bool = False, on_start: Callable[[EvalPlan], None] | None = None,
                        on_item: Callable[[dict[str, Any]], None] | None = None,
                        on_reuse: Callable[[dict[str, Any]], None] | None = None,
                        source: RunSource | None = None) -> RunData | None:
    """Production's run on the items of run record `like`.

    `current` is the production release (smishctl.store.production.read_current). Its recorded run when
    that covers the same items (any recorded run when `like` is None); else production evaluated with
    `like`'s configuration, an identical earlier run reused. None when `like` is None and no run is
    recorded, or in a dry run that would have to evaluate. `source`: the command's run source."""
    source = source or RunSource(settings)
    recorded = _recorded_run(source, current)
    if recorded is not None and (like is None or
                                 recorded.record.items_hash == RunRecord.of(like).items_hash):
        return recorded
    if like is None:
        return None
    got = source.obtain(production_config(current, like), dry_run=dry_run, on_start=on_start, on_item=on_item)
    if got.record is None:
        return None
    if got.reused and on_reuse:
        on_reuse(got.record.to_dict())
    return source.run_data(got.record.id)
