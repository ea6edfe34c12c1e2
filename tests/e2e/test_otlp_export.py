"""OTLP export end to end: a pipeline selected by the standard OTEL_* variables ships
spans, metrics and logs to a real OTLP receiver over gRPC and over HTTP, and keeps
them in the store too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import missing_backend
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind, Status, StatusCode

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import (
    FlextOtel,
)

pytestmark = pytest.mark.e2e

PROTOCOLS = {"grpc": "grpc", "http": "http/protobuf"}


def _receiver_class() -> Any:
    """OtlpReceiver, or a skip (a failure in CI) when its dependencies are missing."""
    try:
        from flext_otel.testing import OtlpReceiver
    except ImportError as exc:  # grpcio / opentelemetry-proto missing
        reason = f"OtlpReceiver needs grpcio and opentelemetry-proto: {exc}"
        missing_backend(reason)
    return OtlpReceiver


@pytest.fixture(params=sorted(PROTOCOLS))
def receiver(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A running OtlpReceiver for each protocol."""
    with _receiver_class()(request.param) as running:
        yield running


def otlp_environment(receiver: Any, **extra: str) -> dict[str, str]:
    """The standard variables that send all three signals to ``receiver``."""
    return {
        "OTEL_SERVICE_NAME": "e2e-otlp",
        "OTEL_RESOURCE_ATTRIBUTES": "team=payments,region=eu-west",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": PROTOCOLS[receiver.protocol],
        "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cr%3Dt,x-tenant=acme",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "5000",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",  # only force_flush pushes metrics
        **extra,
    }


@pytest.fixture
def otel(receiver: Any) -> Iterator[FlextOtel]:
    """A private pipeline configured only through the environment."""
    pipeline = FlextOtel(resolve_options(environ=otlp_environment(receiver), install_globals=False))
    try:
        yield pipeline
    finally:
        pipeline.shutdown(timeout_millis=5_000)


def test_standard_variables_select_otlp_for_every_signal(otel: FlextOtel, receiver: Any) -> None:
    """OTEL_*_EXPORTER=otlp plus OTEL_EXPORTER_OTLP_* build one OTLP pipeline per signal."""
    assert {"traces:otlp", "metrics:otlp", "logs:otlp"} <= set(otel.stats())
    traces = otel.options.otlp("traces")
    assert traces.protocol == PROTOCOLS[receiver.protocol]
    assert traces.compression == "gzip"
    assert dict(traces.headers) == {"x-api-key": "s3cr=t", "x-tenant": "acme"}
    expected = receiver.signal_endpoint("logs")
    assert otel.options.otlp("logs").endpoint == expected


def test_spans_arrive_with_links_attributes_and_resource(otel: FlextOtel, receiver: Any) -> None:
    """A parent and child span arrive linked, with attributes, status and the resource."""
    tracer = otel.tracer_provider.get_tracer("e2e.checkout", "1.2.3")
    with tracer.start_as_current_span(
        "checkout", kind=SpanKind.SERVER, attributes={"order.id": 42, "http.route": "/pay"}
    ) as parent:
        with tracer.start_as_current_span("charge-card", kind=SpanKind.CLIENT) as child:
            child.set_attribute("payment.amount", 19.99)
            child.add_event("card.authorised", {"attempt": 1})
            child.set_status(Status(StatusCode.ERROR, "declined"))
        parent.set_status(Status(StatusCode.OK))
    assert otel.force_flush(10_000)
    received = {span.name: span for span in receiver.wait_for_spans(2, timeout=10)}
    root, leaf = received["checkout"], received["charge-card"]
    assert root.parent_span_id is None
    assert leaf.parent_span_id == root.span_id
    assert leaf.trace_id == root.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert (root.kind, leaf.kind) == (2, 3)  # OTLP enum: server, client
    assert root.attributes == {"order.id": 42, "http.route": "/pay"}
    assert leaf.attributes["payment.amount"] == 19.99
    assert leaf.events[0][0] == "card.authorised"
    assert (leaf.status_code, leaf.status_message) == (2, "declined")
    assert root.status_code == 1
    assert root.scope == "e2e.checkout"
    assert root.resource["service.name"] == "e2e-otlp"
    assert root.resource["team"] == "payments"
    assert root.resource["telemetry.distro.name"] == "flext-otel"
    stored = {s.name: s for s in otel.store.spans()}
    assert stored["charge-card"].span_id == leaf.span_id
    assert stored["charge-card"].parent_span_id == root.span_id
    assert stored["checkout"].trace_id == root.trace_id
    stats = otel.stats()["traces:otlp"]
    assert (stats.accepted, stats.exported, stats.lost) == (2, 2, 0)
    assert stats.last_export_ok is True


def test_metrics_arrive_with_counter_and_histogram_values(otel: FlextOtel, receiver: Any) -> None:
    """Counter sums per attribute set and histogram count, sum and buckets arrive exactly."""
    meter = otel.meter_provider.get_meter("e2e.shop")
    orders = meter.create_counter("orders", unit="1", description="Orders placed")
    orders.add(3, {"region": "eu"})
    orders.add(4, {"region": "eu"})
    orders.add(5, {"region": "us"})
    latency = meter.create_histogram(
        "checkout.duration", unit="s", explicit_bucket_boundaries_advisory=(0.1, 1.0, 10.0)
    )
    for value in (0.05, 0.5, 0.7, 20.0):
        latency.record(value, {"region": "eu"})
    assert otel.force_flush(10_000)
    counter_points = receiver.wait_for_metrics(2, timeout=10, name="orders")
    by_region = {p.attributes["region"]: p for p in counter_points}
    assert (by_region["eu"].value, by_region["us"].value) == (7, 5)
    assert (by_region["eu"].kind, by_region["eu"].is_monotonic) == ("sum", True)
    assert by_region["eu"].resource["service.name"] == "e2e-otlp"
    (histogram,) = receiver.wait_for_metrics(1, timeout=10, name="checkout.duration")
    assert histogram.kind == "histogram"
    assert histogram.unit == "s"
    assert histogram.count == 4
    assert histogram.sum == pytest.approx(21.25)
    assert histogram.explicit_bounds == (0.1, 1.0, 10.0)
    assert histogram.bucket_counts == (1, 2, 0, 1)
    assert (histogram.min, histogram.max) == (0.05, 20.0)
    stored = {(p.name, p.attributes.get("region")): p for p in otel.store.metrics()}
    assert stored[("orders", "eu")].value == 7
    assert stored[("checkout.duration", "eu")].count == 4
    assert otel.stats()["metrics:otlp"].last_export_ok is True


def test_logs_arrive_with_severities_and_trace_context(otel: FlextOtel, receiver: Any) -> None:
    """Log records keep severity, body, attributes and the active span's trace context."""
    logger = otel.logger_provider.get_logger("e2e.logs")
    tracer = otel.tracer_provider.get_tracer("e2e.logs")
    logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO", body="started")
    with tracer.start_as_current_span("work") as span:
        logger.emit(
            severity_number=SeverityNumber.ERROR,
            severity_text="ERROR",
            body="card declined",
            attributes={"order.id": 7},
        )
    context = span.get_span_context()
    assert otel.force_flush(10_000)
    received = {log.body: log for log in receiver.wait_for_logs(2, timeout=10)}
    info, error = received["started"], received["card declined"]
    assert (info.severity_number, info.severity_text) == (9, "INFO")
    assert (error.severity_number, error.severity_text) == (17, "ERROR")
    assert (info.trace_id, info.span_id) == (None, None)
    assert error.trace_id == format(context.trace_id, "032x")
    assert error.span_id == format(context.span_id, "016x")
    assert error.attributes["order.id"] == 7
    assert error.resource["service.name"] == "e2e-otlp"
    stored = {log.body: log for log in otel.store.logs()}
    assert stored["card declined"].trace_id == error.trace_id
    assert stored["card declined"].severity_number == 17


def test_headers_from_the_environment_arrive(otel: FlextOtel, receiver: Any) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS reach the collector (percent-decoded) on every signal."""
    otel.tracer_provider.get_tracer("h").start_span("one").end()
    otel.meter_provider.get_meter("h").create_counter("pings").add(1)
    otel.logger_provider.get_logger("h").emit(body="hello")
    assert otel.force_flush(10_000)
    receiver.wait_for_spans(1, timeout=10)
    receiver.wait_for_logs(1, timeout=10)
    receiver.wait_for_metrics(1, timeout=10)
    assert receiver.request_count >= 3
    for headers in receiver.requests:
        assert headers["x-api-key"] == "s3cr=t"
        assert headers["x-tenant"] == "acme"


def test_gzip_compression_is_used(otel: FlextOtel, receiver: Any) -> None:
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip compresses requests the receiver still decodes.

    Over HTTP the Content-Encoding header shows it; gRPC hides its message
    encoding from server metadata, so there the decoded span is the evidence.
    """
    tracer = otel.tracer_provider.get_tracer("gzip")
    with tracer.start_as_current_span("compressed", attributes={"payload": "x" * 4096}):
        pass
    assert otel.force_flush(10_000)
    (span,) = receiver.wait_for_spans(1, timeout=10)
    assert span.attributes["payload"] == "x" * 4096
    if receiver.protocol == "http":
        assert receiver.requests[0]["content-encoding"] == "gzip"
        assert int(receiver.requests[0]["content-length"]) < 1024  # 4 KiB squeezed


def test_per_signal_variables_route_signals_to_different_collectors() -> None:
    """OTEL_EXPORTER_OTLP_TRACES_* send traces by gRPC while logs go by HTTP elsewhere."""
    receiver_class = _receiver_class()
    with receiver_class("grpc") as grpc_receiver, receiver_class("http") as http_receiver:
        environ = {
            "OTEL_SERVICE_NAME": "e2e-split",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": http_receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": grpc_receiver.endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-signal=traces",
        }
        otel = FlextOtel(resolve_options(environ=environ, install_globals=False))
        try:
            otel.tracer_provider.get_tracer("split").start_span("to-grpc").end()
            otel.logger_provider.get_logger("split").emit(body="to-http")
            assert otel.force_flush(10_000)
            assert [s.name for s in grpc_receiver.wait_for_spans(1, timeout=10)] == ["to-grpc"]
            assert [r.body for r in http_receiver.wait_for_logs(1, timeout=10)] == ["to-http"]
        finally:
            otel.shutdown(timeout_millis=5_000)
        assert http_receiver.spans() == []
        assert grpc_receiver.logs() == []
        assert grpc_receiver.requests[0]["x-signal"] == "traces"
