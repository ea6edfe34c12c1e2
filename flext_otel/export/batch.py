"""Lossless, non-blocking batch export of spans and log records.

:class:`BatchSpanExportProcessor` and :class:`BatchLogExportProcessor` replace the
SDK's batch processors for network exporters; :class:`CountingMetricExporter`
wraps a push metric exporter. Guarantees:

* **The caller never waits for the network.** ``on_end`` / ``on_emit`` take one
  short lock, append to a bounded queue and return (O(1), never raise).
  Transforms (such as scrubbing) and ``exporter.export`` run in the background.
* **Every item is accounted for.** Each item handed over is ``accepted`` and ends
  up ``exported`` or dropped with a reason: ``queue_full`` (the queue was at its
  bound: the *new* item is refused, queued ones are kept), ``export_failed``
  (the exporter failed, raised, or outlived ``export_timeout_ms``; counted as
  failed even if it completes later), ``shutdown`` (queued or in flight at the
  shutdown deadline, or handed over after shutdown) and ``invalid`` (a
  transform rejected it). At any moment ``accepted == exported + dropped +
  queue_depth``; after :meth:`shutdown` ``queue_depth`` is 0. Unsampled spans
  are skipped without being counted.
* **Deadlines win.** Each export runs on a daemon thread that the worker
  abandons at ``export_timeout_ms`` or at the shutdown deadline, so a stuck call
  or a retry backoff cannot hold up ``force_flush`` or ``shutdown``. While an
  abandoned export still runs no new one starts (threads never pile up). OTLP
  exporters retry on their own: give them a ``timeout`` below
  ``export_timeout_ms``.
* **Outages are quiet and cheap.** The first failure of an outage is logged once
  at WARNING (no traceback), the recovery once at INFO, a full queue once per
  episode. After a failed export the worker waits 0.5 s, doubling up to 5 s,
  before the next attempt (``force_flush`` and ``shutdown`` try at once): new
  items wait in the queue for the collector instead of failing batch after
  batch, and a dead collector costs the application little CPU.
* **Fork safe** (gunicorn/uwsgi pre-fork workers, ``multiprocessing`` with the
  fork start method). Before ``os.fork()`` a running export may finish (at most
  1 s) and none starts until the fork is done, so no thread of ours is inside
  the network library when the process is copied (gRPC skips its fork handlers
  while a call is in progress; a child copied mid-call can hang or crash). The
  child gets fresh locks, forgets the parent's queued items (the parent
  delivers them; the child's counters restart at zero), restarts the worker on
  its next item and, given ``exporter_factory``, builds a fresh exporter
  instead of using the parent's connection. A child that ends with
  ``os._exit`` (as ``multiprocessing`` children do) must shut down itself, e.g.
  through ``multiprocessing.util.Finalize``.

Memory and garbage collection: a queued span is not the SDK span view (a dozen
garbage-collected objects, about 2.8 KiB) but one flat tuple referring to its
immutable parts (:mod:`flext_otel.export.spanpack`), rebuilt into an
equivalent ``ReadableSpan`` on the worker, so the default bound of 20,480
spans holds a few tracked objects per span and a burst of 10,000 spans ended
back to back fits without loss. Spans reach this processor already guarded:
the store's processor runs the guardrails transform once per span and hands
the result on (``transform`` here is for standalone use). Queued log records
are the SDK records (about 0.8 KiB, 4 tracked objects each).

Modules: :mod:`flext_otel.export.batchcore` (the queue, worker and exports),
:mod:`flext_otel.export.bounded` (deadline-bounded calls, outage logging),
:mod:`flext_otel.export.metricexport` (the counting metric exporter, re-exported
here). Imports: those, ``export.spanpack``, ``guardrails.transform``,
``support``; the OpenTelemetry SDK.

Nothing starts a thread, opens a connection or touches an OTel global at import
or construction time: the worker starts with the first item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import copy
from typing import TYPE_CHECKING, Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.export.batchcore import _BatchCore
from flext_otel.export.bounded import _Exporter
from flext_otel.export.metricexport import CountingMetricExporter
from flext_otel.export.spanpack import Packed, pack_span, unpack_span
from flext_otel.guardrails.transform import LogTransform, SpanTransform
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import LogOnce
from flext_otel.support.otel_private import (
    LogRecordExporter,
    LogRecordExportResult,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Span

_EMPTY_RESOURCE = Resource.get_empty()
_EMPTY_CONTEXT = Context()
_BACKOFF_S = (0.5, 5.0)
"""Wait after a failed export before the next attempt: first, and at most."""


_QUEUE_OPTIONS = (
    "max_queue_size",
    "schedule_delay_ms",
    "max_export_batch_size",
    "export_timeout_ms",
)


def _queue_options(arguments: dict[str, Any]) -> dict[str, float]:
    """The queue bounds and timings among a processor constructor's arguments."""
    return {name: arguments[name] for name in _QUEUE_OPTIONS}


class _BatchProcessor:
    """What both processors share: building their core, ``force_flush``, ``shutdown``,
    ``stats`` and ``queue_depth``."""

    _success: object = None  # the exporter's SUCCESS result
    _label = ""  # names the processor in the log-once messages
    _core: _BatchCore[Any]
    _once: LogOnce

    def _prepare(self, items: list[Any]) -> tuple[list[Any], int]:
        raise NotImplementedError

    def _build(
        self,
        exporter: _Exporter,
        counters: PipelineCounters,
        exporter_factory: Callable[[], _Exporter] | None,
        queue: dict[str, float],
    ) -> None:
        """The core: ``queue`` holds the queue bounds and timings as given."""
        self._once = LogOnce(self._label)
        self._core = _BatchCore(
            counters.key,
            exporter,
            counters,
            max_queue_size=int(queue["max_queue_size"]),
            schedule_delay_ms=queue["schedule_delay_ms"],
            max_export_batch_size=int(queue["max_export_batch_size"]),
            export_timeout_ms=queue["export_timeout_ms"],
            prepare=self._prepare,
            success=self._success,
            exporter_factory=exporter_factory,
            backoff=_BACKOFF_S,
        )
        self._offer = self._core.offer

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every item queued before the call; False on deadline or failure."""
        try:
            return self._core.force_flush(timeout_millis)
        except Exception as exc:
            self._once.failure(exc)
            return False

    def shutdown(self, timeout_millis: int = 30000) -> None:
        """Drain within ``timeout_millis``, count the rest as lost, shut the exporter down."""
        try:
            self._core.shutdown(timeout_millis)
        except Exception as exc:
            self._once.failure(exc)

    def stats(self) -> PipelineStats:
        """Accepted, exported, dropped by reason, queue depth, last export outcome."""
        return self._core.stats()

    def queue_depth(self) -> int:
        """Items queued or in flight."""
        return self._core.queue_depth()


class BatchSpanExportProcessor(_BatchProcessor, SpanProcessor):
    """Exports sampled spans in batches from a bounded queue, never blocking the caller.

    ``transform`` (for example scrubbing) runs on the worker; returning ``None``
    drops the span as ``invalid``. ``exporter_factory`` builds the exporter used
    in a forked child. See the module docstring for the accounting and deadlines.
    """

    _success = SpanExportResult.SUCCESS
    _label = "batch span transform"

    def __init__(
        self,
        exporter: SpanExporter,
        counters: PipelineCounters,
        *,
        max_queue_size: int = 20480,
        schedule_delay_ms: float = 1000,
        max_export_batch_size: int = 512,
        export_timeout_ms: float = 30000,
        transform: SpanTransform | None = None,
        exporter_factory: Callable[[], SpanExporter] | None = None,
    ) -> None:
        self._transform = transform
        self._build(exporter, counters, exporter_factory, _queue_options(locals()))

    def _prepare(self, packed: list[Packed]) -> tuple[list[Any], int]:
        transform = self._transform
        kept: list[Any] = []
        for item in packed:
            try:
                span: ReadableSpan | None = unpack_span(item)
                if transform is not None and span is not None:
                    span = transform(span)
            except Exception as exc:
                self._once.failure(exc)
                span = None
            if span is not None:
                kept.append(span)
        return kept, len(packed) - len(kept)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do at span start."""

    def reject(self, reason: str) -> None:
        """Count a span that was meant for this exporter but was dropped upstream
        (e.g. its guardrails transform failed) as ``reason``."""
        self._core.reject(reason)

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span for export (O(1)); never blocks on I/O, never raises."""
        try:
            context = span.context
            if context is None or not context.trace_flags.sampled:
                return
            packed = pack_span(span)
        except Exception as exc:  # never raise into span end
            self._core.reject("invalid")
            self._once.failure(exc)
            return
        try:
            self._offer(packed)
        except Exception as exc:  # never raise into span end
            self._once.failure(exc)


class BatchLogExportProcessor(_BatchProcessor, LogRecordProcessor):
    """Exports log records in batches from a bounded queue, never blocking the caller.

    ``transforms`` run on the worker against a private copy of each record (the
    caller's record is never mutated); one returning False drops the record as
    ``invalid``. Records must not be changed after they are emitted.
    """

    _success = LogRecordExportResult.SUCCESS
    _label = "batch log transform"

    def __init__(
        self,
        exporter: LogRecordExporter,
        counters: PipelineCounters,
        *,
        max_queue_size: int = 20480,
        schedule_delay_ms: float = 1000,
        max_export_batch_size: int = 512,
        export_timeout_ms: float = 30000,
        transforms: Sequence[LogTransform] = (),
        exporter_factory: Callable[[], LogRecordExporter] | None = None,
    ) -> None:
        self._transforms = tuple(transforms)
        self._build(exporter, counters, exporter_factory, _queue_options(locals()))

    def _prepare(self, records: list[ReadWriteLogRecord]) -> tuple[list[Any], int]:
        kept: list[Any] = []
        transforms = self._transforms
        for record in records:
            try:
                api_record = copy(record.log_record)
                api_record.context = _EMPTY_CONTEXT  # do not keep the caller's context alive
                if transforms:
                    writable = ReadWriteLogRecord(
                        api_record, record.resource, record.instrumentation_scope, record.limits
                    )
                    if not all(transform(writable) for transform in transforms):
                        continue
                    api_record = writable.log_record
                resource = record.resource
                kept.append(
                    ReadableLogRecord(
                        log_record=api_record,
                        resource=resource if resource is not None else _EMPTY_RESOURCE,
                        instrumentation_scope=record.instrumentation_scope,
                        limits=record.limits,
                    )
                )
            except Exception as exc:
                self._once.failure(exc)
        return kept, len(records) - len(kept)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue the record for export (O(1)); never blocks on I/O, never raises."""
        try:
            self._offer(log_record)
        except Exception as exc:  # never raise into logging
            self._once.failure(exc)


__all__ = ["BatchLogExportProcessor", "BatchSpanExportProcessor", "CountingMetricExporter"]
