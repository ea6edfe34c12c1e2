"""The in-memory telemetry store: bounded buffers per signal and the queries over them.

:class:`TelemetryStore` keeps the newest ``capacity`` spans (indexed by trace,
:mod:`flext_otel.store.index`), log records, alerts and health results (ring
buffers, :mod:`flext_otel.store.ring`); older items are evicted and counted.
Metric points are read on demand from a metric source (no work until queried).
Queries validate their arguments (``TypeError`` / ``ValueError`` on bad input)
and return lists, newest last; ``trace(id)`` and the trace list use the trace
index, so their cost does not grow with the capacity.

This module also re-exports the record types, the ring buffer and the trace
tree, so ``flext_otel.store.telemetry`` keeps offering every store name.

Imports: the ``store`` modules, ``support`` and ``domain`` (types only).
Threading: every buffer takes its own short lock; the ``add_*`` methods are
called from SDK hooks on application threads and do O(1) work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flext_otel.store.index import SpanIndex, TraceFilter, TraceSummary
from flext_otel.store.reading import log_view_from, span_record_from
from flext_otel.store.records import (
    LEVELS,
    MAX_NAME_LENGTH,
    SIGNALS,
    LogRecordView,
    MetricPoint,
    SignalStats,
    SpanRecord,
    bounded_name,
)
from flext_otel.store.ring import RingBuffer, check_capacity
from flext_otel.store.trees import SpanNode, build_tree
from flext_otel.support.keys import CORRELATION_ATTRIBUTE

if TYPE_CHECKING:
    from flext_otel.domain.entities import FlextAlert, FlextHealthCheck

_HEX = "0123456789abcdef"

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
        self._spans = SpanIndex(spans_capacity or capacity)
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
        traces: int | None = None,
        before: tuple[int, int] | None = None,
        trace_filter: TraceFilter | None = None,
    ) -> list[SpanRecord]:
        """Finished spans matching every given filter, newest last.

        ``traces=n`` limits the spans to those of the ``n`` retained traces with
        the latest start times (after ``before`` and ``trace_filter``, as in
        :meth:`recent_traces`), grouped by trace, the newest trace last; the
        other filters then apply to those spans. Served from the trace index.
        """
        _check_str("name", name)
        _check_hex("trace_id", trace_id, 32)
        if status is not None and status not in ("unset", "ok", "error"):
            raise ValueError(f"status must be 'unset', 'ok' or 'error', got {status!r}")
        if attributes is not None and not isinstance(attributes, Mapping):
            raise TypeError(f"attributes must be a mapping, got {type(attributes).__name__}")
        since_ns = _since_ns(since)
        if traces is not None:
            found = self.recent_traces(traces, before=before, keep=trace_filter)
            items = [record for trace in found for record in trace.spans]
            if trace_id is not None:
                items = [s for s in items if s[1] == int(trace_id, 16)]
        elif trace_id is not None:  # one lookup in the trace index, arrival order
            items = self._spans.trace_spans(int(trace_id, 16))
        else:
            items = self._spans.snapshot()
        if name is not None:
            items = [s for s in items if s[0] == name]
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
        One lookup in the trace index: the cost does not grow with the store.
        """
        if not isinstance(trace_id, str):
            raise TypeError(f"trace_id must be a string, got {type(trace_id).__name__}")
        _check_hex("trace_id", trace_id, 32)
        return build_tree(self._spans.trace_spans(int(trace_id, 16)))

    def trace_ids(self) -> list[str]:
        """Distinct trace IDs, in order of their newest span (newest last)."""
        seen: dict[int, None] = {}
        for record in self._spans.snapshot():
            seen.pop(record[1], None)
            seen[record[1]] = None
        return [format(t, "032x") for t in seen]

    def recent_traces(
        self,
        limit: int = 100,
        *,
        before: tuple[int, int] | None = None,
        keep: TraceFilter | None = None,
    ) -> list[TraceSummary]:
        """Up to ``limit`` retained traces with the latest start times, newest LAST.

        ``before`` ``(start_ns, trace_id_int)`` keeps traces ordered strictly
        before it (start, then trace ID; ``-1`` as the ID keeps earlier starts
        only); ``keep`` filters traces. Served from the trace index: a page
        reads the newest spans only, whatever the store holds.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        found = self._spans.recent(limit, before=before, keep=keep)
        found.reverse()
        return found

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


__all__ = [
    "LEVELS",
    "MAX_NAME_LENGTH",
    "SIGNALS",
    "LogRecordView",
    "MetricPoint",
    "MetricSource",
    "RingBuffer",
    "SignalStats",
    "SpanIndex",
    "SpanNode",
    "SpanRecord",
    "TelemetryStore",
    "TraceFilter",
    "TraceSummary",
    "bounded_name",
    "build_tree",
    "check_capacity",
    "log_view_from",
    "span_record_from",
]
