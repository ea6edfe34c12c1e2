"""Span and log-record processors that run inside the OTel SDK.

Duties shared by every processor here:

* ``on_start`` / ``on_end`` / ``on_emit`` run on the application's thread: they
  do no I/O, take at most one short lock and **never raise**; an internal
  failure is logged once per processor and counted as ``invalid``.
* ``shutdown()`` is idempotent; ``force_flush(timeout_millis)`` returns whether
  everything handed over so far reached its destination in time.
* After shutdown, items are dropped and counted as ``shutdown``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import SpanProcessor

from flext_otel.guardrails.scrubbing import SpanGuard
from flext_otel.guardrails.transform import LogTransform, SpanTransform
from flext_otel.pipeline.correlation import get_correlation_id
from flext_otel.store.reading import (
    attribute_dict,
    log_view_from,
    record_from_fields,
    span_fields,
    span_record_from,
)
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.keys import CORRELATION_ATTRIBUTE
from flext_otel.support.logonce import LogOnce
from flext_otel.support.otel_private import LogRecordProcessor

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span

    from flext_otel.support.otel_private import ReadWriteLogRecord

_logger = logging.getLogger("flext_otel")


class CorrelationSpanProcessor(SpanProcessor):
    """Stamps ``flext.correlation_id`` on every span started inside a correlation scope."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Set the attribute from the current correlation ID (cheap when none)."""
        try:
            cid = get_correlation_id()
            if cid is not None:
                span.set_attribute(CORRELATION_ATTRIBUTE, cid)
        except Exception:  # never raise into span start
            _logger.debug("correlation stamping failed", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do at span end."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing buffered: always True."""
        return True


class _StoreWriter:
    """What the store's span and log processors share: drop counts, stats, lifecycle."""

    _signal = ""  # the store buffer: "spans" or "logs"

    def __init__(self, store: TelemetryStore, key: str) -> None:
        self._store = store
        self._dropped = PipelineCounters(key)
        self._shutdown = False
        self._once = LogOnce(f"{key} processor")

    def stats(self) -> PipelineStats:
        """Accepted = items stored + dropped; exported = items stored."""
        stored = self._store.stats()[self._signal].accepted
        dropped = self._dropped.snapshot()
        total = stored + dropped.dropped_total
        return PipelineStats(total, stored, dropped.dropped, causes=dropped.causes)

    def shutdown(self) -> None:
        """Stop accepting items (idempotent); the store keeps what it has."""
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered: always True."""
        return True


class StoreSpanProcessor(_StoreWriter, SpanProcessor):
    """Puts every finished span into the store, synchronously, with no thread, and hands
    the guarded span to the exporters' processors (``downstream``).

    ``transform`` (for example the scrubber's :class:`SpanGuard`) runs first, once
    per span: the store and every downstream processor get its result, so no
    exporter transforms again. Returning ``None`` (or raising) drops the span as
    ``invalid`` everywhere (fail closed: an unscrubbed span never leaves). With a
    :class:`SpanGuard`, the scrubbing check and the store record share one read
    of the attributes.

    Downstream processors receive ``on_end`` only (the provider does not know
    them); their owner flushes and shuts them down.
    """

    _signal = "spans"

    def __init__(
        self,
        store: TelemetryStore,
        transform: SpanTransform | None = None,
        downstream: Sequence[SpanProcessor] = (),
    ) -> None:
        super().__init__(store, "traces:store")
        self._add = store.add_span
        self._transform = transform
        self._guard = transform.check if isinstance(transform, SpanGuard) else None
        self._known_clean = transform.known_clean if isinstance(transform, SpanGuard) else None
        self._downstream: tuple[SpanProcessor, ...] = tuple(downstream)

    def add_downstream(self, processor: SpanProcessor) -> None:
        """Hand every guarded span to ``processor`` too (after the store)."""
        self._downstream = (*self._downstream, processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do at span start."""

    def on_end(self, span: ReadableSpan) -> None:
        """Guard the span once, store a compact record, pass it on; never raises."""
        if self._shutdown:
            self._dropped.drop("shutdown")
            return
        try:
            guard = self._guard
            if guard is not None:  # one read of the span, one check, one record
                fields = span_fields(span)
                attributes = attribute_dict(span)
                known_clean = self._known_clean
                if known_clean is not None and known_clean(attributes) and not fields[7]:
                    if fields[4].description:  # the common case skips the full check
                        kept, attributes = guard(span, attributes, fields)
                    else:
                        kept = span
                else:
                    kept, attributes = guard(span, attributes, fields)
                if kept is not span:
                    fields = span_fields(kept)
                self._add(record_from_fields(fields, attributes))
            else:
                transform = self._transform
                found = span if transform is None else transform(span)
                if found is None:
                    self._reject()
                    return
                kept = found
                self._add(span_record_from(kept))
        except Exception as exc:
            self._reject(type(exc).__name__)
            self._once.failure(exc)
            return
        for processor in self._downstream:
            try:
                processor.on_end(kept)
            except Exception as exc:  # a downstream processor must not break the others
                self._once.failure(exc)

    def _reject(self, cause: str | None = None) -> None:
        """Count a span the transform rejected, here and in every downstream processor."""
        self._dropped.drop("invalid", cause=cause)
        for processor in self._downstream:
            reject = getattr(processor, "reject", None)
            if reject is not None:
                try:
                    reject("invalid")
                except Exception as exc:
                    self._once.failure(exc)


class CorrelatedStoreSpanProcessor(StoreSpanProcessor):
    """:class:`StoreSpanProcessor` that also stamps the correlation ID at span start.

    One processor instead of two saves the SDK a call per span start and end.
    """

    on_start = CorrelationSpanProcessor.on_start


class CorrelationLogProcessor(LogRecordProcessor):
    """Adds ``flext.correlation_id`` to log records emitted inside a scope."""

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Set the attribute unless the record already carries one."""
        try:
            cid = get_correlation_id()
            if cid is None:
                return
            attributes = log_record.log_record.attributes
            if attributes is not None and CORRELATION_ATTRIBUTE not in attributes:
                attributes[CORRELATION_ATTRIBUTE] = cid  # type: ignore[index]
        except Exception:  # never raise into logging
            _logger.debug("correlation stamping of a log record failed", exc_info=True)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing buffered: always True."""
        return True


class StoreLogProcessor(_StoreWriter, LogRecordProcessor):
    """Puts every emitted log record into the store, synchronously, with no thread."""

    _signal = "logs"

    def __init__(self, store: TelemetryStore, transforms: Sequence[LogTransform] = ()) -> None:
        super().__init__(store, "logs:store")
        self._add = store.add_log
        self._transforms = tuple(transforms)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Copy the record into the store; never raises."""
        if self._shutdown:
            self._dropped.drop("shutdown")
            return
        try:
            for transform in self._transforms:
                if not transform(log_record):
                    self._dropped.drop("invalid")
                    return
            self._add(log_view_from(log_record))
        except Exception as exc:
            self._dropped.drop("invalid", cause=type(exc).__name__)
            self._once.failure(exc)


__all__ = [
    "CorrelatedStoreSpanProcessor",
    "CorrelationLogProcessor",
    "CorrelationSpanProcessor",
    "LogTransform",
    "SpanTransform",
    "StoreLogProcessor",
    "StoreSpanProcessor",
]
