"""The demo workload's real metrics feed a real Prometheus; every dashboard query and alert
rule selector in deploy/ returns data (a renamed metric breaks this test, not a dashboard)."""

from __future__ import annotations

import threading

import pytest
from prometheus_server import PrometheusServer
from promql import all_expressions, vector_selectors

from flext_otel.cli.main import Workload
from flext_otel.testing import capture
from flext_otel.web.server import serve_http

pytestmark = pytest.mark.e2e


def test_every_dashboard_and_rule_expression_returns_demo_data(prometheus_bin: str) -> None:
    """Prometheus scraping the demo's /metrics answers every PromQL expression of deploy/."""
    stop = threading.Event()
    # a private Prometheus: the demo's series must not mix with other tests' series
    server = PrometheusServer([], binary=prometheus_bin)
    with capture(service_name="flext-demo") as cap:
        workload = Workload(cap.otel, seed=11, decline_rate=0.3)
        worker = threading.Thread(target=workload.run, args=(-1,), kwargs={"stop": stop})
        worker.start()
        http = serve_http(cap.otel, port=0)
        try:
            server.set_targets([f"127.0.0.1:{http.port}"])
            server.wait_for_targets_up(timeout=60)
            checked = 0
            for source, expr in all_expressions():
                is_rule = source.startswith("prometheus/")
                for query in vector_selectors(expr) if is_rule else [expr]:
                    result = server.wait_for(query, timeout=60)
                    assert result, f"{source}: no data for {query}"
                    checked += 1
        finally:
            stop.set()
            worker.join(timeout=30)
            http.close()
            server.stop()
    assert checked >= 10
    assert workload.failures >= 4  # critical alerts and error ratios had data to show
