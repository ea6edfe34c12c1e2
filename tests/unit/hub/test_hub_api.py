"""The hub seen from outside: real OTLP exporters in, the live view's /api/* with
service and instance filters, /api/instances, merged /metrics, the token,
forwarding to an upstream collector, and ``flext-otel serve``'s lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from flext_otel.hub import Hub, HubServer, ingest, start_hub
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.testing import OtlpReceiver

SERVE = (sys.executable, "-m", "flext_otel.cli", "serve")


@pytest.fixture
def server() -> Iterator[HubServer]:
    """A hub on free ports."""
    with start_hub(
        Hub(resolve_options(install_globals=False, traces_exporter="none")),
        grpc_port=0,
        http_port=0,
        port=0,
    ) as running:
        yield running


def _worker(server: HubServer, service: str, protocol: str = "grpc") -> FlextOtel:
    url = server.grpc_url if protocol == "grpc" else server.http_url
    return FlextOtel(
        resolve_options(
            service_name=service,
            install_globals=False,
            traces_exporter="otlp",
            metrics_exporter="otlp",
            logs_exporter="otlp",
            otlp_endpoint=url,
            otlp_protocol=protocol,
            # two "workers" in one test process: each its own instance, as after a fork
            resource_attributes={"service.instance.id": uuid.uuid4().hex},
        )
    )


def _send(otel: FlextOtel, spans: int, count: int) -> None:
    tracer = otel.tracer_provider.get_tracer("work")
    for n in range(spans):
        with tracer.start_as_current_span(f"job-{n}"):
            pass
    otel.meter_provider.get_meter("work").create_counter("jobs_total").add(count)
    otel.meter_provider.get_meter("work").create_gauge("queue_depth").set(count)
    otel.logger_provider.get_logger("work").emit(body="hello")
    assert otel.shutdown().ok


def _get(server: HubServer, path: str, token: str | None = None) -> Any:
    request = urllib.request.Request(server.ui_url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read()
    return json.loads(body) if path.startswith("/api") else body.decode()


def _instance_id(otel: FlextOtel) -> str:
    return str(otel.resource.attributes["service.instance.id"])


def test_instances_filters_and_merged_metrics(server: HubServer) -> None:
    """Two workers over gRPC and HTTP: each listed, filterable, and summed in /metrics."""
    a, b = _worker(server, "shop", "grpc"), _worker(server, "shop", "http/protobuf")
    a_id, b_id = _instance_id(a), _instance_id(b)
    _send(a, 2, 3)
    _send(b, 1, 4)
    rows = _get(server, "/api/instances?service=shop")["instances"]
    assert sorted((r["instance"], r["spans"], r["logs"]) for r in rows) == sorted(
        [(a_id, 2, 1), (b_id, 1, 1)]
    )
    assert {r["pid"] for r in rows} == {os.getpid()}
    assert all(r["metric_points"] > 0 and r["first_seen"] <= r["last_seen"] for r in rows)
    assert _get(server, "/api/traces?service=shop")["count"] == 3
    assert _get(server, f"/api/traces?instance={b_id}")["count"] == 1
    assert _get(server, "/api/traces?service=other")["count"] == 0
    assert _get(server, f"/api/logs?instance={a_id}")["count"] == 1
    jobs = _get(server, f"/api/metrics?instance={a_id}&name=jobs_total")["metrics"]
    assert [p["value"] for p in jobs[0]["points"]] == [3]
    text = _get(server, "/metrics")
    assert any(
        line.startswith("jobs_total{") and 'service_name="shop"' in line and line.endswith(" 7.0")
        for line in text.splitlines()
    ), text
    gauges = [line for line in text.splitlines() if line.startswith("queue_depth{")]
    assert len(gauges) == 2
    assert all("service_instance_id=" in line for line in gauges)
    assert 'flext_hub_received_total{signal="traces"} 3.0' in text
    assert "flext_hub_instances 2.0" in text
    health = _get(server, "/api/health")
    assert health["status"] == "healthy"


def test_the_http_token_guards_the_api() -> None:
    """FLEXT_OTEL_HTTP_TOKEN (the http_token option) guards /api/* like the live view."""
    hub = Hub(resolve_options(install_globals=False, http_token="t0ken"))
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as running:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(running, "/api/instances")
        assert refused.value.code == 401
        assert _get(running, "/api/instances", token="t0ken")["count"] == 0


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_everything_received_is_forwarded(protocol: str) -> None:
    """With OTEL_*_EXPORTER=otlp settings the hub forwards spans, logs and metrics."""
    with OtlpReceiver(protocol) as upstream:  # type: ignore[arg-type]
        options = resolve_options(
            install_globals=False,
            traces_exporter="otlp",
            metrics_exporter="otlp",
            logs_exporter="otlp",
            otlp_endpoint=upstream.endpoint,
            otlp_protocol="grpc" if protocol == "grpc" else "http/protobuf",
        )
        with start_hub(Hub(options), grpc_port=0, http_port=0, port=0) as running:
            _send(_worker(running, "fwd"), 5, 1)
            assert running.hub.force_flush(10_000)
            spans = upstream.wait_for_spans(5)
            assert {s.resource["service.name"] for s in spans} == {"fwd"}
            upstream.wait_for_logs(1)
            upstream.wait_for_metrics(1, name="jobs_total")
            forwarded = running.hub.stats()["signals"]
            assert (forwarded["traces"]["forwarded"], forwarded["traces"]["dropped"]) == (5, 0)
            metrics = forwarded["metrics"]
            assert metrics["forwarded"] == metrics["received"] > 0
        assert running.hub.lost() == 0


def test_serve_prints_endpoints_and_exits_0_on_sigterm() -> None:
    """``flext-otel serve`` prints its three URLs, then SIGTERM: report and exit 0."""
    process = subprocess.Popen(
        [*SERVE, "--grpc-port", "0", "--http-port", "0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        for word, line in zip(("OTLP/gRPC", "OTLP/HTTP", "UI"), lines, strict=True):
            assert word in line, lines
            assert "http://127.0.0.1:" in line, lines
        url = lines[2].split()[-1].rstrip("/")
        with urllib.request.urlopen(url + "/ready", timeout=10) as answer:
            assert answer.status == 200
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "nothing lost" in rest


def test_serve_names_a_busy_port(server: HubServer) -> None:
    """A busy port is a clear error naming it, and a non-zero exit."""
    done = subprocess.run(
        [*SERVE, "--grpc-port", "0", "--http-port", str(server.http_port), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert str(server.http_port) in done.stderr


def test_secrets_are_scrubbed_in_the_store_and_upstream() -> None:
    """Span attributes that look like secrets are redacted before storing and forwarding."""
    with OtlpReceiver("grpc") as upstream:
        options = resolve_options(
            install_globals=False,
            traces_exporter="otlp",
            otlp_endpoint=upstream.endpoint,
            otlp_protocol="grpc",
        )
        with start_hub(Hub(options), grpc_port=0, http_port=0, port=0) as running:
            # raw OTLP, as a non-flext SDK sends it (a flext worker scrubs on its own)
            request = trace_service_pb2.ExportTraceServiceRequest()
            span = request.resource_spans.add().scope_spans.add().spans.add()
            span.name, span.trace_id, span.span_id = "login", b"\x01" * 16, b"\x02" * 8
            attr = span.attributes.add()
            attr.key, attr.value.string_value = "password", "hunter2"
            running.hub.ingest(ingest.TRACES, request)
            assert running.hub.store.spans()[0].attributes["password"] != "hunter2"
            assert running.hub.force_flush(10_000)
            [received] = upstream.wait_for_spans(1)
            assert received.attributes["password"] != "hunter2"


def test_in_process_live_view_lists_its_own_process_as_the_instance() -> None:
    """Without a hub, /api/instances lists this process and the filters select it."""
    from flext_otel.testing import capture
    from flext_otel.web import liveview

    with capture(service_name="solo") as cap:
        with cap.otel.tracer_provider.get_tracer("t").start_as_current_span("one"):
            pass
        instance = str(cap.otel.resource.attributes["service.instance.id"])
        status, _, body = liveview.handle("GET", "/api/instances", "", cap.otel)
        assert status == 200
        [row] = json.loads(body)["instances"]
        assert (row["service"], row["instance"], row["pid"], row["spans"]) == (
            "solo",
            instance,
            os.getpid(),
            1,
        )
        _, _, mine = liveview.handle("GET", "/api/traces", f"instance={instance}", cap.otel)
        _, _, other = liveview.handle("GET", "/api/traces", "service=else", cap.otel)
        assert (json.loads(mine)["count"], json.loads(other)["count"]) == (1, 0)
