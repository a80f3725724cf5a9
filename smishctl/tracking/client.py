"""One short-lived, bounded connection to Langfuse through the real SDK.

Why not just `Langfuse()`: the SDK keeps one client per public key for the whole process, sets a
global OpenTelemetry tracer provider, drops data silently when the server is down, and flushes at
exit (which can hang on a server that never answers). A `LangfuseSession` therefore brings its own
tracer provider (with a seeded id generator, so re-pushes reuse the same trace and observation ids),
records whether each span export really succeeded, and always releases the SDK client within a
bounded time.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Self, cast

from smishctl.tracking.settings import LangfuseSettings, register_langfuse_secrets
from smishctl.util.redact import redact_obj

_SESSION_LOCK = threading.RLock()


class PushError(Exception):
    """Langfuse refused, rejected or did not answer in time."""


def trace_id_for(seed: str) -> str:
    """The Langfuse trace id for a seed (same as `Langfuse.create_trace_id(seed=...)`)."""
    return hashlib.sha256(seed.encode("utf-8")).digest()[:16].hex()


def observation_id_for(seed: str) -> str:
    """A 16-hex-char observation (span) id for a seed (same as the SDK's seeded observation ids)."""
    return hashlib.sha256(seed.encode("utf-8")).digest()[:8].hex()


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return (f"{name}: {text}" if text and not text.startswith(name) else text or name)[:300]


def _id_generator():
    from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

    class SeededIds(IdGenerator):
        """Hands out the ids queued by `seed()` (this thread only), random ids otherwise."""

        def __init__(self):
            self._local = threading.local()
            self._random = RandomIdGenerator()

        @contextlib.contextmanager
        def seed(self, trace_id: str | None, span_ids: list[str]):
            self._local.trace = int(trace_id, 16) if trace_id else None
            self._local.spans = [int(s, 16) for s in span_ids]
            try:
                yield
            finally:
                self._local.trace, self._local.spans = None, []

        def generate_span_id(self) -> int:
            spans = getattr(self._local, "spans", None)
            return spans.pop(0) if spans else self._random.generate_span_id()

        def generate_trace_id(self) -> int:
            trace = getattr(self._local, "trace", None)
            if trace is not None:
                self._local.trace = None
                return trace
            return self._random.generate_trace_id()

    return SeededIds()


def _recording_exporter(inner):
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class RecordingExporter(SpanExporter):
        """Counts what the server accepted; once aborted, fails fast instead of sending."""

        def __init__(self):
            self.exported = 0
            self.failures = 0
            self.last_error: str | None = None
            self.aborted = False

        def export(self, spans):
            if self.aborted:
                self.failures += 1
                return SpanExportResult.FAILURE
            try:
                result = inner.export(spans)
            except Exception as exc:  # noqa: BLE001 - the exporter should not raise; never let it escape
                self.failures += 1
                self.last_error = one_line(exc)
                return SpanExportResult.FAILURE
            if result == SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.failures += 1
                self.last_error = self.last_error or "the server did not accept the traces"
            return result

        def shutdown(self):
            with contextlib.suppress(Exception):
                inner.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return RecordingExporter()


class LangfuseSession:
    """A Langfuse SDK client for one push; use as a context manager (`with LangfuseSession(lf) as s`)."""

    def __init__(self, lf: LangfuseSettings):
        self.lf = lf
        register_langfuse_secrets(lf)
        # The SDK is imported on entry (langfuse.Langfuse and its resource manager): typed loosely here.
        self._previous: Any = None
        self.client: Any = None

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> Self:
        from langfuse import Langfuse
        from langfuse._client.resource_manager import LangfuseResourceManager
        from langfuse._version import __version__ as sdk_version
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        _SESSION_LOCK.acquire()
        self._quiet()
        try:
            lf = self.lf
            auth = base64.b64encode(f"{lf.public_key}:{lf.secret_key}".encode()).decode("ascii")
            otlp = OTLPSpanExporter(
                endpoint=f"{lf.base_url}/api/public/otel/v1/traces",
                headers={"Authorization": f"Basic {auth}", "x-langfuse-sdk-name": "python",
                         "x-langfuse-sdk-version": sdk_version, "x-langfuse-public-key": lf.public_key,
                         "x-langfuse-ingestion-version": "4"},
                timeout=lf.timeout, compression=Compression.Gzip)
            self.exporter = _recording_exporter(otlp)
            self.ids = _id_generator()
            self.provider = TracerProvider(id_generator=self.ids, shutdown_on_exit=False,
                                           resource=Resource.create({"service.name": "smishctl"}))
            # The SDK shares one resource manager per public key: make sure this session gets its own.
            with LangfuseResourceManager._lock:
                self._previous = LangfuseResourceManager._instances.pop(lf.public_key, None)
            self.client = Langfuse(
                public_key=lf.public_key, secret_key=lf.secret_key, base_url=lf.base_url,
                timeout=cast(int, lf.timeout),  # typed int, but handed on to httpx, which takes float seconds
                tracer_provider=self.provider, span_exporter=self.exporter,
                flush_at=256, flush_interval=1.0, mask=lambda *, data, **_: redact_obj(data))
            resources = getattr(self.client, "_resources", None)
            if resources is not None:  # we shut it down ourselves, bounded; never at interpreter exit
                atexit.unregister(resources.shutdown)
            self.tracer = self.client._otel_tracer
            return self
        except BaseException:
            self._release()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)

    def close(self, *, failed: bool = False) -> None:
        """Stop the SDK's threads within the timeout; drop unsent data if the push already failed."""
        if self.client is None:
            return
        if failed:
            self.exporter.aborted = True
        client, provider = self.client, self.provider

        def shutdown():
            with contextlib.suppress(Exception):
                client.shutdown()
            with contextlib.suppress(Exception):
                provider.shutdown()

        worker = threading.Thread(target=shutdown, name="langfuse-shutdown", daemon=True)
        worker.start()
        worker.join(self.lf.timeout + 1)
        if worker.is_alive():
            self.exporter.aborted = True
        self._release()

    def _quiet(self) -> None:
        """The SDK and the OTLP exporter log every failure; we report one line ourselves."""
        self._levels = {}
        if os.environ.get("SMISHCTL_DEBUG"):
            return
        for name in ("langfuse", "opentelemetry"):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.CRITICAL + 1)

    def _release(self) -> None:
        from langfuse._client.resource_manager import LangfuseResourceManager

        for name, level in getattr(self, "_levels", {}).items():
            logging.getLogger(name).setLevel(level)

        with LangfuseResourceManager._lock:
            LangfuseResourceManager._instances.pop(self.lf.public_key, None)
            if self._previous is not None:
                LangfuseResourceManager._instances[self.lf.public_key] = self._previous
        self.client = None
        with contextlib.suppress(RuntimeError):
            _SESSION_LOCK.release()

    # -- helpers ------------------------------------------------------------------------------
    @property
    def api(self):
        return self.client.api

    def options(self, deadline: float | None = None) -> dict:
        """Request options for one synchronous API call: no retries, bounded by the deadline."""
        timeout = self.lf.timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PushError(f"gave up after {self.lf.push_timeout:g} s (push_timeout)")
            timeout = min(timeout, left)
        return {"max_retries": 0, "timeout_in_seconds": max(timeout, 0.05)}

    def call(self, what: str, fn, *args, deadline: float | None = None, **kwargs):
        """Run one API call; any failure becomes a PushError naming what we were doing."""
        try:
            return fn(*args, request_options=self.options(deadline), **kwargs)
        except PushError:
            raise
        except Exception as exc:
            raise PushError(f"{what}: {one_line(exc)}") from exc

    def project_id(self, deadline: float | None = None) -> str | None:
        projects = self.call("GET projects", self.api.projects.get, deadline=deadline)
        data = getattr(projects, "data", None) or []
        return data[0].id if data else None

    def flush_spans(self, expected: int, deadline: float) -> None:
        """Export every ended span now; raise PushError unless the server accepted all of them."""
        left = max(deadline - time.monotonic(), 0.05)
        done = self.provider.force_flush(timeout_millis=int(left * 1000))
        if self.exporter.failures:
            raise PushError(f"traces not accepted: {self.exporter.last_error or 'export failed'}")
        if not done or self.exporter.exported < expected:
            raise PushError(f"traces not delivered within {self.lf.push_timeout:g} s "
                            f"({self.exporter.exported} of {expected} spans)")

    def send_scores(self, scores: list[dict], deadline: float, batch: int = 100) -> int:
        """POST scores synchronously (so a failure is seen, not dropped by a background thread)."""
        from langfuse.api.scores.types.create_score_batch_results import CreateScoreBatchResults

        sent = 0
        for i in range(0, len(scores), batch):
            chunk = redact_obj(scores[i:i + batch])
            result = self.call("POST scores", self.api.scores.create, request=chunk, deadline=deadline)
            if isinstance(result, CreateScoreBatchResults) and result.rejected:
                errors = "; ".join(e.message for e in (result.errors or []))[:200]
                raise PushError(f"Langfuse rejected {result.rejected} of {len(chunk)} scores: {errors}")
            sent += len(chunk)
        return sent


@contextlib.contextmanager
def session(lf: LangfuseSettings) -> Iterator[LangfuseSession]:
    with LangfuseSession(lf) as s:
        yield s
