"""OtlpReceiver against the official OTLP exporters, over gRPC and over HTTP."""

from __future__ import annotations

import contextlib
import http.client
import importlib
import json
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import grpc
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from flext_otel.testing.receiver import OtlpReceiver

Signal = Literal["traces", "metrics", "logs"]

RESOURCE = Resource.create({"service.name": "checkout", "deployment.environment": "test"})
NO_EXPORT_INTERVAL_MS = 3_600_000  # metric exports happen only through force_flush

_EXPORTERS: dict[tuple[str, Signal], Any] = {
    ("grpc", "traces"): GrpcSpanExporter,
    ("grpc", "metrics"): GrpcMetricExporter,
    ("grpc", "logs"): GrpcLogExporter,
    ("http", "traces"): HttpSpanExporter,
    ("http", "metrics"): HttpMetricExporter,
    ("http", "logs"): HttpLogExporter,
}


def exporter(
    rx: OtlpReceiver,
    signal: Signal,
    *,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
    compression: str | None = None,
) -> Any:
    """The official OTLP exporter for ``signal`` over the receiver's protocol."""
    options: dict[str, Any] = {"timeout": timeout, "headers": headers}
    if compression is not None:
        options["compression"] = (
            grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.Deflate
        )
        if rx.protocol == "http":
            options["compression"] = HttpCompression(compression)
    return _EXPORTERS[rx.protocol, signal](endpoint=rx.signal_endpoint(signal), **options)


@contextlib.contextmanager
def traced(span_exporter: SpanExporter) -> Iterator[TracerProvider]:
    """A private tracer provider that exports each span as it ends."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    try:
        yield provider
    finally:
        provider.shutdown()


def finished_spans(*names: str) -> Sequence[ReadableSpan]:
    """Real SDK spans to hand to an exporter's ``export`` directly."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for name in names:
        provider.get_tracer("direct").start_span(name).end()
    provider.shutdown()
    return memory.get_finished_spans()


def raw_export(rx: OtlpReceiver, request: Any) -> int | grpc.StatusCode:
    """Send a hand-built OTLP request; HTTP status for http, gRPC status code for grpc."""
    is_logs = isinstance(request, logs_service_pb2.ExportLogsServiceRequest)
    if rx.protocol == "http":
        return post(rx, "/v1/logs" if is_logs else "/v1/traces", request.SerializeToString())[0]
    with grpc.insecure_channel(f"127.0.0.1:{rx.port}") as channel:
        stub_type: Any = (
            logs_service_pb2_grpc.LogsServiceStub
            if is_logs
            else trace_service_pb2_grpc.TraceServiceStub
        )
        try:
            stub_type(channel).Export(request, timeout=5)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            return code
        return grpc.StatusCode.OK


def post(
    rx: OtlpReceiver,
    path: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, bytes]:
    """One raw HTTP request to the receiver on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", rx.port, timeout=5)
    try:
        all_headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def one_span_request(name: str) -> trace_service_pb2.ExportTraceServiceRequest:
    """A minimal hand-built trace request holding one span."""
    span = trace_pb2.Span(name=name, trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]
    )


@pytest.fixture(params=["grpc", "http"])
def rx(request: pytest.FixtureRequest) -> Iterator[OtlpReceiver]:
    """A started receiver for each protocol."""
    with OtlpReceiver(request.param) as receiver:
        yield receiver


# --------------------------------------------------------------------------- spans


def test_spans_arrive_with_sdk_ids_parent_links_attributes_and_resource(rx: OtlpReceiver) -> None:
    """Spans from the real exporter decode with the SDK's IDs, parent links and data."""
    with traced(exporter(rx, "traces")) as provider:
        tracer = provider.get_tracer("checkout.scope")
        with (
            tracer.start_as_current_span("handle-order", kind=SpanKind.SERVER) as parent,
            tracer.start_as_current_span(
                "charge-card",
                kind=SpanKind.CLIENT,
                attributes={"order": 42, "amount": 9.5, "paid": True, "card": "visa"},
                links=[Link(parent.get_span_context(), {"why": "retry"})],
            ) as child,
        ):
            child.set_attribute("tags", ["a", "b"])
            child.add_event("charged", {"gateway": "acme"})
            child.set_status(Status(StatusCode.ERROR, "card declined"))

    first, second = rx.wait_for_spans(2)
    assert (first.name, second.name) == ("charge-card", "handle-order")  # arrival order
    parent_ctx, child_ctx = parent.get_span_context(), child.get_span_context()
    assert second.trace_id == format(parent_ctx.trace_id, "032x")
    assert second.span_id == format(parent_ctx.span_id, "016x")
    assert second.parent_span_id is None
    assert first.trace_id == second.trace_id
    assert first.span_id == format(child_ctx.span_id, "016x")
    assert first.parent_span_id == second.span_id
    assert (first.kind, second.kind) == (3, 2)  # OTLP CLIENT, SERVER
    assert first.attributes == {
        "order": 42,
        "amount": 9.5,
        "paid": True,
        "card": "visa",
        "tags": ("a", "b"),
    }
    assert first.status_code == 2
    assert first.status_message == "card declined"
    assert second.status_code == 0
    assert [(name, attrs) for name, _, attrs in first.events] == [("charged", {"gateway": "acme"})]
    assert first.events[0][1] >= first.start_time_ns
    assert first.links == ((second.trace_id, second.span_id, {"why": "retry"}),)
    assert first.start_time_ns <= first.end_time_ns
    assert first.resource["service.name"] == "checkout"
    assert first.resource["deployment.environment"] == "test"
    assert first.resource["telemetry.sdk.language"] == "python"
    assert first.scope == "checkout.scope"
    assert rx.request_count == 2


def test_endpoint_is_a_valid_otel_exporter_otlp_endpoint(
    rx: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter configured only by OTEL_EXPORTER_OTLP_ENDPOINT reaches the receiver."""
    assert rx.endpoint == f"http://127.0.0.1:{rx.port}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint)
    span_exporter = _EXPORTERS[rx.protocol, "traces"](timeout=10)
    try:
        assert span_exporter.export(finished_spans("from-env")) is SpanExportResult.SUCCESS
    finally:
        span_exporter.shutdown()
    assert [span.name for span in rx.wait_for_spans(1)] == ["from-env"]


# --------------------------------------------------------------------------- logs


def test_logs_arrive_with_severity_body_attributes_and_trace_context(rx: OtlpReceiver) -> None:
    """Log records decode with severity, body, attributes, event name and span IDs."""
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter(rx, "logs")))
    span = TracerProvider().get_tracer("t").start_span("in-span")
    try:
        logger = provider.get_logger("payments")
        logger.emit(
            body="card charged",
            severity_number=SeverityNumber.ERROR,
            severity_text="ERROR",
            attributes={"order": 42},
            event_name="payment.done",
            context=trace.set_span_in_context(span),
        )
        logger.emit(body={"amount": 9.5, "tags": ["a", "b"]}, severity_number=SeverityNumber.INFO)
    finally:
        span.end()
        provider.shutdown()

    first, second = rx.wait_for_logs(2)
    assert first.body == "card charged"
    assert (first.severity_number, first.severity_text) == (17, "ERROR")
    assert first.attributes == {"order": 42}
    assert first.event_name == "payment.done"
    assert first.trace_id == format(span.get_span_context().trace_id, "032x")
    assert first.span_id == format(span.get_span_context().span_id, "016x")
    assert first.timestamp_ns > 0 or first.observed_timestamp_ns > 0
    assert first.resource["service.name"] == "checkout"
    assert first.scope == "payments"
    assert second.body == {"amount": 9.5, "tags": ("a", "b")}
    assert second.severity_number == 9
    assert (second.trace_id, second.span_id, second.event_name) == (None, None, None)


def test_any_value_kinds_are_converted_to_python_values(rx: OtlpReceiver) -> None:
    """String, bool, int, double, array, kvlist, bytes and empty AnyValues convert properly."""
    av = common_pb2.AnyValue
    body = av(
        kvlist_value=common_pb2.KeyValueList(
            values=[
                common_pb2.KeyValue(key="s", value=av(string_value="x")),
                common_pb2.KeyValue(key="b", value=av(bool_value=False)),
                common_pb2.KeyValue(key="i", value=av(int_value=-7)),
                common_pb2.KeyValue(key="d", value=av(double_value=0.25)),
                common_pb2.KeyValue(key="raw", value=av(bytes_value=b"\x00\xff")),
                common_pb2.KeyValue(key="none", value=av()),
                common_pb2.KeyValue(
                    key="list",
                    value=av(
                        array_value=common_pb2.ArrayValue(
                            values=[av(int_value=1), av(string_value="two")]
                        )
                    ),
                ),
            ]
        )
    )
    record = logs_pb2.LogRecord(
        body=body, attributes=[common_pb2.KeyValue(key="nested", value=body)]
    )
    request = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[logs_pb2.ResourceLogs(scope_logs=[logs_pb2.ScopeLogs(log_records=[record])])]
    )
    assert raw_export(rx, request) in (200, grpc.StatusCode.OK)
    expected = {
        "s": "x",
        "b": False,
        "i": -7,
        "d": 0.25,
        "raw": b"\x00\xff",
        "none": None,
        "list": (1, "two"),
    }
    (log,) = rx.wait_for_logs(1)
    assert log.body == expected
    assert log.attributes == {"nested": expected}
    assert (log.trace_id, log.span_id, log.resource, log.scope) == (None, None, {}, "")


# --------------------------------------------------------------------------- metrics


def test_metrics_arrive_as_flattened_points(rx: OtlpReceiver) -> None:
    """Counters, up-down counters, gauges and histograms decode into their points."""
    reader = PeriodicExportingMetricReader(
        exporter(rx, "metrics"), export_interval_millis=NO_EXPORT_INTERVAL_MS
    )
    provider = MeterProvider(metric_readers=[reader], resource=RESOURCE)
    try:
        meter = provider.get_meter("shop.metrics")
        orders = meter.create_counter("orders_total", unit="1")
        orders.add(3, {"region": "eu"})
        orders.add(4, {"region": "eu"})
        orders.add(1, {"region": "us"})
        meter.create_up_down_counter("queue_depth").add(-2)
        meter.create_gauge("temperature", unit="Cel").set(21.5)
        latency = meter.create_histogram(
            "latency", unit="ms", explicit_bucket_boundaries_advisory=[5.0, 10.0]
        )
        for value in (1.0, 7.0, 30.0):
            latency.record(value)
        assert provider.force_flush()

        eu, us = rx.wait_for_metrics(2, name="orders_total")
        (depth,) = rx.wait_for_metrics(1, name="queue_depth")
        (temperature,) = rx.wait_for_metrics(1, name="temperature")
        (hist,) = rx.wait_for_metrics(1, name="latency")
        assert len(rx.metrics()) == 5  # one export so far; shutdown() sends another
        assert [p.name for p in rx.metrics("latency")] == ["latency"]
    finally:
        provider.shutdown()

    assert (eu.kind, eu.value, eu.attributes, eu.unit) == ("sum", 7, {"region": "eu"}, "1")
    assert (us.value, us.is_monotonic) == (1, True)
    assert eu.resource["service.name"] == "checkout"
    assert eu.scope == "shop.metrics"
    assert eu.time_ns > 0
    assert (depth.kind, depth.value, depth.is_monotonic) == ("sum", -2, False)
    assert (temperature.kind, temperature.value, temperature.unit) == ("gauge", 21.5, "Cel")
    assert temperature.is_monotonic is None
    assert (hist.kind, hist.count, hist.sum, hist.value) == ("histogram", 3, 38.0, None)
    assert hist.explicit_bounds == (5.0, 10.0)
    assert hist.bucket_counts == (1, 1, 1)
    assert (hist.min, hist.max) == (1.0, 30.0)


# --------------------------------------------------------------------------- transport


@pytest.mark.parametrize("compression", ["gzip", "deflate"])
def test_compressed_exports_are_decoded(rx: OtlpReceiver, compression: str) -> None:
    """Gzip- and deflate-compressed exports arrive intact (HTTP shows the encoding)."""
    with traced(exporter(rx, "traces", compression=compression)) as provider:
        provider.get_tracer("t").start_span("squeezed", attributes={"blob": "x" * 4096}).end()

    (span,) = rx.wait_for_spans(1)
    assert span.attributes == {"blob": "x" * 4096}
    if rx.protocol == "http":
        assert rx.requests[0]["content-encoding"] == compression


def test_exporter_headers_are_recorded_per_request(rx: OtlpReceiver) -> None:
    """Headers given to the exporter show up, lowercased, on every recorded request."""
    headers = {"x-api-key": "secret", "x-tenant": "acme"}
    with traced(exporter(rx, "traces", headers=headers)) as provider:
        for name in ("one", "two"):
            provider.get_tracer("t").start_span(name).end()

    rx.wait_for_spans(2)
    assert rx.request_count == 2
    for request in rx.requests:
        assert request["x-api-key"] == "secret"
        assert request["x-tenant"] == "acme"
        assert "user-agent" in request
    if rx.protocol == "http":
        assert rx.requests[0]["content-type"] == "application/x-protobuf"


# --------------------------------------------------------------------------- failure injection


@pytest.mark.parametrize("status", [503, 14, 400])
def test_injected_failure_fails_the_export_and_records_nothing(
    rx: OtlpReceiver, status: int
) -> None:
    """While a failure is set the real exporter gets FAILURE; clearing it heals."""
    span_exporter = exporter(rx, "traces", timeout=0.5)
    try:
        rx.set_failure(status)
        assert span_exporter.export(finished_spans("lost")) is SpanExportResult.FAILURE
        assert rx.spans() == []
        assert rx.request_count == 0
        assert rx.rejected >= 1

        rx.set_failure(None)
        assert span_exporter.export(finished_spans("kept")) is SpanExportResult.SUCCESS
    finally:
        span_exporter.shutdown()
    assert [span.name for span in rx.wait_for_spans(1)] == ["kept"]


@pytest.mark.parametrize(
    ("status", "http_status", "grpc_code"),
    [
        (503, 503, grpc.StatusCode.UNAVAILABLE),
        (14, 503, grpc.StatusCode.UNAVAILABLE),
        (429, 429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (400, 400, grpc.StatusCode.INVALID_ARGUMENT),
        (500, 500, grpc.StatusCode.INTERNAL),
        (16, 401, grpc.StatusCode.UNAUTHENTICATED),
    ],
)
def test_failure_status_maps_to_each_protocol(
    rx: OtlpReceiver, status: int, http_status: int, grpc_code: grpc.StatusCode
) -> None:
    """An injected status is an HTTP status over HTTP and the matching gRPC code over gRPC."""
    rx.set_failure(status)
    expected = http_status if rx.protocol == "http" else grpc_code
    assert raw_export(rx, one_span_request("refused")) == expected
    assert rx.rejected == 1
    assert rx.spans() == []


def test_invalid_failure_status_and_delay_are_refused() -> None:
    """set_failure accepts only error statuses and set_delay only non-negative seconds."""
    receiver = OtlpReceiver("http")
    for status in (0, 200, 302, 600):
        with pytest.raises(ValueError, match="status"):
            receiver.set_failure(status)
    with pytest.raises(ValueError, match="delay"):
        receiver.set_delay(-1)


def test_delay_holds_each_request_before_answering(rx: OtlpReceiver) -> None:
    """A short delay slows the answer but the request is still recorded."""
    rx.set_delay(0.3)
    span_exporter = exporter(rx, "traces")
    try:
        started = time.monotonic()
        assert span_exporter.export(finished_spans("slow")) is SpanExportResult.SUCCESS
        assert time.monotonic() - started >= 0.3
    finally:
        span_exporter.shutdown()
    assert [span.name for span in rx.spans()] == ["slow"]


def test_hanging_receiver_times_out_the_exporter_and_stop_interrupts_it(
    rx: OtlpReceiver,
) -> None:
    """A long delay makes the exporter time out; stop() ends the held request promptly."""
    rx.set_delay(60)
    span_exporter = exporter(rx, "traces", timeout=0.3)
    try:
        started = time.monotonic()
        assert span_exporter.export(finished_spans("hung")) is SpanExportResult.FAILURE
        assert time.monotonic() - started < 5
    finally:
        span_exporter.shutdown()

    started = time.monotonic()
    rx.stop()
    assert time.monotonic() - started < 3
    assert not rx.running
    assert rx.spans() == []
    assert rx.rejected >= 1


def test_pause_and_resume_serve_again_on_the_same_port(rx: OtlpReceiver) -> None:
    """pause() takes the receiver down (exports fail), resume() brings it back on its port."""
    port, endpoint = rx.port, rx.endpoint
    healthy = exporter(rx, "traces", timeout=10)
    impatient = exporter(rx, "traces", timeout=0.5)
    try:
        assert healthy.export(finished_spans("before")) is SpanExportResult.SUCCESS
        rx.pause()
        assert (rx.running, rx.paused) == (False, True)
        assert impatient.export(finished_spans("during")) is SpanExportResult.FAILURE

        rx.resume()
        assert (rx.running, rx.paused, rx.port, rx.endpoint) == (True, False, port, endpoint)
        assert healthy.export(finished_spans("after")) is SpanExportResult.SUCCESS
    finally:
        healthy.shutdown()
        impatient.shutdown()
    assert [span.name for span in rx.wait_for_spans(2)] == ["before", "after"]


def test_pause_requires_a_started_receiver() -> None:
    """pause() on a receiver that never started is an error, not a silent no-op."""
    with pytest.raises(RuntimeError, match="started"):
        OtlpReceiver("grpc").pause()


# --------------------------------------------------------------------------- HTTP specifics


def test_malformed_http_requests_are_refused_and_the_server_keeps_working() -> None:
    """Bad bodies get 400 (bad path 404, GET 405, odd types 415); real exports still work."""
    with OtlpReceiver("http") as receiver:
        garbage = b"\x0a\xff\xff\xff\xff\x0f"
        assert post(receiver, "/v1/traces", garbage)[0] == 400
        assert post(receiver, "/v1/traces", b"not gzip", {"Content-Encoding": "gzip"})[0] == 400
        assert post(receiver, "/v1/logs", b"{nope", {"Content-Type": "application/json"})[0] == 400
        assert post(receiver, "/v1/traces", b"x", {"Content-Encoding": "br"})[0] == 415
        assert post(receiver, "/v1/traces", b"x", {"Content-Type": "text/plain"})[0] == 415
        assert post(receiver, "/v1/profiles", b"")[0] == 404
        assert post(receiver, "/v1/traces", b"", method="GET")[0] == 405
        assert receiver.rejected == 7
        assert receiver.request_count == 0

        deflated = zlib.compress(one_span_request("raw-deflate").SerializeToString())
        assert post(receiver, "/v1/traces", deflated, {"Content-Encoding": "deflate"})[0] == 200
        with traced(exporter(receiver, "traces")) as provider:
            provider.get_tracer("t").start_span("still-alive").end()
        names = [span.name for span in receiver.wait_for_spans(2)]
    assert names == ["raw-deflate", "still-alive"]


def test_http_json_otlp_is_decoded_with_hex_ids() -> None:
    """OTLP/JSON requests (hex IDs) are accepted and answered with JSON."""
    payload = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "json-scope"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "from-json",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [{"key": "n", "value": {"intValue": "5"}}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    with OtlpReceiver("http") as receiver:
        status, body = post(
            receiver,
            "/v1/traces",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        (span,) = receiver.wait_for_spans(1)
    assert (status, json.loads(body)) == (200, {})
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert (span.span_id, span.parent_span_id) == ("eee19b7ec3c1b174", "eee19b7ec3c1b173")
    assert (span.name, span.kind, span.attributes) == ("from-json", 2, {"n": 5})
    assert (span.start_time_ns, span.resource, span.scope) == (
        1544712660000000000,
        {"service.name": "js"},
        "json-scope",
    )


# --------------------------------------------------------------------------- waiting and state


def test_wait_for_spans_times_out_saying_how_many_arrived(rx: OtlpReceiver) -> None:
    """wait_for_* raise TimeoutError naming the count that did arrive."""
    with pytest.raises(TimeoutError, match="0 arrived"):
        rx.wait_for_spans(1, timeout=0.05)
    assert raw_export(rx, one_span_request("only")) in (200, grpc.StatusCode.OK)
    with pytest.raises(TimeoutError, match="1 arrived"):
        rx.wait_for_spans(2, timeout=0.05)
    with pytest.raises(TimeoutError, match="0 arrived"):
        rx.wait_for_logs(1, timeout=0.05)
    with pytest.raises(TimeoutError, match="metric 'orders', 0 arrived"):
        rx.wait_for_metrics(1, timeout=0.05, name="orders")


def test_wait_for_spans_wakes_when_spans_arrive_from_another_thread(rx: OtlpReceiver) -> None:
    """A waiter blocked in wait_for_spans returns as soon as the export lands."""
    results: list[list[str]] = []
    waiter = threading.Thread(
        target=lambda: results.append([s.name for s in rx.wait_for_spans(1, timeout=10)])
    )
    waiter.start()
    assert raw_export(rx, one_span_request("awaited")) in (200, grpc.StatusCode.OK)
    waiter.join(10)
    assert results == [["awaited"]]


def test_clear_forgets_records_requests_and_counters(rx: OtlpReceiver) -> None:
    """clear() empties spans, logs, metrics, requests and the rejected count."""
    raw_export(rx, one_span_request("old"))
    rx.set_failure(503)
    raw_export(rx, one_span_request("refused"))
    rx.set_failure(None)
    assert (len(rx.spans()), rx.request_count, rx.rejected) == (1, 1, 1)
    rx.clear()
    assert (rx.spans(), rx.logs(), rx.metrics(), rx.requests) == ([], [], [], [])
    assert (rx.request_count, rx.rejected) == (0, 0)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_lifecycle_is_idempotent_and_ports_are_exclusive(protocol: Literal["grpc", "http"]) -> None:
    """start/stop are idempotent, ports are free 127.0.0.1 ones and never shared."""
    receiver = OtlpReceiver(protocol)
    with pytest.raises(RuntimeError, match="started"):
        _ = receiver.endpoint
    assert receiver.start() is receiver.start()
    try:
        assert receiver.running
        assert receiver.port > 0
        assert receiver.protocol == protocol
        assert receiver.endpoint == f"http://127.0.0.1:{receiver.port}"
        with pytest.raises(OSError):  # noqa: PT011 - the OS picks the errno wording
            OtlpReceiver(protocol, port=receiver.port).start()
    finally:
        receiver.stop()
        receiver.stop()
    assert not receiver.running
    assert "stopped" in repr(receiver)


def test_unknown_protocol_is_refused() -> None:
    """Only grpc and http (alias http/protobuf) are protocols."""
    assert OtlpReceiver("http/protobuf").protocol == "http"
    with pytest.raises(ValueError, match="protocol"):
        OtlpReceiver("udp")  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_stop_leaves_no_thread_running(protocol: Literal["grpc", "http"]) -> None:
    """After stop() no receiver thread is alive, even with an idle keep-alive client."""
    before = set(threading.enumerate())
    receiver = OtlpReceiver(protocol).start()
    span_exporter = exporter(receiver, "traces")
    idle: http.client.HTTPConnection | None = None
    try:
        assert span_exporter.export(finished_spans("one")) is SpanExportResult.SUCCESS
        if protocol == "http":  # a client that keeps its connection open after a request
            idle = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
            idle.request("POST", "/v1/traces", body=b"", headers={"Content-Type": ""})
            assert idle.getresponse().read() == b""
        started = time.monotonic()
        receiver.stop()
        assert time.monotonic() - started < 3
    finally:
        span_exporter.shutdown()
        if idle is not None:
            idle.close()
        receiver.stop()
    leftovers = [t for t in threading.enumerate() if t not in before]
    assert [t for t in leftovers if not t.daemon] == []
    assert [t for t in leftovers if t.name.startswith("otlp-receiver")] == []


def test_missing_grpc_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without grpcio the module fails to import with a pip install hint for the extra."""
    monkeypatch.setitem(sys.modules, "grpc", None)
    monkeypatch.delitem(sys.modules, "flext_otel.testing.receiver")
    with pytest.raises(ImportError, match=r"pip install 'flext-otel\[test\]'"):
        importlib.import_module("flext_otel.testing.receiver")
