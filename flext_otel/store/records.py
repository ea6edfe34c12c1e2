"""The store's record types: compact, immutable, OTel-shaped views of finished telemetry.

:class:`SpanRecord` and :class:`LogRecordView` are slotted tuples: IDs are kept as
integers (hex strings are produced on access), the resource is a reference to the
provider's shared attributes, and a span's attributes are one plain ``dict`` copy
(read through a read-only view), so a retained span costs a few hundred bytes
instead of the SDK span's dozen objects. :class:`MetricPoint` and
:class:`SignalStats` are small frozen dataclasses.

Imports: ``support`` only (no OpenTelemetry: :mod:`flext_otel.store.reading`
builds records from SDK objects). Records are immutable, so any thread may
read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import Any

from flext_otel.support.keys import CORRELATION_ATTRIBUTE

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
    def attributes(self) -> Mapping[str, Any]:
        """The span's attributes (read-only)."""
        held = self[9]
        return MappingProxyType(held) if type(held) is dict else held

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


MAX_NAME_LENGTH = 8_192
"""Span and event names longer than this are cut (the SDK bounds attribute values,
not names), so one huge name cannot make the store or an export unbounded."""


def bounded_name(name: object) -> str:
    """``name`` as a string of at most :data:`MAX_NAME_LENGTH` characters."""
    text = name if isinstance(name, str) else str(name)
    return text if len(text) <= MAX_NAME_LENGTH else text[:MAX_NAME_LENGTH]


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


__all__ = [
    "LEVELS",
    "MAX_NAME_LENGTH",
    "SIGNALS",
    "LogRecordView",
    "MetricPoint",
    "SignalStats",
    "SpanRecord",
    "bounded_name",
]
