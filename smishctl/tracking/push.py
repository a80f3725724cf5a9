"""Send a recorded run (run.json + predictions.jsonl) to Langfuse as an experiment.

Everything is derived from the files of the run, never from live callbacks, so the same code serves
`smishctl evaluate` right after a run and `smishctl push` days later. Every id is deterministic
(dataset item = <dataset>-<split>-<item_id>, trace = hash(run id, item id), observations and
scores = hash(trace, role)), so pushing twice updates the same objects instead of duplicating them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smishctl.core.errors import ConfigError
from smishctl.core.records import Prediction, RunRecord
from smishctl.core.version import __version__
from smishctl.solve.signature import make_program
from smishctl.store.artifacts import PROMPT, SMS_PLACEHOLDER, resolve_artifact
from smishctl.store.programs import render_messages
from smishctl.store.runs import Run, list_runs, open_run, short_ref
from smishctl.tracking.client import LangfuseSession, PushError, observation_id_for, one_line, trace_id_for
from smishctl.tracking.push_status import PushStatus
from smishctl.tracking.settings import LangfuseSettings, disabled_reason, langfuse_settings
from smishctl.util.fs import read_json
from smishctl.util.redact import redact_obj

PUSHABLE = ("complete", "aborted")
ITEM_WORKERS = 8
FLUSH_EVERY = 200  # items: keeps the SDK's span queue (2048) from overflowing on big runs
ERROR_LABEL = "<error>"
INVALID_LABEL = "<invalid>"
# Run-level scores: (score name, metric name), sent when the run has the metric.
RUN_SCORES = (("accuracy", "accuracy"), ("macro_f1", "macro_f1"), ("error_rate", "error_rate"),
              ("invalid_rate", "invalid_rate"))
# push's progress: (step, done, total), step "dataset items" (the new ones created) then "traces"
OnItem = Callable[[str, int, int], None]


@dataclass(frozen=True)
class _Dataset:
    """The Langfuse dataset of a run's split: its name, its id there, and how many items this push created."""

    name: str
    id: str
    created: int


# -- ids ------------------------------------------------------------------------------------------
def dataset_name(record: dict | RunRecord) -> str:
    """The Langfuse dataset holding a run's split, e.g. 'sms-phishing-test'."""
    rec = RunRecord.of(record)
    return f"{rec.dataset_name}-{rec.split}"


def dataset_item_id(record: dict | RunRecord, item_id: str) -> str:
    """Our item_id hashes the normalised text; Langfuse item ids are unique per project, and the
    same text is in several registry datasets, so the dataset and split prefix it."""
    return f"{dataset_name(record)}-{item_id}"


def item_trace_id(run_id: str, item_id: str) -> str:
    return trace_id_for(f"smishctl/{run_id}/{item_id}")


# -- run.json bookkeeping ----------------------------------------------------------------------
def set_status(run: Run, status: PushStatus) -> PushStatus:
    """Record the Langfuse status of a run in run.json (under "langfuse", as its dict), atomically."""
    record = run.record()
    record.extra["langfuse"] = status.to_dict()
    run.write(record)
    return status


def experiment_link(record: dict | RunRecord) -> str | None:
    """The Langfuse experiment URL of a pushed run (for `compare`), else None."""
    pushed = RunRecord.of(record).langfuse
    return pushed.get("url") if pushed.get("status") == "pushed" else None


def track_run(settings, run: Run | str, *, enabled: bool = True) -> PushStatus:
    """After an evaluation: push the run if Langfuse is configured, else mark it disabled.

    Never raises for Langfuse trouble: returns the status stored as run.json's new "langfuse" entry,
    "pushed", "pending" (see `error`; `smishctl push` retries) or "disabled" (see `reason`).
    """
    if isinstance(run, str):
        run = open_run(settings.runs_dir, run)
    try:
        lf = langfuse_settings(settings, enabled=enabled)
    except ConfigError as exc:  # a broken [langfuse] section must not fail the evaluation
        return set_status(run, PushStatus(status="pending", error=exc.one_line(), attempted_at=_now_iso()))
    if lf is None:
        return set_status(run, PushStatus(status="disabled", reason=disabled_reason(settings, enabled=enabled)))
    return push_run(settings, run, lf=lf)


def push_run(settings, run: Run, *, lf: LangfuseSettings | None = None, timeout: float | None = None,
             on_item: OnItem | None = None) -> PushStatus:
    """Push one run to Langfuse; return (and store in run.json) its status entry. `on_item(step, done,
    total)` follows the dataset items as they are created, then the traces as they are built.

    Raises ConfigError only when Langfuse is not configured or the run cannot be pushed (not
    finished); a server that refuses, rejects or does not answer gives status "pending" within
    `push_timeout` seconds (or `timeout`).
    """
    lf = lf or langfuse_settings(settings)
    if lf is None:
        raise ConfigError("Langfuse is not configured",
                          hint="set LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_BASE_URL (see docs/langfuse.md)")
    if timeout is not None:
        from dataclasses import replace

        lf = replace(lf, push_timeout=timeout, timeout=min(lf.timeout, timeout))
    record = run.record()
    if record.status not in PUSHABLE:
        raise ConfigError(f"run {run.id} is {record.status}, not finished",
                          hint=f"finish it first: smishctl evaluate --resume {short_ref(settings.runs_dir, run.id)}")
    rows = [Prediction.from_dict(row, where=f"run {run.id}") for row in run.predictions()]
    attempted = _now_iso()
    try:
        status = _push(settings, lf, record, rows, on_item or (lambda step, done, total: None))
    except PushError as exc:
        status = PushStatus(status="pending", host=lf.host, error=redact_obj(str(exc))[:300], attempted_at=attempted)
    except Exception as exc:  # noqa: BLE001 - an SDK surprise must not fail the command
        status = PushStatus(status="pending", host=lf.host, error=redact_obj(one_line(exc)), attempted_at=attempted)
    return set_status(run, status)


def pending_runs(settings, *, include_unpushed: bool = False) -> list[Run]:
    """Finished runs whose push is pending (evaluated while Langfuse was unreachable); with
    include_unpushed, also those never sent (made with Langfuse off or before it was configured)."""

    wanted = {"pending"} | ({None, "disabled"} if include_unpushed else set())
    out = []
    for run in list_runs(settings.runs_dir):
        record = run.record()
        if record.langfuse.get("status") in wanted and record.status in PUSHABLE:
            out.append(run)
    return out


# -- the push itself -----------------------------------------------------------------------------
def _push(settings, lf: LangfuseSettings, record: RunRecord, rows: list[Prediction], on_item: OnItem) -> PushStatus:
    deadline = time.monotonic() + lf.push_timeout
    with LangfuseSession(lf) as s:
        project_id = s.project_id(deadline)
        ds = _upsert_dataset(s, record, rows, deadline, on_item)
        experiment_id = s.client._create_experiment_id(project_id=project_id, dataset_id=ds.id,
                                                        run_name=record.id)
        template = message_template(settings, record)
        scores: list[dict] = []
        n_spans = 0
        timeline = _timeline(record, rows)
        for start in range(0, len(rows), FLUSH_EVERY):
            for i, (row, (t_start, t_end)) in enumerate(zip(rows[start:start + FLUSH_EVERY],
                                                            timeline[start:start + FLUSH_EVERY], strict=False)):
                n_spans += _trace_item(s, record, row, template, experiment_id, ds.id, t_start, t_end)
                scores.extend(item_scores(record, row, t_end))
                on_item("traces", start + i + 1, len(rows))
            s.flush_spans(n_spans, deadline)
        scores.extend(run_scores(record, experiment_id))
        n_scores = s.send_scores(scores, deadline)
    base = lf.host
    url = (f"{base}/project/{project_id}/experiments/results?baseline={experiment_id}" if project_id else None)
    return PushStatus(
        status="pushed", host=lf.host, project_id=project_id, dataset=ds.name, dataset_id=ds.id,
        experiment_id=experiment_id, experiment_name=record.id, url=url,
        dataset_run_url=(f"{base}/project/{project_id}/datasets/{ds.id}/runs/{experiment_id}"
                         if project_id else None),
        n_items=len(rows), n_items_created=ds.created, n_traces=len(rows), n_scores=n_scores,
        pushed_at=_now_iso())


def _upsert_dataset(s: LangfuseSession, record: RunRecord, rows: list[Prediction], deadline: float,
                    on_item: OnItem) -> _Dataset:
    name = dataset_name(record)
    ds_name, split = record.dataset_name, record.split
    meta = {"smishctl_dataset": ds_name, "split": split, "labels": list(record.labels) or None,
            "split_hash": record.split_hash, **{k: record.provenance.get(k) for k in ("source", "licence")}}
    dataset = s.call("POST datasets", s.api.datasets.create, name=name, deadline=deadline,
                     description=f"smishctl: {ds_name} {split} split (items are added as runs use them)",
                     metadata=redact_obj(meta))
    existing: dict[str, object] = {}
    page = 1
    while True:
        result = s.call("GET dataset-items", s.api.dataset_items.list, dataset_name=name, page=page, limit=100,
                        deadline=deadline)
        for item in result.data:
            existing[item.id] = item.expected_output
        total_pages = getattr(getattr(result, "meta", None), "total_pages", 1) or 1
        if page >= total_pages or not result.data:
            break
        page += 1
    todo = {}
    for row in rows:
        item_id = dataset_item_id(record, row.item_id)
        if existing.get(item_id) != {"label": row.gold}:
            todo[item_id] = row

    def create(item_id: str, row: Prediction) -> None:
        s.call("POST dataset-items", s.api.dataset_items.create, dataset_name=name, id=item_id,
               input={"sms": row.text}, expected_output={"label": row.gold}, deadline=deadline,
               metadata={"item_id": row.item_id, "dataset": ds_name, "split": split})

    if todo:  # one call per item (the API has no batch upsert): a few in parallel
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(ITEM_WORKERS, len(todo))) as pool:
            for done, future in enumerate([pool.submit(create, item_id, row) for item_id, row in todo.items()], 1):
                future.result()
                on_item("dataset items", done, len(todo))
    return _Dataset(name=name, id=dataset.id, created=len(todo))


def run_metadata(record: dict | RunRecord) -> dict:
    """What identifies a run in Langfuse: artifact, model, data hash, versions (no secrets)."""

    rec = RunRecord.of(record)
    return {
        "run_id": rec.id,
        "artifact_id": rec.prompt.get("id"),
        "prompt_sha256": rec.prompt.get("sha256"),
        "optimizer": rec.prompt.get("optimizer"),
        "model": rec.model.get("name"),
        "litellm_model": rec.model.get("litellm_model"),
        "dataset": rec.dataset_name,
        "split": rec.split,
        "dataset_hash": rec.items_hash,
        "split_hash": rec.split_hash,
        "config_hash": rec.config_hash or None,
        "smishctl_version": rec.versions.get("smishctl") or __version__,
        "run_status": rec.status,
    }


def _trace_item(s: LangfuseSession, record: RunRecord, row: Prediction, template, experiment_id: str, dataset_id: str,
                t_start: int, t_end: int) -> int:
    """One trace per item: the experiment item span (input/output) and its generation. Returns 2."""
    from langfuse._client.attributes import LangfuseOtelSpanAttributes as A
    from langfuse._client.attributes import _serialize
    from langfuse._client.propagation import PropagatedExperimentAttributes, _propagate_attributes
    from langfuse._client.span import LangfuseGeneration, LangfuseSpan
    from opentelemetry import trace as otel_trace

    run_id, item_id = record.id, row.item_id
    trace_id = item_trace_id(run_id, item_id)
    root_id = observation_id_for(f"{trace_id}/item")
    gen_id = observation_id_for(f"{trace_id}/generation")
    whole = run_metadata(record)
    meta = {k: v for k, v in whole.items() if v is not None}
    tags = [t for t in ("smishctl", whole["model"], whole["artifact_id"]) if t]
    item_meta = {"item_id": item_id, "status": row.status, "gold": row.gold}
    expected = {"label": row.gold}
    output, level, status_message = _output(row)
    experiment = PropagatedExperimentAttributes(
        experiment_id=experiment_id, experiment_name=run_id, experiment_metadata=_serialize(meta),
        experiment_dataset_id=dataset_id, experiment_item_id=dataset_item_id(record, item_id),
        experiment_item_metadata=_serialize(item_meta), experiment_item_root_observation_id=root_id)
    with s.ids.seed(trace_id, [root_id, gen_id]), _propagate_attributes(
            experiment=experiment, trace_name=f"smishctl evaluate {record.dataset_name}",
            tags=tags):
        otel_root = s.tracer.start_span("experiment-item-run", start_time=t_start)
        for key, value in {A.ENVIRONMENT: "sdk-experiment",
                           A.EXPERIMENT_DESCRIPTION: _description(record),
                           A.EXPERIMENT_ITEM_EXPECTED_OUTPUT: _serialize(expected)}.items():
            otel_root.set_attribute(key, value)
        root = LangfuseSpan(otel_span=otel_root, langfuse_client=s.client, input={"sms": row.text},
                            output=output, metadata=redact_obj({**meta, **item_meta}), level=level,
                            status_message=status_message, environment="sdk-experiment")
        otel_gen = s.tracer.start_span("classify", context=otel_trace.set_span_in_context(otel_root),
                                       start_time=t_start)
        gen = LangfuseGeneration(
            otel_span=otel_gen, langfuse_client=s.client, environment="sdk-experiment",
            input=redact_obj(messages_for(template, row)), output=output,
            model=record.model.get("litellm_model") or record.model.get("name"),
            model_parameters={"temperature": record.identity.get("temperature", 0.0)},
            usage_details=usage_details(row), cost_details=cost_details(row),
            metadata={"latency_ms": row.latency_ms, "cache_hit": row.cache_hit,
                      "status": row.status, "raw": redact_obj(row.raw)},
            level=level, status_message=status_message)
        gen.end(end_time=t_end)
        root.end(end_time=t_end)
    return 2


def _description(record: RunRecord) -> str:
    return (f"smishctl evaluate: prompt {record.prompt_id} on model {record.model_name}, "
            f"{record.dataset_name}/{record.split} ({record.n_items} items)")


def _output(row: Prediction):
    if row.status == "ok":
        return {"label": row.pred}, None, None
    if row.status == "invalid":
        return {"label": None, "invalid_output": row.raw}, "WARNING", "invalid output (not a label)"
    return None, "ERROR", redact_obj(row.error or "error")


def usage_details(row: Prediction) -> dict[str, int] | None:
    """Langfuse usage keys: input (uncached prompt tokens), input_cached_tokens, output, total."""
    u = row.usage or {}
    if not u:
        return None
    prompt, completion, cached = (int(u.get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "cached_tokens"))
    return {"input": max(prompt - cached, 0), "input_cached_tokens": cached, "output": completion,
            "total": prompt + completion}


def cost_details(row: Prediction) -> dict[str, float] | None:
    return {"total": float(row.cost_usd)} if row.cost_usd is not None else None


def _timeline(record: RunRecord, rows: list[Prediction]) -> list[tuple[int, int]]:
    """(start, end) in ns per row: the row's own timestamps when recorded, else laid end to end
    from the run's creation time using each row's latency."""
    try:
        t = datetime.strptime(record.created_at or "", "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        t = time.time()
    out = []
    for row in rows:
        latency = float(row.latency_ms or 0) / 1000
        start = row.extra.get("started_at")
        if isinstance(start, (int, float)):
            t = float(start)
        elif isinstance(start, str):
            try:
                t = datetime.fromisoformat(start).timestamp()
            except ValueError:
                pass
        out.append((int(t * 1e9), int((t + latency) * 1e9)))
        t += latency
    return out


# -- messages ----------------------------------------------------------------------------------
def message_template(settings, record: dict | RunRecord) -> list[dict] | None:
    """The chat messages the run's prompt sends, with an {{sms}} placeholder (None if unknown)."""

    rec = RunRecord.of(record)
    try:
        art = resolve_artifact(settings.prompts_dir, rec.prompt.get("id"))
        if art.is_zero_shot:
            labels = rec.labels
            return render_messages(make_program(labels), labels)
        data = read_json(art.folder / PROMPT)
        messages = data.get("messages")
        if data.get("placeholder", SMS_PLACEHOLDER) != SMS_PLACEHOLDER and messages:
            messages = json.loads(json.dumps(messages).replace(data["placeholder"], SMS_PLACEHOLDER))
        return messages
    except Exception:  # noqa: BLE001 - e.g. artifact deleted since the run: the SMS is still sent
        return None


def messages_for(template: list[dict] | None, row: Prediction):
    """The messages sent for one row: recorded ones if the run stored them, else the rendered prompt."""

    recorded = row.extra.get("messages")
    if recorded:
        return recorded
    if not template:
        return [{"role": "user", "content": row.text}]
    return [{**m, "content": m["content"].replace(SMS_PLACEHOLDER, row.text)}
            if isinstance(m.get("content"), str) else m for m in template]


# -- scores ------------------------------------------------------------------------------------
def _score(trace_id: str | None, name: str, value, data_type: str, *, run_id: str, observation_id=None,
           dataset_run_id=None, comment=None, ts: int | None = None) -> dict:
    key = dataset_run_id or trace_id
    score = {
        "id": observation_id_for(f"smishctl-score/{key}/{name}"),
        "traceId": trace_id, "observationId": observation_id, "datasetRunId": dataset_run_id,
        "name": name, "value": value, "dataType": data_type, "comment": comment,
        "environment": "sdk-experiment", "metadata": {"run_id": run_id},
        "timestamp": datetime.fromtimestamp((ts or time.time_ns()) / 1e9, tz=UTC).isoformat(),
    }
    return {k: v for k, v in score.items() if v is not None}


def item_scores(record: dict | RunRecord, row: Prediction, t_end: int | None = None) -> list[dict]:
    """correct (BOOLEAN; an error or invalid answer is wrong, as locally), predicted (CATEGORICAL), error
    (BOOLEAN)."""
    run_id = RunRecord.of(record).id
    trace_id = item_trace_id(run_id, row.item_id)
    obs = observation_id_for(f"{trace_id}/item")
    kw: dict[str, Any] = {"run_id": run_id, "observation_id": obs, "ts": t_end}
    status = row.status
    predicted = row.pred if status == "ok" else INVALID_LABEL if status == "invalid" else ERROR_LABEL
    out = []
    out.append(_score(trace_id, "correct", 1.0 if predicted == row.gold else 0.0, "BOOLEAN", **kw,
                      comment=f"gold {row.gold}, predicted {predicted}"))
    out.append(_score(trace_id, "predicted", predicted, "CATEGORICAL", **kw))
    out.append(_score(trace_id, "error", 1.0 if status == "error" else 0.0, "BOOLEAN", **kw,
                      comment=redact_obj(row.error) if status == "error" else None))
    return out


def run_scores(record: dict | RunRecord, experiment_id: str) -> list[dict]:
    """Run-level scores on the experiment: accuracy, macro-F1, per-class F1, error and invalid rates."""
    rec = RunRecord.of(record)
    m = rec.metrics or {}
    values = {name: m.get(metric) for name, metric in RUN_SCORES}
    for label, pc in (m.get("per_class") or {}).items():
        values[f"f1_{label}"] = pc.get("f1")
    values["cost_usd_per_1k"] = m.get("cost_per_1k")
    values["latency_p50_ms"] = (m.get("latency_ms") or {}).get("p50")
    return [_score(None, name, float(v), "NUMERIC", run_id=rec.id, dataset_run_id=experiment_id)
            for name, v in values.items() if v is not None]


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
