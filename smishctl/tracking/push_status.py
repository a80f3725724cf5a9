"""What pushing a run to Langfuse (or marking it disabled) returns: a PushStatus, stored in run.json
under "langfuse" as its `to_dict()`.

Three shapes share the type, told apart by `status`: "pushed" (where the experiment is in Langfuse),
"pending" (why it failed; `smishctl push` retries) and "disabled" (why nothing was sent).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

Status = Literal["pushed", "pending", "disabled"]
# Written for a pushed run even when None (no project id: no links), as run.json has always held them.
_PUSHED_FIELDS = ("project_id", "dataset", "dataset_id", "experiment_id", "experiment_name", "url",
                  "dataset_run_url", "n_items", "n_items_created", "n_traces", "n_scores")


@dataclass(frozen=True)
class PushStatus:
    """The Langfuse status of one run. Field order is run.json's key order."""

    status: Status
    host: str | None = None
    # pending
    error: str | None = None
    attempted_at: str | None = None
    # disabled
    reason: str | None = None
    # pushed
    project_id: str | None = None
    dataset: str | None = None
    dataset_id: str | None = None
    experiment_id: str | None = None
    experiment_name: str | None = None
    url: str | None = None
    dataset_run_url: str | None = None
    n_items: int | None = None
    n_items_created: int | None = None
    n_traces: int | None = None
    n_scores: int | None = None
    pushed_at: str | None = None

    @property
    def pushed(self) -> bool:
        return self.status == "pushed"

    def to_dict(self) -> dict[str, Any]:
        """run.json's "langfuse" entry: the fields that are set, and every experiment field of a pushed run."""
        keep = set(_PUSHED_FIELDS) if self.pushed else set()
        return {f.name: value for f in fields(self)
                if (value := getattr(self, f.name)) is not None or f.name in keep}
