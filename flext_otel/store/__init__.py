"""The bounded, thread-safe, queryable in-memory telemetry store.

Modules: ``records`` (the record types), ``reading`` (building records from SDK
objects), ``ring`` (the ring buffer), ``index`` (the span ring indexed by
trace, trace summaries), ``trees`` (trace trees) and ``telemetry``
(:class:`TelemetryStore` and its queries).
Imports: ``support`` and ``domain``; the OpenTelemetry API and SDK types for
building records.
"""

from flext_otel.store.index import SpanIndex, TraceSummary
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
from flext_otel.store.ring import RingBuffer
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.store.trees import SpanNode, build_tree

__all__ = [
    "LEVELS",
    "MAX_NAME_LENGTH",
    "SIGNALS",
    "LogRecordView",
    "MetricPoint",
    "RingBuffer",
    "SignalStats",
    "SpanIndex",
    "SpanNode",
    "SpanRecord",
    "TelemetryStore",
    "TraceSummary",
    "bounded_name",
    "build_tree",
    "log_view_from",
    "span_record_from",
]
