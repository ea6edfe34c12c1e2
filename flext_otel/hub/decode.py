"""Plain OTLP decoding: export requests into small frozen records with OTLP's enums.

What a test asserts on (``flext_otel.testing.OtlpReceiver`` returns these) and what
the hub merges metrics from: :func:`received_spans`, :func:`received_logs`,
:func:`metric_points`, and the value helpers :func:`any_value` / :func:`attributes`.
The hub's store decoders (:mod:`flext_otel.hub.ingest`) build the store's records
directly instead.

Imports: the OTLP protobuf bindings only. Pure functions: safe from any thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

try:
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
except ImportError as exc:  # pragma: no cover - the otlp extra brings them
    raise ImportError(
        "OTLP decoding needs opentelemetry-proto: pip install 'flext-otel[otlp]'"
    ) from exc

__all__ = [
    "MetricKind",
    "ReceivedLog",
    "ReceivedMetricPoint",
    "ReceivedSpan",
    "any_value",
    "attributes",
    "metric_points",
    "received_logs",
    "received_spans",
]

MetricKind = Literal["sum", "gauge", "histogram", "exponential_histogram", "summary"]


def any_value(value: common_pb2.AnyValue) -> Any:
    """Convert an OTLP ``AnyValue`` into the matching Python value."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if which == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return bytes(value.bytes_value)
    return None


def attributes(pairs: Iterable[common_pb2.KeyValue]) -> dict[str, Any]:
    """OTLP ``KeyValue`` pairs as a dict."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def _hex_or_none(raw: bytes) -> str | None:
    return raw.hex() if raw and any(raw) else None


# --------------------------------------------------------------------------- plain records


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One span as it arrived. ``kind`` and ``status_code`` are the OTLP enum values
    (kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer; status: 0 unset,
    1 ok, 2 error). IDs are lowercase hex; ``parent_span_id`` is ``None`` for roots."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: int
    start_time_ns: int
    end_time_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    events: tuple[tuple[str, int, dict[str, Any]], ...]
    resource: dict[str, Any]
    scope: str
    links: tuple[tuple[str, str, dict[str, Any]], ...] = ()


@dataclass(frozen=True, slots=True)
class ReceivedLog:
    """One log record as it arrived; IDs are lowercase hex or ``None`` when unset."""

    body: Any
    severity_number: int
    severity_text: str
    attributes: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    event_name: str | None
    timestamp_ns: int
    resource: dict[str, Any]
    scope: str
    observed_timestamp_ns: int = 0


@dataclass(frozen=True, slots=True)
class ReceivedMetricPoint:
    """One data point of one metric. ``value`` is set for sums and gauges; ``count``,
    ``sum`` (and ``min``/``max`` when sent) for histograms and summaries;
    ``bucket_counts``/``explicit_bounds`` for histograms (for exponential histograms
    ``bucket_counts`` holds the positive buckets). ``is_monotonic`` is set for sums;
    ``temporality`` is OTLP's (1 delta, 2 cumulative, 0 for gauges and summaries)."""

    name: str
    kind: MetricKind
    unit: str
    attributes: dict[str, Any]
    value: float | int | None
    count: int | None
    sum: float | None
    bucket_counts: tuple[int, ...]
    explicit_bounds: tuple[float, ...]
    is_monotonic: bool | None
    time_ns: int
    resource: dict[str, Any]
    scope: str
    min: float | None = None
    max: float | None = None
    temporality: int = 0
    start_time_ns: int = 0
    description: str = ""


def _walk(groups: Any, scoped: str, items: str) -> Iterator[tuple[dict[str, Any], str, Any]]:
    """``(resource, scope name, item)`` for every item of a request's groups."""
    for group in groups:
        resource = attributes(group.resource.attributes)
        for scope_group in getattr(group, scoped):
            scope = scope_group.scope.name
            for item in getattr(scope_group, items):
                yield resource, scope, item


def received_spans(request: trace_service_pb2.ExportTraceServiceRequest) -> list[ReceivedSpan]:
    """Every span of a trace export request, in order."""
    return [
        ReceivedSpan(
            name=span.name,
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_span_id=_hex_or_none(span.parent_span_id),
            kind=int(span.kind),
            start_time_ns=span.start_time_unix_nano,
            end_time_ns=span.end_time_unix_nano,
            status_code=int(span.status.code),
            status_message=span.status.message,
            attributes=attributes(span.attributes),
            events=tuple(
                (event.name, event.time_unix_nano, attributes(event.attributes))
                for event in span.events
            ),
            resource=resource,
            scope=scope,
            links=tuple(
                (link.trace_id.hex(), link.span_id.hex(), attributes(link.attributes))
                for link in span.links
            ),
        )
        for resource, scope, span in _walk(request.resource_spans, "scope_spans", "spans")
    ]


def received_logs(request: logs_service_pb2.ExportLogsServiceRequest) -> list[ReceivedLog]:
    """Every log record of a logs export request, in order."""
    return [
        ReceivedLog(
            body=any_value(record.body) if record.HasField("body") else None,
            severity_number=int(record.severity_number),
            severity_text=record.severity_text,
            attributes=attributes(record.attributes),
            trace_id=_hex_or_none(record.trace_id),
            span_id=_hex_or_none(record.span_id),
            event_name=getattr(record, "event_name", "") or None,
            timestamp_ns=record.time_unix_nano,
            resource=resource,
            scope=scope,
            observed_timestamp_ns=record.observed_time_unix_nano,
        )
        for resource, scope, record in _walk(request.resource_logs, "scope_logs", "log_records")
    ]


def _metric_point(metric: Any, which: str, point: Any, **shared: Any) -> ReceivedMetricPoint:
    """Flatten one data point; ``which`` is the metric's ``data`` oneof."""
    value: float | int | None = None
    count: int | None = None
    total: float | None = None
    buckets: tuple[int, ...] = ()
    bounds: tuple[float, ...] = ()
    if which in ("sum", "gauge"):
        number = point.WhichOneof("value")
        value = float(point.as_double) if number == "as_double" else int(point.as_int)
    else:
        count = int(point.count)
        total = float(point.sum) if which == "summary" or point.HasField("sum") else None
    if which == "histogram":
        buckets, bounds = tuple(point.bucket_counts), tuple(point.explicit_bounds)
    elif which == "exponential_histogram":
        buckets = tuple(point.positive.bucket_counts)
    extremes = which in ("histogram", "exponential_histogram")
    data = getattr(metric, which)
    return ReceivedMetricPoint(
        name=metric.name,
        kind=which,  # type: ignore[arg-type]  # the data oneof names are the kinds
        unit=metric.unit,
        attributes=attributes(point.attributes),
        value=value,
        count=count,
        sum=total,
        bucket_counts=buckets,
        explicit_bounds=bounds,
        is_monotonic=bool(metric.sum.is_monotonic) if which == "sum" else None,
        time_ns=int(point.time_unix_nano),
        min=float(point.min) if extremes and point.HasField("min") else None,
        max=float(point.max) if extremes and point.HasField("max") else None,
        temporality=int(getattr(data, "aggregation_temporality", 0)),
        start_time_ns=int(getattr(point, "start_time_unix_nano", 0)),
        description=metric.description,
        **shared,
    )


def metric_points(
    request: metrics_service_pb2.ExportMetricsServiceRequest,
) -> list[ReceivedMetricPoint]:
    """Every data point of a metrics export request, flattened, in order."""
    points: list[ReceivedMetricPoint] = []
    for resource, scope, metric in _walk(request.resource_metrics, "scope_metrics", "metrics"):
        which = metric.WhichOneof("data")
        if which is None:
            continue
        points.extend(
            _metric_point(metric, which, point, resource=resource, scope=scope)
            for point in getattr(metric, which).data_points
        )
    return points
