"""The bounded, thread-safe, queryable in-memory telemetry store.

Records, ring buffers, queries and trace trees. Imports: ``support`` and ``domain``;
OpenTelemetry SDK types for building records.
"""

from flext_otel.store.telemetry import (
    LEVELS,
    MAX_NAME_LENGTH,
    SIGNALS,
    LogRecordView,
    MetricPoint,
    RingBuffer,
    SignalStats,
    SpanNode,
    SpanRecord,
    TelemetryStore,
    bounded_name,
    log_view_from,
    span_record_from,
)

__all__ = [
    "LEVELS",
    "MAX_NAME_LENGTH",
    "SIGNALS",
    "LogRecordView",
    "MetricPoint",
    "RingBuffer",
    "SignalStats",
    "SpanNode",
    "SpanRecord",
    "TelemetryStore",
    "bounded_name",
    "log_view_from",
    "span_record_from",
]
