"""Pull user feedback from Langfuse: categorical scores (default name `user_label`, e.g. set by
annotators in the UI or by the product's "report this message" button) on production traces, with
the message read from each trace's root observation input. Public API through the SDK only."""

from __future__ import annotations

from typing import Any

from smishctl.core.config import Settings
from smishctl.core.errors import ConfigError, SmishError
from smishctl.tracking.client import PushError, session
from smishctl.tracking.settings import langfuse_settings

DEFAULT_SCORE = "user_label"
TEXT_KEYS = ("sms", "text", "message", "input")


def message_of(value) -> str | None:
    """The SMS in an observation input: a string, or the first text field of an object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in TEXT_KEYS:
            if isinstance(value.get(key), str):
                return value[key]
    return None


def pull_reports(settings: Settings, *, score_name: str = DEFAULT_SCORE, max_scores: int = 10_000) -> tuple[list[dict], dict]:
    """(reports as {text, label, note, source}, counts of what was skipped and why)."""

    lf = langfuse_settings(settings)
    if lf is None:
        raise ConfigError("Langfuse is not configured",
                          hint="set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (see docs/langfuse.md)")
    reports: list[dict] = []
    skipped = {"not_categorical": 0, "no_trace": 0, "no_message": 0}
    try:
        with session(lf) as s:
            cursor, seen = None, 0
            while seen < max_scores:
                page = s.call("GET scores", s.api.scores.get_many, name=score_name, limit=100, cursor=cursor)
                for score in page.data:
                    seen += 1
                    if not isinstance(getattr(score, "value", None), str):
                        skipped["not_categorical"] += 1
                        continue
                    subject: Any = getattr(score, "subject", None)
                    trace_id = getattr(subject, "trace_id", None) or (
                        subject.id if getattr(subject, "kind", None) == "trace" else None)
                    if not trace_id:
                        skipped["no_trace"] += 1
                        continue
                    obs = s.call("GET observations", s.api.observations.get_many, trace_id=trace_id,
                                 is_root_observation=True, fields="core,basic,io")
                    text = next((m for o in obs.data if (m := message_of(o.input))), None)
                    if not text:
                        skipped["no_message"] += 1
                        continue
                    reports.append({"text": text, "label": score.value.strip().lower(),
                                    "note": score.comment or "", "source": f"langfuse:{trace_id}"})
                cursor = getattr(page.meta, "cursor", None)
                if not cursor:
                    break
    except PushError as exc:
        raise SmishError(f"Langfuse feedback could not be read: {exc}",
                         hint="check LANGFUSE_BASE_URL and the keys; nothing was written", exit_code=3) from None
    return reports, skipped
