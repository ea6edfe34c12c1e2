"""Bounded, thread-safe, queryable in-memory telemetry store.

One ring buffer per signal (spans, log records, alerts, health results) keeps the
newest ``capacity`` items; older ones are evicted and counted. Metric points are
read on demand from an in-memory metric reader (no work until queried).

Records are compact: a :class:`SpanRecord` is a slotted tuple that keeps the IDs
as integers (hex strings are produced on access), the span's own read-only
attribute mapping (no copy) and a reference to the shared resource attributes.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from opentelemetry.trace import SpanKind, StatusCode

from flext_otel.support.keys import CORRELATION_ATTRIBUTE

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

    from flext_otel.domain.entities import FlextAlert, FlextHealthCheck

T = TypeVar("T")

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_KIND_NAMES = {0: "internal", 1: "server", 2: "client", 3: "producer", 4: "consumer"}
_HEX = "0123456789abcdef"
SIGNALS = ("spans", "logs", "alerts", "health")
LEVELS = {
    "trace": 1,
    "debug": 5,
    "info": 9,
    "warning": 13,
    "warn": 13,
    "error": 17,
    "critical": 21,
    "fatal": 21,
}


def _hex_or_none(value: int | None, width: int) -> str | None:
    return None if value is None else format(value, f"0{width}x")


class SpanRecord(tuple):  # type: ignore[type-arg]  # a slotted, immutable record
    """One finished span, compact and OTel-shaped.

    Fields: ``name``, ``trace_id`` (32 hex), ``span_id`` (16 hex), ``parent_span_id``
    (16 hex or ``None``), ``kind``, ``start_time_ns``, ``end_time_ns``,
    ``duration_ms``, ``status`` (``"unset" | "ok" | "error"``),
    ``status_description``, ``attributes`` (read-only), ``events`` (tuples of
    name, time_ns, attributes), ``resource`` (shared mapping), ``scope``.
    """

    __slots__ = ()

    name: str = property(itemgetter(0))  # type: ignore[assignment]
    trace_id_int: int = property(itemgetter(1))  # type: ignore[assignment]
    span_id_int: int = property(itemgetter(2))  # type: ignore[assignment]
    parent_span_id_int: int | None = property(itemgetter(3))  # type: ignore[assignment]
    kind: str = property(itemgetter(4))  # type: ignore[assignment]
    start_time_ns: int = property(itemgetter(5))  # type: ignore[assignment]
    end_time_ns: int = property(itemgetter(6))  # type: ignore[assignment]
    status: str = property(itemgetter(7))  # type: ignore[assignment]
    status_description: str | None = property(itemgetter(8))  # type: ignore[assignment]
    attributes: Mapping[str, Any] = property(itemgetter(9))  # type: ignore[assignment]
    events: tuple[tuple[str, int, Mapping[str, Any]], ...] = property(itemgetter(10))  # type: ignore[assignment]
    resource: Mapping[str, Any] = property(itemgetter(11))  # type: ignore[assignment]
    scope: str = property(itemgetter(12))  # type: ignore[assignment]

    def __new__(
        cls,
        name: str,
        trace_id: int,
        span_id: int,
        parent_span_id: int | None,
        kind: str,
        start_time_ns: int,
        end_time_ns: int,
        status: str = "unset",
        status_description: str | None = None,
        attributes: Mapping[str, Any] = _EMPTY,
        events: tuple[tuple[str, int, Mapping[str, Any]], ...] = (),
        resource: Mapping[str, Any] = _EMPTY,
        scope: str = "",
    ) -> SpanRecord:
        return tuple.__new__(
            cls,
            (
                name,
                trace_id,
                span_id,
                parent_span_id,
                kind,
                start_time_ns,
                end_time_ns,
                status,
                status_description,
                attributes,
                events,
                resource,
                scope,
            ),
        )

    @property
    def trace_id(self) -> str:
        """The trace ID as 32 lowercase hex characters."""
        return format(self[1], "032x")

    @property
    def span_id(self) -> str:
        """The span ID as 16 lowercase hex characters."""
        return format(self[2], "016x")

    @property
    def parent_span_id(self) -> str | None:
        """The parent span ID as 16 hex characters, ``None`` for a root span."""
        return _hex_or_none(self[3], 16)

    @property
    def duration_ms(self) -> float:
        """End minus start, in milliseconds."""
        return float(self[6] - self[5]) / 1e6

    @property
    def correlation_id(self) -> str | None:
        """The ``flext.correlation_id`` attribute, when the span has one."""
        value = self[9].get(CORRELATION_ATTRIBUTE)
        return value if isinstance(value, str) else None

    @property
    def is_error(self) -> bool:
        """True when the span's status is ERROR."""
        return bool(self[7] == "error")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "name": self.name,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "kind": self.kind,
            "start_time_ns": self.start_time_ns,
            "end_time_ns": self.end_time_ns,
            "duration_ms": self.duration_ms,
            "status": self.status,
            "status_description": self.status_description,
            "attributes": _plain(self.attributes),
            "events": [
                {"name": n, "time_ns": t, "attributes": _plain(a)} for n, t, a in self.events
            ],
            "resource": _plain(self.resource),
            "scope": self.scope,
        }

    def __repr__(self) -> str:
        return (
            f"SpanRecord(name={self.name!r}, trace_id={self.trace_id!r}, "
            f"span_id={self.span_id!r}, parent_span_id={self.parent_span_id!r}, "
            f"status={self.status!r}, duration_ms={self.duration_ms:.3f})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            SpanRecord,
            (
                *self[:9],
                dict(self[9]),
                tuple((n, t, dict(a)) for n, t, a in self[10]),
                dict(self[11]),
                self[12],
            ),
        )


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in mapping.items()}


_INTERNAL, _SERVER, _CLIENT = SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT
_UNSET, _ERROR = StatusCode.UNSET, StatusCode.ERROR
_KIND_BY_MEMBER = {kind: _KIND_NAMES[kind.value] for kind in SpanKind}


MAX_NAME_LENGTH = 8_192
"""Span and event names longer than this are cut (the SDK bounds attribute values,
not names), so one huge name cannot make the store or an export unbounded."""


def bounded_name(name: object) -> str:
    """``name`` as a string of at most :data:`MAX_NAME_LENGTH` characters."""
    text = name if isinstance(name, str) else str(name)
    return text if len(text) <= MAX_NAME_LENGTH else text[:MAX_NAME_LENGTH]


def span_record_from(span: ReadableSpan, attributes: Mapping[str, Any] | None = None) -> SpanRecord:
    """Build a :class:`SpanRecord` from a finished SDK span (no attribute copy).

    ``attributes`` replaces the span's own attributes (used by scrubbing).
    Runs once per finished span, so each public property is read once and the
    common kinds and status codes are matched by identity.
    """
    ctx = span.context
    parent = span.parent
    status = span.status
    code = status.status_code
    kind = span.kind
    scope = span.instrumentation_scope
    raw_events = span.events
    start = span.start_time
    end = span.end_time
    name = span.name
    if type(name) is not str or len(name) > MAX_NAME_LENGTH:
        name = bounded_name(name)
    return tuple.__new__(
        SpanRecord,
        (
            name,
            ctx.trace_id if ctx is not None else 0,
            ctx.span_id if ctx is not None else 0,
            parent.span_id if parent is not None else None,
            "internal"
            if kind is _INTERNAL
            else "server"
            if kind is _SERVER
            else "client"
            if kind is _CLIENT
            else _KIND_BY_MEMBER.get(kind, "internal"),
            start or 0,
            end or start or 0,
            "unset" if code is _UNSET else "error" if code is _ERROR else "ok",
            status.description,
            span.attributes if attributes is None else attributes,
            tuple([(bounded_name(e.name), e.timestamp, e.attributes or _EMPTY) for e in raw_events])
            if raw_events
            else (),
            span.resource.attributes,
            scope.name if scope is not None else "",
        ),
    )


@dataclass(frozen=True, slots=True)
class SpanNode:
    """A span and its children (in start order) within one trace."""

    span: SpanRecord
    children: list[SpanNode] = field(default_factory=list)

    def walk(self) -> Iterable[tuple[int, SpanRecord]]:
        """Depth-first ``(depth, span)`` pairs, this node first."""
        stack: list[tuple[int, SpanNode]] = [(0, self)]
        while stack:
            depth, node = stack.pop()
            yield depth, node.span
            stack.extend((depth + 1, child) for child in reversed(node.children))


class LogRecordView(tuple):  # type: ignore[type-arg]  # a slotted, immutable record
    """One emitted log record: ``timestamp_ns``, ``severity_text``,
    ``severity_number``, ``body``, ``attributes``, ``trace_id``, ``span_id`` (hex or
    ``None``), ``correlation_id``, ``resource``, ``event_name``, ``scope``."""

    __slots__ = ()

    timestamp_ns: int = property(itemgetter(0))  # type: ignore[assignment]
    severity_text: str | None = property(itemgetter(1))  # type: ignore[assignment]
    severity_number: int = property(itemgetter(2))  # type: ignore[assignment]
    body: Any = property(itemgetter(3))
    attributes: Mapping[str, Any] = property(itemgetter(4))  # type: ignore[assignment]
    resource: Mapping[str, Any] = property(itemgetter(7))  # type: ignore[assignment]
    event_name: str | None = property(itemgetter(8))  # type: ignore[assignment]
    scope: str = property(itemgetter(9))  # type: ignore[assignment]

    def __new__(
        cls,
        timestamp_ns: int,
        severity_text: str | None,
        severity_number: int,
        body: Any,
        attributes: Mapping[str, Any] = _EMPTY,
        trace_id: int | None = None,
        span_id: int | None = None,
        resource: Mapping[str, Any] = _EMPTY,
        event_name: str | None = None,
        scope: str = "",
    ) -> LogRecordView:
        return tuple.__new__(
            cls,
            (
                timestamp_ns,
                severity_text,
                severity_number,
                body,
                attributes,
                trace_id,
                span_id,
                resource,
                event_name,
                scope,
            ),
        )

    @property
    def trace_id(self) -> str | None:
        """Trace ID (32 hex) of the span active when the record was emitted."""
        return _hex_or_none(self[5], 32)

    @property
    def span_id(self) -> str | None:
        """Span ID (16 hex) of the span active when the record was emitted."""
        return _hex_or_none(self[6], 16)

    @property
    def correlation_id(self) -> str | None:
        """The ``flext.correlation_id`` attribute, when present."""
        value = self[4].get(CORRELATION_ATTRIBUTE)
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        body = self.body
        return {
            "timestamp_ns": self.timestamp_ns,
            "severity_text": self.severity_text,
            "severity_number": self.severity_number,
            "body": body if isinstance(body, (str, int, float, bool, type(None))) else repr(body),
            "attributes": _plain(self.attributes),
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "correlation_id": self.correlation_id,
            "resource": _plain(self.resource),
            "event_name": self.event_name,
            "scope": self.scope,
        }

    def __repr__(self) -> str:
        return (
            f"LogRecordView(severity_text={self.severity_text!r}, body={self.body!r}, "
            f"trace_id={self.trace_id!r})"
        )


def log_view_from(
    record: ReadWriteLogRecord | ReadableLogRecord, attributes: Mapping[str, Any] | None = None
) -> LogRecordView:
    """Build a :class:`LogRecordView` from an SDK log record."""
    log = record.log_record
    severity = log.severity_number
    trace_id = log.trace_id or None
    span_id = log.span_id or None
    scope = record.instrumentation_scope
    resource = record.resource
    attrs = log.attributes if attributes is None else attributes
    return tuple.__new__(
        LogRecordView,
        (
            log.timestamp or log.observed_timestamp or 0,
            log.severity_text,
            severity.value if severity is not None else 0,
            log.body,
            MappingProxyType(dict(attrs)) if attrs else _EMPTY,
            trace_id,
            span_id,
            resource.attributes if resource is not None else _EMPTY,
            log.event_name,
            scope.name if scope is not None else "",
        ),
    )


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One metric data point: sums and gauges carry ``value``; histograms carry
    ``count``, ``sum`` and ``buckets`` (``(upper_bound, count)`` pairs, the last
    bound ``inf``)."""

    name: str
    kind: str
    unit: str
    attributes: Mapping[str, Any]
    value: float | int | None = None
    count: int | None = None
    sum: float | None = None
    buckets: tuple[tuple[float, int], ...] = ()
    time_ns: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (the ``inf`` bound as ``"+Inf"``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "unit": self.unit,
            "attributes": _plain(self.attributes),
            "value": self.value,
            "count": self.count,
            "sum": self.sum,
            "buckets": [["+Inf" if b == float("inf") else b, c] for b, c in self.buckets],
            "time_ns": self.time_ns,
        }


@dataclass(frozen=True, slots=True)
class SignalStats:
    """Counters of one ring buffer."""

    accepted: int
    evicted: int
    capacity: int
    size: int


class RingBuffer(Generic[T]):
    """A thread-safe ring buffer that keeps the newest ``capacity`` items."""

    __slots__ = ("_accepted", "_cleared", "_items", "_lock", "capacity")

    def __init__(self, capacity: int) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        self._items: deque[T] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._accepted = 0
        self._cleared = 0  # every accepted item is held, evicted or cleared

    def append(self, item: T) -> None:
        """Add ``item``; the oldest item is evicted (and counted) when full."""
        with self._lock:
            self._items.append(item)
            self._accepted += 1

    def snapshot(self) -> list[T]:
        """The items, oldest first."""
        with self._lock:
            return list(self._items)

    def stats(self) -> SignalStats:
        """Accepted and evicted counts, capacity and current size."""
        with self._lock:
            size = len(self._items)
            evicted = self._accepted - self._cleared - size
            return SignalStats(self._accepted, evicted, self.capacity, size)

    def clear(self) -> None:
        """Drop every item (counters are kept)."""
        with self._lock:
            self._cleared += len(self._items)
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


MetricSource = Callable[[], Sequence[MetricPoint]]


def _check_str(name: str, value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")


def _check_hex(name: str, value: object, width: int) -> None:
    _check_str(name, value)
    if isinstance(value, str) and (
        len(value) != width or any(c not in _HEX for c in value.lower())
    ):
        raise ValueError(f"{name} must be {width} hex characters, got {value[:40]!r}")


def _since_ns(since: object) -> int | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime (UTC), not a naive one")
        return int(since.timestamp() * 1e9)
    if isinstance(since, int) and not isinstance(since, bool):
        return since
    raise TypeError(f"since must be an aware datetime or nanoseconds, got {type(since).__name__}")


class TelemetryStore:
    """The in-memory store: spans, log records, alerts, health results, metrics.

    >>> store = TelemetryStore(capacity=2)
    >>> store.stats()["spans"].capacity
    2
    """

    def __init__(
        self,
        capacity: int = 10_000,
        *,
        spans_capacity: int | None = None,
        logs_capacity: int | None = None,
        alerts_capacity: int | None = None,
        health_capacity: int | None = None,
        metric_source: MetricSource | None = None,
    ) -> None:
        self._spans: RingBuffer[SpanRecord] = RingBuffer(spans_capacity or capacity)
        self._logs: RingBuffer[LogRecordView] = RingBuffer(logs_capacity or capacity)
        self._alerts: RingBuffer[FlextAlert] = RingBuffer(alerts_capacity or capacity)
        self._health: RingBuffer[FlextHealthCheck] = RingBuffer(health_capacity or capacity)
        self._metric_source = metric_source
        self.add_span = self._spans.append
        self.add_log = self._logs.append
        self.add_alert = self._alerts.append
        self.add_health_check = self._health.append

    def after_fork_in_child(self) -> None:
        """In a forked child: new ring locks (another thread may have held one at fork)."""
        for ring in (self._spans, self._logs, self._alerts, self._health):
            ring._lock = threading.Lock()

    def set_metric_source(self, source: MetricSource | None) -> None:
        """Where :meth:`metrics` reads points from (an in-memory metric reader)."""
        self._metric_source = source

    # -- queries ----------------------------------------------------------
    def spans(
        self,
        name: str | None = None,
        *,
        trace_id: str | None = None,
        status: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        since: datetime | int | None = None,
    ) -> list[SpanRecord]:
        """Finished spans matching every given filter, newest last."""
        _check_str("name", name)
        _check_hex("trace_id", trace_id, 32)
        if status is not None and status not in ("unset", "ok", "error"):
            raise ValueError(f"status must be 'unset', 'ok' or 'error', got {status!r}")
        if attributes is not None and not isinstance(attributes, Mapping):
            raise TypeError(f"attributes must be a mapping, got {type(attributes).__name__}")
        since_ns = _since_ns(since)
        tid = int(trace_id, 16) if trace_id is not None else None
        items = self._spans.snapshot()
        if name is not None:
            items = [s for s in items if s[0] == name]
        if tid is not None:
            items = [s for s in items if s[1] == tid]
        if status is not None:
            items = [s for s in items if s[7] == status]
        if since_ns is not None:
            items = [s for s in items if s[5] >= since_ns]
        if attributes:
            wanted = list(attributes.items())
            items = [s for s in items if all(s[9].get(k) == v for k, v in wanted)]
        return items

    def trace(self, trace_id: str) -> list[SpanNode]:
        """The roots of one trace as trees (children in start order).

        A span whose parent is not in the store (evicted, or remote) is a root.
        """
        if not isinstance(trace_id, str):
            raise TypeError(f"trace_id must be a string, got {type(trace_id).__name__}")
        _check_hex("trace_id", trace_id, 32)
        spans = sorted(self.spans(trace_id=trace_id), key=itemgetter(5))
        nodes = {s[2]: SpanNode(s) for s in spans}
        roots: list[SpanNode] = []
        for record in spans:
            node = nodes[record[2]]
            parent = nodes.get(record[3]) if record[3] is not None else None
            if parent is None or parent is node:
                roots.append(node)
            else:
                parent.children.append(node)
        return roots

    def trace_ids(self) -> list[str]:
        """Distinct trace IDs, in order of their newest span (newest last)."""
        seen: dict[int, None] = {}
        for record in self._spans.snapshot():
            seen.pop(record[1], None)
            seen[record[1]] = None
        return [format(t, "032x") for t in seen]

    def logs(
        self,
        *,
        min_level: str | int | None = None,
        trace_id: str | None = None,
        correlation_id: str | None = None,
        contains: str | None = None,
    ) -> list[LogRecordView]:
        """Log records matching every given filter, newest last.

        ``min_level`` is a level name (``"warning"``) or an OTel severity number.
        """
        threshold = _severity_threshold(min_level)
        _check_hex("trace_id", trace_id, 32)
        _check_str("correlation_id", correlation_id)
        _check_str("contains", contains)
        tid = int(trace_id, 16) if trace_id is not None else None
        items = self._logs.snapshot()
        if threshold:
            items = [r for r in items if r[2] >= threshold]
        if tid is not None:
            items = [r for r in items if r[5] == tid]
        if correlation_id is not None:
            items = [r for r in items if r[4].get(CORRELATION_ATTRIBUTE) == correlation_id]
        if contains is not None:
            needle = contains.lower()
            items = [r for r in items if needle in str(r[3]).lower()]
        return items

    def alerts(self, severity: str | None = None, status: str | None = None) -> list[FlextAlert]:
        """Recorded alerts, newest last."""
        _check_str("severity", severity)
        _check_str("status", status)
        return [
            a
            for a in self._alerts.snapshot()
            if (severity is None or a.severity == severity)
            and (status is None or a.status == status)
        ]

    def health_checks(self, component: str | None = None) -> list[FlextHealthCheck]:
        """Recorded health results, newest last."""
        _check_str("component", component)
        return [h for h in self._health.snapshot() if component is None or h.component == component]

    def metrics(self, name: str | None = None) -> list[MetricPoint]:
        """Latest metric points (one per instrument and attribute set)."""
        _check_str("name", name)
        if self._metric_source is None:
            return []
        points = list(self._metric_source())
        return points if name is None else [p for p in points if p.name == name]

    def stats(self) -> dict[str, SignalStats]:
        """Accepted, evicted, capacity and size per signal."""
        return {
            "spans": self._spans.stats(),
            "logs": self._logs.stats(),
            "alerts": self._alerts.stats(),
            "health": self._health.stats(),
        }

    def clear(self) -> None:
        """Forget every stored item (counters are kept)."""
        for buffer in (self._spans, self._logs, self._alerts, self._health):
            buffer.clear()


def _severity_threshold(min_level: object) -> int:
    if min_level is None:
        return 0
    if isinstance(min_level, bool):
        raise TypeError("min_level must be a level name or a severity number, not a bool")
    if isinstance(min_level, int):
        if not 0 <= min_level <= 24:
            raise ValueError(f"min_level must be between 0 and 24, got {min_level}")
        return min_level
    if isinstance(min_level, str):
        number = LEVELS.get(min_level.lower())
        if number is None:
            raise ValueError(
                f"min_level must be one of trace, debug, info, warning, error, critical; "
                f"got {min_level[:40]!r}"
            )
        return number
    raise TypeError(f"min_level must be a level name or a number, got {type(min_level).__name__}")
