"""OTLP ingest: request bodies in, decoded records out (production code, no I/O).

Everything that turns an OTLP export request into Python values lives here, shared
by the hub and by the test receiver (``flext_otel.testing.OtlpReceiver``):

* :func:`decode_body`: the HTTP body of ``/v1/traces|metrics|logs`` (protobuf or
  JSON, identity/gzip/deflate) into the request message, with the size limit
  applied to the compressed *and* the decoded bytes (a gzip bomb stops at the
  limit); every refusal is an :class:`IngestError` carrying the HTTP status
  (400 garbage, 413 too large, 415 wrong type or encoding).
* Plain decoders (:func:`received_spans`, :func:`received_logs`,
  :func:`metric_points`): frozen records with OTLP's own enums, what a test
  asserts on.
* Store decoders (:func:`store_spans`, :func:`store_logs`): the store's compact
  ``SpanRecord`` / ``LogRecordView`` straight from the message, one resource
  mapping shared by the records of one ``ResourceSpans`` / ``ResourceLogs``.
  Malformed items (IDs of the wrong length) are skipped and counted so the
  caller can answer with an OTLP partial success.

Imports: ``store`` and the OTLP protobuf bindings (``opentelemetry-proto``, shipped
with the ``otlp`` extra). Pure functions: safe from any thread.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

try:
    # protobuf ships no type hints; the stubs (types-protobuf) may or may not be installed
    from google.protobuf import json_format  # type: ignore[import-untyped,unused-ignore]
    from google.protobuf.message import Message  # type: ignore[import-untyped,unused-ignore]
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.common.v1 import common_pb2
except ImportError as exc:  # pragma: no cover - the otlp extra brings both
    raise ImportError(
        "OTLP ingest needs opentelemetry-proto: pip install 'flext-otel[otlp]'"
    ) from exc

from flext_otel.store.telemetry import (
    MAX_NAME_LENGTH,
    LogRecordView,
    SpanRecord,
    bounded_name,
)

__all__ = [
    "LOGS",
    "MAX_BODY_BYTES",
    "METRICS",
    "SIGNAL_BY_PATH",
    "TRACES",
    "IngestError",
    "ReceivedLog",
    "ReceivedMetricPoint",
    "ReceivedSpan",
    "Signal",
    "SignalName",
    "any_value",
    "attributes",
    "decode_body",
    "encode_response",
    "is_json",
    "metric_points",
    "received_logs",
    "received_spans",
    "store_logs",
    "store_spans",
]

MAX_BODY_BYTES = 20 * 1024 * 1024
"""Default limit of a request body, compressed and decoded (the Collector's 20 MiB)."""

SignalName = Literal["traces", "metrics", "logs"]
MetricKind = Literal["sum", "gauge", "histogram", "exponential_histogram", "summary"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_KIND_NAMES = ("internal", "internal", "server", "client", "producer", "consumer")
_STATUS_NAMES = ("unset", "ok", "error")


# --------------------------------------------------------------------------- signals


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal: its name, request and response messages, and HTTP path."""

    name: SignalName
    request_type: type[Message]
    response_type: type[Message]
    path: str
    rejected_field: str
    """The ``partial_success`` field counting refused items (``rejected_spans``...)."""


TRACES = Signal(
    "traces",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_service_pb2.ExportTraceServiceResponse,
    "/v1/traces",
    "rejected_spans",
)
METRICS = Signal(
    "metrics",
    metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse,
    "/v1/metrics",
    "rejected_data_points",
)
LOGS = Signal(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_service_pb2.ExportLogsServiceResponse,
    "/v1/logs",
    "rejected_log_records",
)
SIGNAL_BY_PATH = {s.path: s for s in (TRACES, METRICS, LOGS)}


# --------------------------------------------------------------------------- bodies


class IngestError(Exception):
    """A request refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decompress(body: bytes, encoding: str, limit: int = MAX_BODY_BYTES) -> bytes:
    """``body`` decoded per ``Content-Encoding``; never inflates past ``limit`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        candidates = [16 + zlib.MAX_WBITS]
    elif encoding == "deflate":
        candidates = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped, then raw deflate
    else:
        raise IngestError(415, f"unsupported Content-Encoding {encoding[:40]!r}")
    for wbits in candidates:
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(data) > limit or inflater.unconsumed_tail:
            raise IngestError(413, f"decompressed body is over the {limit}-byte limit")
        if not inflater.eof:
            continue
        return data
    raise IngestError(400, f"body is not valid {encoding} data")


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes IDs as hex; protobuf's JSON mapping expects base64 bytes."""
    if isinstance(node, dict):
        return {
            key: (
                base64.b64encode(bytes.fromhex(value)).decode("ascii")
                if key in _ID_KEYS and isinstance(value, str)
                else _hex_ids_to_base64(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def media_type(content_type: str) -> str:
    """The media type of a ``Content-Type`` value, lowercase, without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    """True for ``application/json`` (OTLP/JSON)."""
    return media_type(content_type) == "application/json"


def decode_body(
    signal: Signal,
    body: bytes,
    content_type: str,
    content_encoding: str = "",
    limit: int = MAX_BODY_BYTES,
) -> Message:
    """The request message of an OTLP/HTTP body; raises :class:`IngestError`."""
    kind = media_type(content_type)
    if kind not in ("application/json", "application/x-protobuf", "application/protobuf", ""):
        raise IngestError(415, f"unsupported Content-Type {content_type[:80]!r}")
    if len(body) > limit:
        raise IngestError(413, f"body of {len(body)} bytes is over the {limit}-byte limit")
    data = decompress(body, content_encoding, limit)
    request = signal.request_type()
    try:
        if kind == "application/json":
            parsed = json.loads(data)
            if not isinstance(parsed, dict):
                raise ValueError("an OTLP/JSON request is an object")
            json_format.ParseDict(_hex_ids_to_base64(parsed), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(data)
    except Exception as error:  # protobuf/JSON decoders raise several unrelated types
        raise IngestError(400, f"cannot decode {signal.name} request: {error}") from None
    return request


def encode_response(
    signal: Signal, content_type: str, rejected: int = 0, message: str = ""
) -> bytes:
    """The ``Export*ServiceResponse`` body, with a partial success when items were refused."""
    response = signal.response_type()
    if rejected:
        partial = response.partial_success
        setattr(partial, signal.rejected_field, rejected)
        partial.error_message = message
    if is_json(content_type):
        return bytes(json_format.MessageToJson(response).encode("utf-8"))
    return bytes(response.SerializeToString())


def status_body(code: int, message: str, content_type: str) -> bytes:
    """An OTLP/HTTP error body: a ``google.rpc.Status`` (JSON or protobuf)."""
    if is_json(content_type):
        return json.dumps({"code": code, "message": message}).encode("utf-8")
    from google.rpc import status_pb2  # type: ignore[import-untyped,unused-ignore]

    return bytes(status_pb2.Status(code=code, message=message).SerializeToString())


# --------------------------------------------------------------------------- values


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


def _frozen(pairs: Any) -> Mapping[str, Any]:
    return MappingProxyType(attributes(pairs)) if pairs else _EMPTY


def _hex_or_none(raw: bytes) -> str | None:
    return raw.hex() if raw and any(raw) else None


def _int_or_none(raw: bytes) -> int | None:
    return int.from_bytes(raw, "big") or None if raw else None


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


# --------------------------------------------------------------------------- store records


def _name(raw: str) -> str:
    return raw if len(raw) <= MAX_NAME_LENGTH else bounded_name(raw)


def store_spans(
    request: trace_service_pb2.ExportTraceServiceRequest,
) -> Iterator[tuple[Mapping[str, Any], list[SpanRecord], int]]:
    """Per ``ResourceSpans``: its resource (shared), its spans as records, and how
    many spans were refused (trace ID not 16 bytes or span ID not 8 bytes)."""
    new = tuple.__new__
    for group in request.resource_spans:
        resource = _frozen(group.resource.attributes)
        records: list[SpanRecord] = []
        refused = 0
        for scope_group in group.scope_spans:
            scope = scope_group.scope.name
            for span in scope_group.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if len(trace_id) != 16 or len(span_id) != 8 or len(parent) not in (0, 8):
                    refused += 1
                    continue
                status = span.status
                start = span.start_time_unix_nano
                kind = span.kind
                code = status.code
                events = span.events
                records.append(
                    new(
                        SpanRecord,
                        (
                            _name(span.name),
                            int.from_bytes(trace_id, "big"),
                            int.from_bytes(span_id, "big"),
                            int.from_bytes(parent, "big") or None if parent else None,
                            _KIND_NAMES[kind] if 0 <= kind <= 5 else "internal",
                            start,
                            span.end_time_unix_nano or start,
                            _STATUS_NAMES[code] if 0 <= code <= 2 else "unset",
                            status.message or None,
                            _frozen(span.attributes),
                            tuple(
                                [
                                    (_name(e.name), e.time_unix_nano, _frozen(e.attributes))
                                    for e in events
                                ]
                            )
                            if events
                            else (),
                            resource,
                            scope,
                        ),
                    )
                )
        yield resource, records, refused


def store_logs(
    request: logs_service_pb2.ExportLogsServiceRequest,
) -> Iterator[tuple[Mapping[str, Any], list[LogRecordView], int]]:
    """Per ``ResourceLogs``: its resource (shared), its records, and how many were
    refused (a trace ID not 16 bytes or a span ID not 8 bytes, when present)."""
    new = tuple.__new__
    for group in request.resource_logs:
        resource = _frozen(group.resource.attributes)
        records: list[LogRecordView] = []
        refused = 0
        for scope_group in group.scope_logs:
            scope = scope_group.scope.name
            for record in scope_group.log_records:
                trace_id, span_id = record.trace_id, record.span_id
                if len(trace_id) not in (0, 16) or len(span_id) not in (0, 8):
                    refused += 1
                    continue
                records.append(
                    new(
                        LogRecordView,
                        (
                            record.time_unix_nano or record.observed_time_unix_nano,
                            record.severity_text or None,
                            int(record.severity_number),
                            any_value(record.body) if record.HasField("body") else None,
                            _frozen(record.attributes),
                            _int_or_none(trace_id),
                            _int_or_none(span_id),
                            resource,
                            getattr(record, "event_name", "") or None,
                            scope,
                        ),
                    )
                )
        yield resource, records, refused
