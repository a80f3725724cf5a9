"""The Langfuse hooks of the library (smishctl.core.hooks.RunHooks): evaluation runs become
experiments, an optimization a session of trial traces, a promotion or rollback moves the
`production` prompt label. What they return is recorded under "langfuse" (run.json, manifest,
promotion result) by the library; nothing here raises for Langfuse trouble.
"""

from __future__ import annotations

import threading

from smishctl.core.config import Settings
from smishctl.core.errors import SmishError
from smishctl.core.hooks import RunHooks
from smishctl.core.records import RunRecord
from smishctl.store.runs import open_run
from smishctl.tracking.optimization import OptimizationTracker, start_optimization
from smishctl.tracking.prompts import publish_prompt, rollback_prompt
from smishctl.tracking.push import set_status, track_run
from smishctl.tracking.push_status import PushStatus

NAME = "langfuse"


class LangfuseHooks(RunHooks):
    """Sends what happens to the Langfuse configured for the project (see tracking.settings)."""

    name = NAME

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._optimizations: dict[str, OptimizationTracker] = {}  # freed by optimization_finished
        self._lock = threading.Lock()

    def run_finished(self, record: dict | RunRecord) -> dict:
        return track_run(self.settings, RunRecord.of(record).id).to_dict()

    def optimization_started(self, optimization_id: str, metadata: dict) -> None:
        tracker = start_optimization(self.settings, optimization_id, metadata=metadata)
        with self._lock:
            self._optimizations[optimization_id] = tracker

    def trial_scored(self, optimization_id: str, trial: dict) -> None:
        with self._lock:
            tracker = self._optimizations.get(optimization_id)
        if tracker is not None:
            tracker.trace_trial(**trial)

    def optimization_finished(self, optimization_id: str) -> dict | None:
        with self._lock:
            tracker = self._optimizations.pop(optimization_id, None)
        return tracker.finish() if tracker is not None else None

    def artifact_promoted(self, artifact_id: str) -> dict:
        return self._label(publish_prompt, artifact_id)

    def artifact_rolled_back(self, artifact_id: str) -> dict:
        return self._label(rollback_prompt, artifact_id)

    def _label(self, move, artifact_id: str) -> dict:
        try:
            return move(self.settings, artifact_id)
        except SmishError as exc:  # e.g. an artifact without a rendered prompt: `push --production` retries
            return {"status": "pending", "error": exc.one_line()}


class LangfuseOff(RunHooks):
    """Langfuse is off or not configured: nothing is sent, and what is recorded says why (so that
    `smishctl push --all` can still find the runs that were never sent)."""

    name = NAME

    def __init__(self, settings: Settings, reason: str) -> None:
        self.settings = settings
        self.reason = reason

    def run_finished(self, record: dict | RunRecord) -> dict:
        run = open_run(self.settings.runs_dir, RunRecord.of(record).id)
        return set_status(run, PushStatus(status="disabled", reason=self.reason)).to_dict()

    def optimization_finished(self, optimization_id: str) -> dict:
        return OptimizationTracker(optimization_id, None, reason=self.reason).finish()

    def artifact_promoted(self, artifact_id: str) -> dict:
        return self._disabled()

    def artifact_rolled_back(self, artifact_id: str) -> dict:
        return self._disabled()

    def _disabled(self) -> dict:
        return {"status": "disabled", "reason": self.reason}
