"""What the library tells the outside world while it works, as methods a hooks object overrides.

The library calls these at the moments they name (smishctl.ops.hooks.safe_call: a hook that raises
is one warning line, never a failed run). Every method here does nothing, so a hooks class defines
only the events it cares about. A method may return a JSON-serialisable dict: the library records
it under the hooks' `name` in what the event is about (the run record, the artifact manifest, the
promotion result).
"""

from __future__ import annotations

from typing import Any


class RunHooks:
    """No-op hooks; subclass and override the events you need."""

    name: str | None = None  # where returned dicts are recorded; None: nothing is recorded

    def run_finished(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """An evaluation finished and its run is written (runs/<record["id"]>/); compare calls it
        for the runs it evaluated."""

    def optimization_started(self, optimization_id: str, metadata: dict[str, Any]) -> None:
        """An optimization starts: optimizer, params, model, dataset, seed."""

    def trial_scored(self, optimization_id: str, trial: dict[str, Any]) -> None:
        """A candidate was scored: {"trial": n, "score", "candidate", "metrics"?, "split"?,
        "duration_s"?, "model"?}. Trial 0 is the zero-shot baseline, the last one the result. May be
        called from the optimizer's threads: keep it short and thread-safe."""

    def optimization_finished(self, optimization_id: str) -> dict[str, Any] | None:
        """The optimization's artifact is about to be written (its manifest records the return value)."""

    def artifact_promoted(self, artifact_id: str) -> dict[str, Any] | None:
        """`artifact_id` is now in production."""

    def artifact_rolled_back(self, artifact_id: str) -> dict[str, Any] | None:
        """Production went back to `artifact_id`."""
