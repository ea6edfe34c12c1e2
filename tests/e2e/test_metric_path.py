"""The one metric path end to end: /metrics stays valid exposition whatever happens
between scrapes (promtool and a real Prometheus agree), and plain OTel instruments
are scrubbed before the store, /metrics and OTLP see them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import missing_backend
from opentelemetry import trace as trace_api
from opentelemetry.metrics import CallbackOptions, Observation
from prometheus_client import generate_latest
from prometheus_server import PrometheusServer

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.proxies import PROXY_METER_PROVIDER
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.testing import capture
from flext_otel.web.server import serve_http

pytestmark = pytest.mark.e2e

SECRET = "sk-live-SECRETSECRET"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def scrape(url: str, accept: str = "text/plain") -> str:
    """The body of one GET /metrics."""
    request = urllib.request.Request(url + "/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
    return body.decode()


def promtool_problems(promtool: str, body: str) -> str:
    """promtool's complaints about ``body`` ('' when it parses; lint notes are exit 3)."""
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=body.encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    if result.returncode == 1:
        return result.stderr.decode() + result.stdout.decode()
    return ""


def sample(body: str, name: str, **labels: str) -> list[float]:
    """Every value of series ``name`` whose labels include ``labels``."""
    found = []
    for line in body.splitlines():
        named = line.startswith(name + "{") or line.startswith(name + " ")
        if named and all(f'{k}="{v}"' in line for k, v in labels.items()):
            found.append(float(line.rsplit(" ", 1)[1]))
    return found


def test_scrapes_stay_valid_across_force_flush(promtool: str) -> None:
    """After force_flush the counter's family appears once, with the latest value."""
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        counter = cap.otel.meter_provider.get_meter("e2e.flush").create_counter("flushes")
        counter.add(1)
        first = scrape(server.url)
        assert cap.otel.force_flush()
        counter.add(2)
        assert cap.otel.force_flush()
        second = scrape(server.url)
        assert sample(first, "flushes_total") == [1.0]
        assert second.count("# HELP flushes_total") == 1
        assert sample(second, "flushes_total") == [3.0]
        assert promtool_problems(promtool, second) == ""


def test_registry_after_shutdown_serves_the_final_values(promtool: str) -> None:
    """A scrape after shutdown is still valid and shows the values at shutdown."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    counter = otel.meter_provider.get_meter("e2e.shutdown").create_counter("stops")
    counter.add(5, {"k": "v"})
    generate_latest(otel.prometheus_registry)
    otel.force_flush()
    report = otel.shutdown(timeout_millis=5_000)
    body = generate_latest(otel.prometheus_registry).decode()
    assert report.lost == 0
    assert sample(body, "stops_total", k="v") == [5.0]
    assert body.count("# TYPE stops_total") == 1
    assert promtool_problems(promtool, body) == ""


def test_a_new_pipeline_serves_only_its_own_series(promtool: str) -> None:
    """Reconfiguring gives a fresh registry; the old one stays valid for its last scrape."""
    with capture() as first:
        first.otel.meter_provider.get_meter("e2e.reconf").create_counter("builds").add(1)
        old = first.otel.prometheus_registry
    with capture() as second:
        second.otel.meter_provider.get_meter("e2e.reconf").create_counter("builds").add(7)
        body = generate_latest(second.otel.prometheus_registry).decode()
    assert sample(body, "builds_total") == [7.0]
    old_body = generate_latest(old).decode()
    assert sample(old_body, "builds_total") == [1.0]
    assert promtool_problems(promtool, old_body) == ""


def test_an_unpinned_server_stays_valid_across_reconfiguration(promtool: str) -> None:
    """A server following the current pipeline serves one valid family per scrape as
    pipelines switch, flush and shut down underneath it."""
    with serve_http(port=0) as server:
        with capture() as first:
            first.otel.meter_provider.get_meter("e2e.switch").create_counter("switches").add(1)
            first.otel.force_flush()
            before = scrape(server.url)
        with capture() as second:
            counter = second.otel.meter_provider.get_meter("e2e.switch").create_counter("switches")
            counter.add(2)
            second.otel.force_flush()
            counter.add(3)
            after = scrape(server.url)
    assert sample(before, "switches_total") == [1.0]
    assert sample(after, "switches_total") == [5.0]
    assert after.count("# TYPE switches_total") == 1
    assert promtool_problems(promtool, before) == promtool_problems(promtool, after) == ""


def test_histogram_buckets_carry_their_trace_exemplar_in_openmetrics() -> None:
    """A histogram recorded inside a span links its bucket to that trace (OpenMetrics)."""
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        tracer = cap.otel.tracer_provider.get_tracer("e2e.exemplar")
        histogram = cap.otel.meter_provider.get_meter("e2e.exemplar").create_histogram(
            "exemplar_latency", unit="s", explicit_bucket_boundaries_advisory=(0.1, 1.0)
        )
        with tracer.start_as_current_span("work") as span:
            histogram.record(0.5, {"route": "/a"})
        trace_id = format(span.get_span_context().trace_id, "032x")
        scrape(server.url)  # a scrape in between must not steal the exemplar
        body = scrape(server.url, OPENMETRICS)
    bucket = [
        line for line in body.splitlines() if line.startswith("exemplar_latency_seconds_bucket")
    ]
    marked = [line for line in bucket if f'trace_id="{trace_id}"' in line]
    assert len(marked) == 1
    assert 'le="1.0"' in marked[0]


def test_real_prometheus_scrapes_cleanly_across_flushes(prometheus: PrometheusServer) -> None:
    """Prometheus keeps the target up and reads the latest value while flushes happen."""
    name = f"e2e_flushing_{uuid.uuid4().hex[:8]}"
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        counter = cap.otel.meter_provider.get_meter("e2e.prom").create_counter(name)
        counter.add(1)
        cap.otel.force_flush()
        prometheus.set_targets([f"127.0.0.1:{server.port}"])
        prometheus.wait_for(f"{name}_total", lambda r: len(r) == 1, timeout=60)
        counter.add(4)
        cap.otel.force_flush()
        result = prometheus.wait_for(
            f"{name}_total", lambda r: r and float(r[0]["value"][1]) == 5.0, timeout=60
        )
        (target,) = prometheus.wait_for_targets_up()
    assert float(result[0]["value"][1]) == 5.0
    assert target["lastError"] == ""


# -- scrubbing of plain OTel instruments -------------------------------------------


def _record_secrets(meter: Any) -> None:
    meter.create_counter("logins").add(1, {"api_key": SECRET, "region": "eu"})
    meter.create_histogram("login_seconds", unit="s").record(0.2, {"password": SECRET})

    def observe(_options: CallbackOptions) -> list[Observation]:
        return [Observation(3, {"token": f"Bearer {SECRET}"})]

    meter.create_observable_gauge("sessions", [observe])


def test_plain_instruments_are_scrubbed_in_the_store_and_on_metrics() -> None:
    """Counter, histogram and observable gauge attributes lose their secrets."""
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        _record_secrets(cap.otel.meter_provider.get_meter("e2e.scrub"))
        points = {p.name: dict(p.attributes) for p in cap.otel.store.metrics()}
        body = scrape(server.url)
        stats = cap.otel.guardrails.stats()
    assert points["logins"] == {"api_key": "[REDACTED]", "region": "eu"}
    assert points["login_seconds"] == {"password": "[REDACTED]"}
    assert SECRET not in repr(points["sessions"])
    assert SECRET not in body
    assert sample(body, "logins_total", region="eu") == [1.0]
    assert stats["scrubbed_values"] >= 3


def test_instruments_from_the_global_proxies_are_scrubbed() -> None:
    """An instrument made through flext's proxy meter provider is scrubbed too."""
    with capture() as cap:
        meter = PROXY_METER_PROVIDER.get_meter("e2e.proxy")
        meter.create_counter("proxied_logins").add(1, {"api_key": SECRET})
        (point,) = cap.otel.store.metrics("proxied_logins")
    assert dict(point.attributes) == {"api_key": "[REDACTED]"}


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A running OTLP/HTTP receiver."""
    try:
        from flext_otel.testing import OtlpReceiver
    except ImportError as exc:
        missing_backend(f"OtlpReceiver needs grpcio and opentelemetry-proto: {exc}")
    with OtlpReceiver("http") as running:
        yield running


def test_plain_instruments_reach_otlp_scrubbed(receiver: Any) -> None:
    """OTLP receives the scrubbed attributes of every plain instrument."""
    environ = {
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
    }
    otel = FlextOtel(resolve_options(environ=environ, install_globals=False))
    try:
        _record_secrets(otel.meter_provider.get_meter("e2e.scrub.otlp"))
        assert otel.force_flush(timeout_millis=10_000)
        received = receiver.wait_for_metrics(1, name="logins")
        receiver.wait_for_metrics(1, name="sessions")
    finally:
        otel.shutdown(timeout_millis=5_000)
    assert received[0].attributes == {"api_key": "[REDACTED]", "region": "eu"}
    assert not [p for p in receiver.metrics() if SECRET in repr(p.attributes)]


def test_spans_around_measurements_are_untouched_by_the_hook() -> None:
    """The measurement hook changes attributes only: a clean set is passed as recorded."""
    with capture() as cap:
        counter = cap.otel.meter_provider.get_meter("e2e.clean").create_counter("clean")
        with trace_api.use_span(trace_api.INVALID_SPAN):
            counter.add(2, {"region": "eu", "user.id": 42})
        (point,) = cap.otel.store.metrics("clean")
    assert dict(point.attributes) == {"region": "eu", "user.id": 42}
    assert re.fullmatch(r"\d+", str(point.value))


REPRODUCTION = """
import flext_otel
from opentelemetry import metrics

otel = flext_otel.configure(service_name="repro")
metrics.get_meter("x").create_counter("logins").add(1, {"api_key": "sk-live-SECRETSECRET"})
print([sorted(dict(p.attributes).items()) for p in otel.store.metrics("logins")])
otel.shutdown()
"""


def test_the_issue_reproduction_through_the_otel_globals_is_scrubbed() -> None:
    """configure() + metrics.get_meter() (the OTel global proxy) keeps no secret."""
    done = subprocess.run(
        [sys.executable, "-c", REPRODUCTION],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "OTEL_METRICS_EXPORTER": "none", "OTEL_TRACES_EXPORTER": "none"},
    )
    assert done.returncode == 0, done.stderr
    assert "[('api_key', '[REDACTED]')]" in done.stdout
    assert SECRET not in done.stdout
