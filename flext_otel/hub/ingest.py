"""OTLP ingest: request bodies in, decoded records out (production code, no I/O).

Everything that turns an OTLP export request into Python values lives here, shared
by the hub and by the test receiver (``flext_otel.testing.OtlpReceiver``):

* :func:`decode_body`: the HTTP body of ``/v1/traces|metrics|logs`` (protobuf or
  JSON, identity/gzip/deflate) into the request message, with the size limit
  applied to the compressed *and* the decoded bytes (a gzip bomb stops at the
  limit); every refusal is an :class:`IngestError` carrying the HTTP status
  (400 garbage, 413 too large, 415 wrong type or encoding).
* Plain decoders (:func:`received_spans`, :func:`received_logs`,
  :func:`metric_points`, from :mod:`flext_otel.hub.decode`, re-exported here):
  frozen records with OTLP's own enums, what a test asserts on.
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
from collections.abc import Iterator, Mapping
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
except ImportError as exc:  # pragma: no cover - the otlp extra brings both
    raise ImportError(
        "OTLP ingest needs opentelemetry-proto: pip install 'flext-otel[otlp]'"
    ) from exc

from flext_otel.hub.decode import (
    ReceivedLog,
    ReceivedMetricPoint,
    ReceivedSpan,
    any_value,
    attributes,
    metric_points,
    received_logs,
    received_spans,
)
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


def _frozen(pairs: Any) -> Mapping[str, Any]:
    return MappingProxyType(attributes(pairs)) if pairs else _EMPTY


def _int_or_none(raw: bytes) -> int | None:
    return int.from_bytes(raw, "big") or None if raw else None


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
