"""Adapters: record validated FLEXT entities onto OpenTelemetry API objects.

Each adapter receives the OTel API object it writes to (a ``Meter``, a
``Tracer``, a ``Logger``) and never builds providers. Every ``record`` method
returns a :class:`~flext_otel.result.FlextResult` holding the recorded entity
and never raises: a wrong argument type fails with ``INVALID_TYPE``, an
unexpected error inside OTel with ``RECORD_FAILED``.

Threading: all adapters may be shared between threads. Instrument creation and
the health registry take a short lock; recording is lock-free in the adapter
(the SDK does its own locking).

>>> from opentelemetry.metrics import NoOpMeter
>>> from flext_otel.domain.entities import FlextMetric
>>> MetricAdapter(NoOpMeter("doc")).record(FlextMetric("orders_total", 1)).is_success
True
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace as trace_api
from opentelemetry.metrics import Meter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)

from flext_otel.domain.entities import (
    FlextAlert,
    FlextLogEntry,
    FlextTrace,
    flext_create_trace,
)
from flext_otel.domain.result import FlextResult, record_failed, wrong_type
from flext_otel.instrument.metricadapter import BOUND_LIMIT, SECONDS_BUCKETS, MetricAdapter
from flext_otel.pipeline.correlation import with_correlation
from flext_otel.pipeline.health import HealthAdapter
from flext_otel.support.otel_private import Logger, SeverityNumber
from flext_otel.support.times import datetime_from_ns, datetime_to_ns

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from flext_otel.store.telemetry import TelemetryStore

__all__ = [
    "ALERT_SEVERITY",
    "BOUND_LIMIT",
    "LOG_SEVERITY",
    "SECONDS_BUCKETS",
    "AlertAdapter",
    "HealthAdapter",
    "LogAdapter",
    "MetricAdapter",
    "TraceAdapter",
    "TraceScope",
    "datetime_from_ns",
    "datetime_to_ns",
]

#: Log level -> (OTel severity number, severity text).
LOG_SEVERITY: Mapping[str, tuple[SeverityNumber, str]] = MappingProxyType(
    {
        "trace": (SeverityNumber.TRACE, "TRACE"),
        "debug": (SeverityNumber.DEBUG, "DEBUG"),
        "info": (SeverityNumber.INFO, "INFO"),
        "warning": (SeverityNumber.WARN, "WARNING"),
        "error": (SeverityNumber.ERROR, "ERROR"),
        "critical": (SeverityNumber.FATAL, "CRITICAL"),
    }
)

#: Alert severity -> (OTel severity number, severity text).
ALERT_SEVERITY: Mapping[str, tuple[SeverityNumber, str]] = MappingProxyType(
    {
        "low": (SeverityNumber.INFO, "INFO"),
        "medium": (SeverityNumber.WARN, "WARN"),
        "high": (SeverityNumber.ERROR, "ERROR"),
        "critical": (SeverityNumber.FATAL, "FATAL"),
        "emergency": (SeverityNumber.FATAL4, "FATAL4"),
    }
)

_STATUS_CODES = {"ok": StatusCode.OK, "error": StatusCode.ERROR, "unset": StatusCode.UNSET}
_STATUS_NAMES = {code: name for name, code in _STATUS_CODES.items()}


# -- traces ------------------------------------------------------------------
def _remote_parent(trace: FlextTrace) -> otel_context.Context | None:
    """A context whose span is the entity's (remote, sampled) parent, if it names one."""
    if trace.trace_id is None or trace.parent_span_id is None:
        return None
    parent = SpanContext(
        trace_id=int(trace.trace_id, 16),
        span_id=int(trace.parent_span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace_api.set_span_in_context(NonRecordingSpan(parent))


def _ids_of(span: Span) -> tuple[str, str, str | None] | None:
    """``(trace_id, span_id, parent_span_id)`` as hex, or None for an invalid span."""
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    parent = getattr(span, "parent", None)
    parent_id = parent.span_id if isinstance(parent, SpanContext) and parent.is_valid else None
    return (
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
        None if parent_id is None else format(parent_id, "016x"),
    )


class TraceAdapter:
    """Turns :class:`FlextTrace` entities into real spans of one ``Tracer``.

    :meth:`record` replays a finished operation: a span with the entity's
    start and end times, status and attributes. Its parent is the remote span
    named by ``trace_id`` + ``parent_span_id`` when both are given, else the
    span of the current context. A ``trace_id`` alone cannot be imposed on a
    new root span (the SDK assigns IDs); the returned entity always carries the
    IDs the SDK assigned.

    :meth:`trace_scope` is the live form: a context manager around the work.
    """

    __slots__ = ("_tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def record(self, trace: FlextTrace) -> FlextResult[FlextTrace]:
        """Emit the span; the entity with the SDK's trace, span and parent IDs."""
        if not isinstance(trace, FlextTrace):
            return wrong_type(trace, FlextTrace)
        try:
            span = self._tracer.start_span(
                trace.operation,
                context=_remote_parent(trace),
                attributes=trace.attributes,
                start_time=datetime_to_ns(trace.start_time),
            )
            if trace.status != "unset":
                span.set_status(Status(_STATUS_CODES[trace.status]))
            span.end(end_time=datetime_to_ns(trace.end_time))
            ids = _ids_of(span)
            if ids is None:  # a no-op tracer: nothing was assigned
                return FlextResult.ok(trace)
            trace_id, span_id, parent_id = ids
            return FlextResult.ok(
                dataclasses.replace(
                    trace, trace_id=trace_id, span_id=span_id, parent_span_id=parent_id
                )
            )
        except Exception as exc:  # never raise into the caller
            return record_failed("trace", exc)

    def trace_scope(self, operation: str, **attributes: Any) -> TraceScope:
        """A context manager that runs its block in a new current span.

        ``with adapter.trace_scope("charge", order=42) as span:`` yields the
        running OTel span; after the block ``scope.result`` holds the
        :class:`FlextTrace` of the finished span (see :class:`TraceScope`).
        """
        return TraceScope(self._tracer, operation, attributes)


class TraceScope:
    """The live span of :meth:`TraceAdapter.trace_scope`; usable once.

    Entering validates ``operation`` and the attributes, starts a span as the
    current one and yields it. An exception leaving the block is recorded on
    the span (status ``ERROR``) and propagates. On exit :attr:`result` holds
    ``FlextResult[FlextTrace]`` built from the finished span (IDs, times,
    status, attributes). Invalid input never raises: the block runs with a
    non-recording span and :attr:`result` holds the validation failure.

    >>> from opentelemetry.trace import NoOpTracer
    >>> scope = TraceAdapter(NoOpTracer()).trace_scope("")
    >>> with scope as span:
    ...     span.is_recording()
    False
    >>> scope.result.error_code
    'INVALID_NAME'
    """

    __slots__ = ("_attributes", "_operation", "_token", "_tracer", "result", "span")

    def __init__(self, tracer: Tracer, operation: str, attributes: Mapping[str, Any]) -> None:
        self._tracer = tracer
        self._operation = operation
        self._attributes = attributes
        self._token: object = None
        self.span: Span = trace_api.INVALID_SPAN
        self.result: FlextResult[FlextTrace] | None = None

    def __enter__(self) -> Span:
        if self._token is not None or self.result is not None:
            self.result = FlextResult.fail("a trace scope can be entered once", "INVALID_STATE")
            return trace_api.INVALID_SPAN
        checked = flext_create_trace(self._operation, attributes=self._attributes)
        if checked.is_failure or checked.value is None:
            self.result = checked
            return trace_api.INVALID_SPAN
        try:
            entity = checked.value
            self.span = self._tracer.start_span(entity.operation, attributes=entity.attributes)
            self._token = otel_context.attach(trace_api.set_span_in_context(self.span))
        except Exception as exc:  # never raise into the caller's block
            self.result = record_failed("trace", exc)
        return self.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        span = self.span
        try:
            if exc is not None and span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        except Exception as error:  # never mask the block's own outcome
            self.result = record_failed("trace", error)
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]
        if self.result is None:
            self.result = _finished(span)


def _finished(span: Span) -> FlextResult[FlextTrace]:
    """The :class:`FlextTrace` of an ended span (SDK spans expose their data)."""
    try:
        ids = _ids_of(span)
        name = getattr(span, "name", None)
        start = getattr(span, "start_time", None)
        end = getattr(span, "end_time", None)
        if ids is None or not isinstance(start, int) or not isinstance(end, int):
            return FlextResult.fail("the span was not recorded (no-op tracer)", "NOT_RECORDED")
        status = getattr(span, "status", None)
        code = status.status_code if isinstance(status, Status) else StatusCode.UNSET
        attributes = getattr(span, "attributes", None) or {}
        return FlextResult.from_callable(
            lambda: FlextTrace(
                name if isinstance(name, str) else "",
                trace_id=ids[0],
                span_id=ids[1],  # the SDK's: only the entity itself takes a span ID
                parent_span_id=ids[2],
                attributes=dict(attributes),
                start_time=datetime_from_ns(start),
                end_time=datetime_from_ns(end),
                status=_STATUS_NAMES[code],
            ),
            error_code="INVALID_TRACE",
        )
    except Exception as exc:
        return record_failed("trace", exc)


# -- logs --------------------------------------------------------------------
class LogAdapter:
    """Emits :class:`FlextLogEntry` entities as OTel log records on one ``Logger``.

    Each record carries the level's severity number and text
    (:data:`LOG_SEVERITY`), the message as body, the context as attributes,
    the entry's timestamp, ``flext.correlation_id`` when one is set, and the
    current OTel context, so the SDK fills in the active trace and span IDs.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: Logger) -> None:
        self._logger = logger

    def record(self, entry: FlextLogEntry) -> FlextResult[FlextLogEntry]:
        """Emit the log record; the entry itself on success."""
        if not isinstance(entry, FlextLogEntry):
            return wrong_type(entry, FlextLogEntry)
        try:
            number, text = LOG_SEVERITY[entry.level]
            self._logger.emit(
                timestamp=datetime_to_ns(entry.timestamp),
                observed_timestamp=time.time_ns(),
                context=otel_context.get_current(),
                severity_number=number,
                severity_text=text,
                body=entry.message,
                attributes=with_correlation(entry.context),
            )
            return FlextResult.ok(entry)
        except Exception as exc:
            return record_failed("log entry", exc)


# -- alerts ------------------------------------------------------------------
class AlertAdapter:
    """Records :class:`FlextAlert` entities on every signal.

    * a log record with ``event_name="flext.alert"``, severity from
      :data:`ALERT_SEVERITY`, the message as body and the attributes
      ``alert.title``, ``alert.severity``, ``alert.status``, ``alert.id`` plus
      the tags (and ``flext.correlation_id`` when set);
    * an event ``flext.alert`` with the same attributes on the current span,
      when it is recording;
    * one increment of the counter ``flext.alerts`` (unit ``1``) with the
      attributes ``severity`` and ``status``;
    * the alert itself in ``store`` (when given).
    """

    __slots__ = ("_counter", "_logger", "_store")

    def __init__(self, logger: Logger, meter: Meter, store: TelemetryStore | None = None) -> None:
        self._logger = logger
        self._store = store
        self._counter = meter.create_counter(
            "flext.alerts", unit="1", description="Alerts raised, by severity and status"
        )

    def record(self, alert: FlextAlert) -> FlextResult[FlextAlert]:
        """Emit the alert on logs, the current span and the counter; store it."""
        if not isinstance(alert, FlextAlert):
            return wrong_type(alert, FlextAlert)
        try:
            attributes: dict[str, Any] = dict(alert.tags)
            attributes["alert.title"] = alert.title
            attributes["alert.severity"] = alert.severity
            attributes["alert.status"] = alert.status
            attributes["alert.id"] = alert.id
            number, text = ALERT_SEVERITY[alert.severity]
            self._logger.emit(
                timestamp=datetime_to_ns(alert.created_at),
                observed_timestamp=time.time_ns(),
                context=otel_context.get_current(),
                severity_number=number,
                severity_text=text,
                body=alert.message,
                attributes=with_correlation(attributes),
                event_name="flext.alert",
            )
            span = trace_api.get_current_span()
            if span.is_recording():
                span.add_event("flext.alert", attributes)
            self._counter.add(1, {"severity": alert.severity, "status": alert.status})
            if self._store is not None:
                self._store.add_alert(alert)
            return FlextResult.ok(alert)
        except Exception as exc:
            return record_failed("alert", exc)


# -- health ------------------------------------------------------------------
