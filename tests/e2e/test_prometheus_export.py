"""Prometheus end to end: a real Prometheus scrapes serve_http's /metrics and returns
the values flext-otel recorded through /api/v1/query; promtool accepts the output."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_server import PrometheusServer

from flext_otel.testing import Captured, capture
from flext_otel.web.server import HttpServerHandle, serve_http

pytestmark = pytest.mark.e2e

BOUNDS = (0.1, 0.5, 1.0)
LATENCIES = (0.05, 0.3, 0.4, 0.9, 2.5)


@pytest.fixture(scope="module")
def suffix() -> str:
    """A suffix making this run's metric names unique in the shared Prometheus."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def recorded(suffix: str) -> Iterator[tuple[Captured, HttpServerHandle]]:
    """A private pipeline with one counter and one histogram, served on a free port."""
    with capture(service_name="e2e-prometheus") as cap, serve_http(cap.otel, port=0) as server:
        meter = cap.otel.meter_provider.get_meter("e2e.prometheus")
        orders = meter.create_counter(f"e2e_orders_{suffix}", unit="1", description="Orders")
        orders.add(3, {"region": "eu"})
        orders.add(4, {"region": "eu"})
        orders.add(5, {"region": "us"})
        latency = meter.create_histogram(
            f"e2e_latency_{suffix}",
            unit="s",
            description="Checkout latency",
            explicit_bucket_boundaries_advisory=BOUNDS,
        )
        for value in LATENCIES:
            latency.record(value)
        yield cap, server


@pytest.fixture(scope="module")
def scraped(
    prometheus: PrometheusServer, recorded: tuple[Captured, HttpServerHandle], suffix: str
) -> PrometheusServer:
    """The shared Prometheus, scraping our server until the counter shows up."""
    _, server = recorded
    prometheus.set_targets([f"127.0.0.1:{server.port}"])
    try:
        prometheus.wait_for(f"e2e_orders_{suffix}_total", lambda r: len(r) == 2, timeout=60)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\ntargets: {prometheus.active_targets()}") from exc
    return prometheus


def values(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    """``{label value: sample value}`` of an instant-vector result."""
    return {series["metric"].get(label, ""): float(series["value"][1]) for series in result}


def test_prometheus_returns_the_counter_values(scraped: PrometheusServer, suffix: str) -> None:
    """Prometheus holds the counter per attribute set, with the scope and job labels."""
    answer = scraped.query(f"e2e_orders_{suffix}_total")
    assert answer["status"] == "success"
    result = answer["data"]["result"]
    assert values(result, "region") == {"eu": 7.0, "us": 5.0}
    labels = result[0]["metric"]
    assert labels["otel_scope_name"] == "e2e.prometheus"
    assert labels["job"] == scraped.job_name


def test_prometheus_returns_the_histogram_count_sum_and_buckets(
    scraped: PrometheusServer, suffix: str
) -> None:
    """_count, _sum and cumulative _bucket series carry the recorded latencies."""
    name = f"e2e_latency_{suffix}_seconds"
    count = scraped.wait_for(f"{name}_count")
    total = scraped.wait_for(f"{name}_sum")
    buckets = scraped.wait_for(f"{name}_bucket", lambda r: len(r) == len(BOUNDS) + 1)
    assert float(count[0]["value"][1]) == len(LATENCIES)
    assert float(total[0]["value"][1]) == pytest.approx(sum(LATENCIES))
    assert values(buckets, "le") == {"0.1": 1.0, "0.5": 3.0, "1.0": 4.0, "+Inf": 5.0}
    quantile = scraped.query(f"histogram_quantile(0.5, {name}_bucket)")
    assert 0.1 < float(quantile["data"]["result"][0]["value"][1]) <= 0.5


def test_prometheus_sees_the_resource_as_target_info(scraped: PrometheusServer) -> None:
    """The resource arrives as target_info with service_name."""
    result = scraped.wait_for('target_info{service_name="e2e-prometheus"}')
    assert result[0]["metric"]["telemetry_distro_name"] == "flext-otel"


def test_the_target_is_up_with_no_scrape_error(
    scraped: PrometheusServer, recorded: tuple[Captured, HttpServerHandle]
) -> None:
    """Prometheus reports our endpoint healthy: parsed, no lastError."""
    _, server = recorded
    (target,) = scraped.wait_for_targets_up()
    assert target["labels"]["instance"] == f"127.0.0.1:{server.port}"
    assert target["lastError"] == ""


def test_served_metrics_pass_promtool(
    promtool: str, recorded: tuple[Captured, HttpServerHandle]
) -> None:
    """promtool check metrics finds no parse error (exit 1) in the text exposition."""
    _, server = recorded
    request = urllib.request.Request(server.url + "/metrics", headers={"Accept": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    assert b"e2e_orders_" in body
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode != 1, result.stderr.decode() + result.stdout.decode()
