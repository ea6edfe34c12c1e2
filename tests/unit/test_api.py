"""Simple API and master factory: recording through capture() and configure(), hostile input."""

from __future__ import annotations

import json
import logging
import math
import sys
import types
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import StatusCode

from flext_otel import api
from flext_otel.api import FlextObservabilityMasterFactory
from flext_otel.domain.entities import MAX_TEXT_LENGTH, FlextAlert, FlextHealthCheck
from flext_otel.domain.result import FlextResult
from flext_otel.instrument.logbridge import FlextLoggingHandler, uninstall_logging_handler
from flext_otel.pipeline import state as providers
from flext_otel.pipeline.correlation import correlation_scope
from flext_otel.testing import Captured, capture

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HUGE = "x" * 10_000_000
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
VALIDATION_CODES = {
    "INVALID_TYPE",
    "INVALID_NAME",
    "INVALID_VALUE",
    "INVALID_UNIT",
    "INVALID_METRIC_TYPE",
    "INVALID_LEVEL",
    "INVALID_SEVERITY",
    "INVALID_STATUS",
    "INVALID_ATTRIBUTES",
    "INVALID_TIME",
    "INVALID_ID",
    "INVALID_TEXT",
    "INVALID_INPUT",
}


def metric_value(cap: Captured, name: str) -> Any:
    """The single point value of metric ``name``."""
    (point,) = cap.metrics(name)
    return point.value


# -- recording through capture() -------------------------------------------------


def test_metric_records_into_the_capture(cap: Captured) -> None:
    """api.metric lands as a metric point with the entity's value, unit and tags."""
    result = api.metric("orders_total", 2, unit="1", tags={"region": "eu"})
    api.metric("orders_total", 3, unit="1", tags={"region": "eu"})
    assert result.unwrap().metric_type == "counter"
    (point,) = cap.metrics("orders_total")
    assert (point.kind, point.unit, point.value) == ("sum", "1", 5)
    assert dict(point.attributes) == {"region": "eu"}


def test_metric_types_reach_their_instruments(cap: Captured) -> None:
    """Inferred and explicit metric types record on the matching instrument kind."""
    api.metric("request_seconds", 0.5, unit="s")
    api.metric("queue_depth", 9)
    api.metric("in_flight", -2, metric_type="up_down_counter")
    (histogram,) = cap.metrics("request_seconds")
    assert (histogram.kind, histogram.count, histogram.sum) == ("histogram", 1, 0.5)
    assert cap.metrics("queue_depth")[0].kind == "gauge"
    assert metric_value(cap, "queue_depth") == 9
    assert metric_value(cap, "in_flight") == -2


def test_log_records_into_the_capture_with_trace_context(cap: Captured) -> None:
    """api.log emits a record with severity, attributes and the current span's IDs."""
    tracer = cap.otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("charge-card") as span:
        result = api.log("card charged", level="warning", context={"order": 42})
    assert result.unwrap().level == "warning"
    (record,) = cap.logs()
    assert (record.body, record.severity_number, record.severity_text) == (
        "card charged",
        13,
        "WARNING",
    )
    assert record.attributes["order"] == 42
    assert record.trace_id == format(span.get_span_context().trace_id, "032x")
    assert record.span_id == format(span.get_span_context().span_id, "016x")


def test_log_carries_the_correlation_id(cap: Captured) -> None:
    """A log inside a correlation scope carries its ID."""
    with correlation_scope("req-7f3a"):
        api.log("inside")
    assert [r.correlation_id for r in cap.logs()] == ["req-7f3a"]


def test_alert_records_log_counter_and_store(cap: Captured) -> None:
    """api.alert lands in the alert buffer, as event flext.alert and on flext.alerts."""
    entity = api.alert("disk full", "/var at 97%", "critical", tags={"host": "db1"}).unwrap()
    assert cap.store.alerts() == [entity]
    # only this alert's record (a background thread of an earlier test may log too)
    (record,) = [r for r in cap.logs() if r.event_name == "flext.alert"]
    assert record.severity_number == 21
    assert record.attributes["alert.id"] == entity.id
    (point,) = cap.metrics("flext.alerts")
    assert dict(point.attributes) == {"severity": "critical", "status": "active"}
    assert point.value == 1


def test_trace_records_a_span_with_the_returned_ids(cap: Captured) -> None:
    """api.trace records a span whose IDs, times and status the result carries."""
    result = api.trace(
        "charge-card",
        attributes={"order": 42},
        start_time=T0,
        end_time=T0 + timedelta(milliseconds=40),
        status="error",
    )
    value = result.unwrap()
    (span,) = cap.spans("charge-card")
    assert (value.trace_id, value.span_id) == (span.trace_id, span.span_id)
    assert span.duration_ms == pytest.approx(40.0)
    assert span.status == "error"
    assert span.attributes["order"] == 42
    assert StatusCode.ERROR.name.lower() == value.status


def test_trace_with_remote_parent_joins_that_trace(cap: Captured) -> None:
    """trace_id + parent_span_id make the recorded span a child of the remote parent."""
    value = api.trace("child", trace_id=TRACE_ID, parent_span_id=PARENT_ID).unwrap()
    (span,) = cap.spans("child")
    assert (span.trace_id, span.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert value.span_id == span.span_id


def test_health_check_feeds_the_pipeline_registry(cap: Captured) -> None:
    """api.health_check goes through otel.health_adapter: FlextOtel.health() sees it."""
    check = api.health_check("postgres", "degraded", message="slow").unwrap()
    health = cap.otel.health()
    assert health["status"] == "degraded"
    assert health["components"]["postgres"] == {
        "status": "degraded",
        "message": "slow",
        "checked_at": check.created_at.isoformat(),
    }
    assert cap.store.health_checks("postgres") == [check]
    assert [p.value for p in cap.metrics("flext.health.status")] == [0.5]


def test_health_status_shape(cap: Captured) -> None:
    """health_status(): unknown without checks, then overall plus per-component entries."""
    factory = FlextObservabilityMasterFactory()
    assert factory.health_status().unwrap() == {"status": "unknown", "components": {}}
    factory.health_check("db", "healthy")
    check = factory.health_check("api", "unhealthy", message="down").unwrap()
    status = factory.health_status().unwrap()
    assert status["status"] == "unhealthy"
    assert status["components"]["api"] == {
        "status": "unhealthy",
        "message": "down",
        "checked_at": check.created_at.isoformat(),
    }
    assert set(status["components"]) == {"api", "db"}


def test_health_checks_reach_the_http_health_endpoint(cap: Captured) -> None:
    """A health check recorded through the API is what /health serves."""
    from flext_otel.web.server import serve_http

    api.health_check("db", "unhealthy", message="refused")
    with serve_http(cap.otel, port=0) as handle:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(f"{handle.url}/health", timeout=5)
        assert failure.value.code == 503
        body = json.loads(failure.value.read())
    assert body["status"] == "unhealthy"
    assert body["components"]["db"]["message"] == "refused"


# -- which pipeline ----------------------------------------------------------------


def test_factory_follows_the_current_pipeline_at_call_time() -> None:
    """A factory without otel records into whichever capture is active when called."""
    factory = FlextObservabilityMasterFactory()
    with capture() as outer:
        factory.log("to outer")
        with capture() as inner:
            factory.log("to inner")
        factory.log("outer again")
    assert [r.body for r in outer.logs()] == ["to outer", "outer again"]
    assert [r.body for r in inner.logs()] == ["to inner"]


def test_factory_bound_to_an_otel_ignores_the_current_capture() -> None:
    """FlextObservabilityMasterFactory(otel) always records into that pipeline."""
    with capture() as target:
        factory = FlextObservabilityMasterFactory(target.otel)
        with capture() as other:
            factory.metric("bound_total", 1)
            factory.health_check("db", "healthy")
        assert factory.otel is target.otel
    assert metric_value(target, "bound_total") == 1
    assert other.metrics("bound_total") == []
    assert target.otel.health()["components"]["db"]["status"] == "healthy"
    assert other.otel.health()["components"] == {}


def test_adapters_are_reused_per_pipeline(cap: Captured) -> None:
    """One pipeline keeps its instruments across calls, so a conflicting type fails."""
    assert api.metric("jobs_total", 1).is_success
    conflict = api.metric("jobs_total", 1, metric_type="gauge")
    assert conflict.error_code == "CONFLICTING_INSTRUMENT"
    with capture() as fresh:
        assert api.metric("jobs_total", 4, metric_type="gauge").is_success
    assert metric_value(fresh, "jobs_total") == 4
    assert metric_value(cap, "jobs_total") == 1


def test_global_factory_is_shared_and_resettable(cap: Captured) -> None:
    """get_global_factory() returns one instance until reset_global_factory()."""
    first = api.get_global_factory()
    assert api.get_global_factory() is first
    api.reset_global_factory()
    second = api.get_global_factory()
    assert second is not first
    assert api.metric("after_reset_total", 1).is_success
    assert metric_value(cap, "after_reset_total") == 1


def test_module_create_functions_record_nothing(cap: Captured) -> None:
    """flext_create_* build and validate only."""
    assert api.flext_create_metric("orders_total", 1).is_success
    assert api.flext_create_log_entry("hello").is_success
    assert api.flext_create_alert("t", "m").is_success
    assert api.flext_create_trace("op").is_success
    assert api.flext_create_health_check("db").is_success
    assert cap.metrics("orders_total") == []
    assert cap.logs() == []
    assert cap.spans() == []
    assert cap.store.alerts() == []
    assert cap.store.health_checks() == []


def test_records_through_a_configured_pipeline() -> None:
    """With providers.configure(install_globals=False) the API records into that pipeline."""
    otel = providers.configure(service_name="api-test", install_globals=False)
    try:
        assert providers.current() is otel
        api.metric("configured_total", 3, tags={"k": "v"})
        api.log("configured log")
        api.trace("configured-op", duration_ms=2)
        api.alert("configured alert", "m", "high")
        api.health_check("db", "healthy")
        assert [p.value for p in otel.store.metrics("configured_total")] == [3]
        assert [r.body for r in otel.store.logs(contains="configured log")] == ["configured log"]
        assert len(otel.store.spans("configured-op")) == 1
        assert [a.title for a in otel.store.alerts()] == ["configured alert"]
        assert otel.health()["status"] == "healthy"
        assert api.get_global_factory().health_status().unwrap()["status"] == "healthy"
    finally:
        report = otel.shutdown()
    assert report.ok


def test_recording_after_shutdown_never_raises() -> None:
    """A shut-down pipeline still answers with FlextResult, never an exception."""
    with capture() as cap:
        factory = FlextObservabilityMasterFactory(cap.otel)
    results = [
        factory.metric("late_total", 1),
        factory.log("late"),
        factory.alert("late", "m"),
        factory.trace("late"),
        factory.health_check("late", "healthy"),
        factory.health_status(),
    ]
    assert all(isinstance(r, FlextResult) for r in results)


# -- configure() ----------------------------------------------------------------------


class FakeServer:
    """Stands in for flext_otel.http.serve_http and records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, str, int]] = []
        self.closed = 0

    def serve_http(self, otel: Any = None, host: str = "127.0.0.1", port: int = 9464) -> Any:
        self.calls.append((otel, host, port))
        return types.SimpleNamespace(url=f"http://{host}:{port}", close=self.close)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def fake_http(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    """A fake flext_otel.web.server module whose serve_http binds nothing."""
    server = FakeServer()
    module = types.ModuleType("flext_otel.web.server")
    module.serve_http = server.serve_http  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flext_otel.web.server", module)
    return server


def test_configure_serves_metrics_once_and_closes_at_shutdown(fake_http: FakeServer) -> None:
    """A prometheus port starts serve_http once per pipeline; shutdown closes it."""
    otel = api.configure(service_name="served", install_globals=False, prometheus_port=19464)
    try:
        assert (
            api.configure(service_name="served", install_globals=False, prometheus_port=19464)
            is otel
        )
        assert fake_http.calls == [(otel, "127.0.0.1", 19464)]
    finally:
        otel.shutdown()
    assert fake_http.closed == 1


def test_configure_with_prometheus_exporter_uses_the_default_port(fake_http: FakeServer) -> None:
    """metrics_exporter=prometheus without a port serves on 9464."""
    otel = api.configure(service_name="prom", install_globals=False, metrics_exporter="prometheus")
    try:
        assert [(host, port) for _, host, port in fake_http.calls] == [("127.0.0.1", 9464)]
    finally:
        otel.shutdown()


def test_configure_without_prometheus_serves_nothing(fake_http: FakeServer) -> None:
    """No prometheus exporter and no port: no server."""
    otel = api.configure(service_name="quiet", install_globals=False)
    try:
        assert fake_http.calls == []
    finally:
        otel.shutdown()


def test_configure_without_the_http_module_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """When flext_otel.web.server cannot be imported, configure() returns the pipeline."""
    monkeypatch.setitem(sys.modules, "flext_otel.web.server", None)
    otel = api.configure(service_name="nohttp", install_globals=False, prometheus_port=19465)
    try:
        assert providers.current() is otel
    finally:
        otel.shutdown()


def test_configure_survives_a_busy_port(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that cannot bind is a warning, not a failed configure()."""

    def busy(otel: Any = None, host: str = "", port: int = 0) -> Any:
        raise OSError(98, "Address already in use")

    module = types.ModuleType("flext_otel.web.server")
    module.serve_http = busy  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flext_otel.web.server", module)
    with caplog.at_level(logging.WARNING, logger="flext_otel"):
        otel = api.configure(service_name="busy", install_globals=False, prometheus_port=19466)
    try:
        assert "could not serve /metrics" in caplog.text
    finally:
        otel.shutdown()


def test_configure_installs_and_removes_the_logging_handler() -> None:
    """logging=True attaches FlextLoggingHandler at logging_level; logging=False removes it."""
    root = logging.getLogger()

    def handlers() -> list[logging.Handler]:
        return [h for h in root.handlers if isinstance(h, FlextLoggingHandler)]

    before = len(handlers())
    otel = api.configure(
        service_name="logs", install_globals=False, logging=True, logging_level="error"
    )
    try:
        installed = handlers()
        assert len(installed) == max(before, 1)
        assert installed[0].level == logging.ERROR
        second = api.configure(service_name="logs-off", install_globals=False, logging=False)
        assert handlers() == []
        second.shutdown()
    finally:
        otel.shutdown()
        uninstall_logging_handler()


# -- hostile input: named cases ------------------------------------------------------


class EvilStr(str):
    """A str whose own methods all fail."""

    __slots__ = ()

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def lower(self) -> str:
        raise RuntimeError("lower")


class BrokenMapping(Mapping[str, Any]):
    """A mapping whose iteration fails."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("iteration")

    def __len__(self) -> int:
        return 1


Call = Callable[[Any], FlextResult[Any]]

HOSTILE: list[Any] = [
    # metric
    pytest.param(lambda f: f.metric(None, 1), "INVALID_TYPE", id="metric-name-none"),
    pytest.param(lambda f: f.metric(b"orders", 1), "INVALID_TYPE", id="metric-name-bytes"),
    pytest.param(lambda f: f.metric(object(), 1), "INVALID_TYPE", id="metric-name-object"),
    pytest.param(lambda f: f.metric("", 1), "INVALID_NAME", id="metric-name-empty"),
    pytest.param(lambda f: f.metric(HUGE, 1), "INVALID_NAME", id="metric-name-10mb"),
    pytest.param(lambda f: f.metric("my metric", 1), "INVALID_NAME", id="metric-name-space"),
    pytest.param(lambda f: f.metric("zähler", 1), "INVALID_NAME", id="metric-name-unicode"),
    pytest.param(lambda f: f.metric("1st_total", 1), "INVALID_NAME", id="metric-name-digit"),
    pytest.param(lambda f: f.metric("m" * 300, 1), "INVALID_NAME", id="metric-name-300-chars"),
    pytest.param(lambda f: f.metric("a\ud800b", 1), "INVALID_TEXT", id="metric-name-surrogate"),
    pytest.param(lambda f: f.metric("m", None), "INVALID_TYPE", id="metric-value-none"),
    pytest.param(lambda f: f.metric("m", "1"), "INVALID_TYPE", id="metric-value-str"),
    pytest.param(lambda f: f.metric("m", b"1"), "INVALID_TYPE", id="metric-value-bytes"),
    pytest.param(lambda f: f.metric("m", True), "INVALID_TYPE", id="metric-value-bool"),
    pytest.param(lambda f: f.metric("m", Decimal(1)), "INVALID_TYPE", id="metric-value-decimal"),
    pytest.param(lambda f: f.metric("m", 1j), "INVALID_TYPE", id="metric-value-complex"),
    pytest.param(lambda f: f.metric("m", math.nan), "INVALID_VALUE", id="metric-value-nan"),
    pytest.param(lambda f: f.metric("m", math.inf), "INVALID_VALUE", id="metric-value-inf"),
    pytest.param(lambda f: f.metric("m", -math.inf), "INVALID_VALUE", id="metric-value-neg-inf"),
    pytest.param(lambda f: f.metric("m", 2**64), "INVALID_VALUE", id="metric-value-huge-int"),
    pytest.param(lambda f: f.metric("m", 10**400), "INVALID_VALUE", id="metric-value-10e400"),
    pytest.param(lambda f: f.metric("jobs_total", -1), "INVALID_VALUE", id="counter-negative"),
    pytest.param(
        lambda f: f.metric("m", -1, metric_type="counter"), "INVALID_VALUE", id="counter-neg-type"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, metric_type="summary"),
        "INVALID_METRIC_TYPE",
        id="metric-type-unknown",
    ),
    pytest.param(lambda f: f.metric("m", 1, metric_type=5), "INVALID_TYPE", id="metric-type-int"),
    pytest.param(lambda f: f.metric("m", 1, unit=None), "INVALID_TYPE", id="metric-unit-none"),
    pytest.param(lambda f: f.metric("m", 1, unit="µs"), "INVALID_UNIT", id="metric-unit-unicode"),
    pytest.param(lambda f: f.metric("m", 1, unit=HUGE), "INVALID_UNIT", id="metric-unit-10mb"),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": {"b": 1}}), "INVALID_ATTRIBUTES", id="tag-nested"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": None}), "INVALID_ATTRIBUTES", id="tag-value-none"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": b"x"}), "INVALID_ATTRIBUTES", id="tag-value-bytes"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": object()}),
        "INVALID_ATTRIBUTES",
        id="tag-value-object",
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": [1, "x"]}), "INVALID_ATTRIBUTES", id="tag-mixed-list"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": math.nan}), "INVALID_ATTRIBUTES", id="tag-value-nan"
    ),
    pytest.param(lambda f: f.metric("m", 1, tags={1: "a"}), "INVALID_ATTRIBUTES", id="tag-key-int"),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"": "a"}), "INVALID_ATTRIBUTES", id="tag-key-empty"
    ),
    pytest.param(
        lambda f: f.metric("m", 1, tags={"a": "\udcff"}), "INVALID_TEXT", id="tag-surrogate"
    ),
    pytest.param(lambda f: f.metric("m", 1, tags=["a"]), "INVALID_TYPE", id="tags-list"),
    pytest.param(lambda f: f.metric("m", 1, tags="a=b"), "INVALID_TYPE", id="tags-str"),
    pytest.param(
        lambda f: f.metric("m", 1, tags=BrokenMapping()), "INVALID_ATTRIBUTES", id="tags-broken"
    ),
    # log
    pytest.param(lambda f: f.log(None), "INVALID_TYPE", id="log-message-none"),
    pytest.param(lambda f: f.log(b"hello"), "INVALID_TYPE", id="log-message-bytes"),
    pytest.param(lambda f: f.log(object()), "INVALID_TYPE", id="log-message-object"),
    pytest.param(lambda f: f.log("a\ud800"), "INVALID_TEXT", id="log-message-surrogate"),
    pytest.param(lambda f: f.log("m", "loud"), "INVALID_LEVEL", id="log-level-unknown"),
    pytest.param(lambda f: f.log("m", ""), "INVALID_LEVEL", id="log-level-empty"),
    pytest.param(lambda f: f.log("m", None), "INVALID_TYPE", id="log-level-none"),
    pytest.param(lambda f: f.log("m", 20), "INVALID_TYPE", id="log-level-int"),
    pytest.param(lambda f: f.log("m", HUGE), "INVALID_LEVEL", id="log-level-10mb"),
    pytest.param(lambda f: f.log("m", EvilStr("info")), None, id="log-level-evil-str"),
    pytest.param(
        lambda f: f.log("m", context={"a": {"b": 1}}), "INVALID_ATTRIBUTES", id="log-context-nested"
    ),
    pytest.param(lambda f: f.log("m", context=[1, 2]), "INVALID_TYPE", id="log-context-list"),
    # alert
    pytest.param(lambda f: f.alert(None, "m"), "INVALID_TYPE", id="alert-title-none"),
    pytest.param(lambda f: f.alert("", "m"), "INVALID_NAME", id="alert-title-empty"),
    pytest.param(lambda f: f.alert("   ", "m"), "INVALID_NAME", id="alert-title-blank"),
    pytest.param(lambda f: f.alert(HUGE, "m"), "INVALID_NAME", id="alert-title-10mb"),
    pytest.param(lambda f: f.alert("t\udfff", "m"), "INVALID_TEXT", id="alert-title-surrogate"),
    pytest.param(lambda f: f.alert("t", None), "INVALID_TYPE", id="alert-message-none"),
    pytest.param(lambda f: f.alert("t", b"m"), "INVALID_TYPE", id="alert-message-bytes"),
    pytest.param(
        lambda f: f.alert("t", "m", "apocalyptic"), "INVALID_SEVERITY", id="alert-severity-unknown"
    ),
    pytest.param(lambda f: f.alert("t", "m", None), "INVALID_TYPE", id="alert-severity-none"),
    pytest.param(
        lambda f: f.alert("t", "m", status="open"), "INVALID_STATUS", id="alert-status-unknown"
    ),
    pytest.param(
        lambda f: f.alert("t", "m", tags={"a": {"b": 1}}), "INVALID_ATTRIBUTES", id="alert-tags"
    ),
    # trace
    pytest.param(lambda f: f.trace(None), "INVALID_TYPE", id="trace-operation-none"),
    pytest.param(lambda f: f.trace(b"op"), "INVALID_TYPE", id="trace-operation-bytes"),
    pytest.param(lambda f: f.trace(""), "INVALID_NAME", id="trace-operation-empty"),
    pytest.param(lambda f: f.trace(HUGE), "INVALID_NAME", id="trace-operation-10mb"),
    pytest.param(lambda f: f.trace("o\ud800"), "INVALID_TEXT", id="trace-operation-surrogate"),
    pytest.param(lambda f: f.trace("op", status="fine"), "INVALID_STATUS", id="trace-status"),
    pytest.param(
        lambda f: f.trace("op", duration_ms=math.nan), "INVALID_TIME", id="trace-duration-nan"
    ),
    pytest.param(
        lambda f: f.trace("op", duration_ms=math.inf), "INVALID_TIME", id="trace-duration-inf"
    ),
    pytest.param(lambda f: f.trace("op", duration_ms=-1), "INVALID_TIME", id="trace-duration-neg"),
    pytest.param(lambda f: f.trace("op", duration_ms="5"), "INVALID_TYPE", id="trace-duration-str"),
    pytest.param(
        lambda f: f.trace("op", start_time=datetime(2024, 1, 1)),  # naive on purpose
        "INVALID_TIME",
        id="trace-start-naive",
    ),
    pytest.param(
        lambda f: f.trace("op", start_time="2024-01-01"), "INVALID_TYPE", id="trace-start-str"
    ),
    pytest.param(
        lambda f: f.trace("op", start_time=T0, end_time=T0 - timedelta(seconds=1)),
        "INVALID_TIME",
        id="trace-end-before-start",
    ),
    pytest.param(lambda f: f.trace("op", trace_id="xyz"), "INVALID_ID", id="trace-id-malformed"),
    pytest.param(lambda f: f.trace("op", trace_id="0" * 32), "INVALID_ID", id="trace-id-zero"),
    pytest.param(lambda f: f.trace("op", trace_id=5), "INVALID_TYPE", id="trace-id-int"),
    pytest.param(
        lambda f: f.trace("op", parent_span_id=PARENT_ID), "INVALID_ID", id="parent-no-trace"
    ),
    pytest.param(
        lambda f: f.trace("op", attributes={"a": {"b": 1}}),
        "INVALID_ATTRIBUTES",
        id="trace-attributes-nested",
    ),
    # health
    pytest.param(lambda f: f.health_check(None), "INVALID_TYPE", id="health-component-none"),
    pytest.param(lambda f: f.health_check(""), "INVALID_NAME", id="health-component-empty"),
    pytest.param(lambda f: f.health_check(HUGE), "INVALID_NAME", id="health-component-10mb"),
    pytest.param(
        lambda f: f.health_check("c\ud800"), "INVALID_TEXT", id="health-component-surrogate"
    ),
    pytest.param(
        lambda f: f.health_check("db", "fine"), "INVALID_STATUS", id="health-status-unknown"
    ),
    pytest.param(lambda f: f.health_check("db", None), "INVALID_TYPE", id="health-status-none"),
    pytest.param(
        lambda f: f.health_check("db", message=b"x"), "INVALID_TYPE", id="health-message-bytes"
    ),
    pytest.param(
        lambda f: f.health_check("db", details={"a": {"b": 1}}),
        "INVALID_ATTRIBUTES",
        id="health-details-nested",
    ),
]


def test_str_subclass_with_broken_methods_is_recorded_as_plain_str(cap: Captured) -> None:
    """A str subclass whose methods fail is read as its plain text, not trusted."""
    value = api.metric(EvilStr("evil_total"), 1).unwrap()
    assert type(value.name) is str
    assert metric_value(cap, "evil_total") == 1


def snapshot(cap: Captured) -> tuple[Any, ...]:
    """Everything the pipeline holds, to prove a failure recorded nothing."""
    return (
        {k: s.accepted for k, s in cap.store.stats().items()},
        sorted({p.name for p in cap.metrics()}),  # names only: foreign observables vary
        [(p.value, p.count) for p in cap.metrics("good_total")],
        cap.otel.health()["components"],
    )


@pytest.mark.parametrize("target", ["module", "factory"])
@pytest.mark.parametrize(("call", "code"), HOSTILE)
def test_hostile_input_fails_cleanly(
    cap: Captured, target: str, call: Call, code: str | None
) -> None:
    """Each hostile input gives a failed FlextResult with its code and records nothing."""
    recorder: Any = api if target == "module" else FlextObservabilityMasterFactory(cap.otel)
    good = recorder.metric("good_total", 5)
    before = snapshot(cap)
    result = call(recorder)
    assert isinstance(result, FlextResult)
    assert result.is_failure
    assert result.error_code == code if code is not None else result.error_code in VALIDATION_CODES
    assert snapshot(cap) == before
    assert good.is_success
    assert metric_value(cap, "good_total") == 5


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda f: f.log(HUGE), id="log-message"),
        pytest.param(lambda f: f.alert("t", HUGE), id="alert-message"),
        pytest.param(lambda f: f.health_check("db", message=HUGE), id="health-message"),
        pytest.param(lambda f: f.log("m", context={"big": HUGE}), id="log-context-value"),
    ],
)
def test_huge_free_text_is_truncated_not_rejected(cap: Captured, call: Call) -> None:
    """10 MB of free text is recorded, cut to the text limit with a marker."""
    result = call(api)
    entity = result.unwrap()
    texts = [v for v in vars_of(entity) if isinstance(v, str) and "truncated" in v]
    assert len(texts) == 1
    assert len(texts[0]) <= MAX_TEXT_LENGTH


def vars_of(entity: Any) -> list[Any]:
    """Every field value of an entity, with mapping values flattened in."""
    values: list[Any] = []
    for value in entity.to_dict().values():
        values.extend(value.values() if isinstance(value, dict) else [value])
    return values


# -- hostile input: property ----------------------------------------------------------

_SURROGATES = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)
_ODD = st.one_of(
    st.sampled_from([HUGE, "", " ", "1abc", "my metric", "zähler", "m" * 300]),
    st.builds(EvilStr, st.sampled_from(["x", "info", "healthy"])),
    st.builds(BrokenMapping),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(),
    st.binary(max_size=8),
    st.text(max_size=12),
    _SURROGATES,
    _ODD,
    st.builds(object),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
)
HOSTILE_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), _SCALARS, max_size=3),
    st.dictionaries(
        st.text(max_size=4), st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2), max_size=2
    ),
)


def _arguments(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, HOSTILE_VALUES))


HOSTILE_CALLS = st.one_of(
    st.tuples(
        st.just("metric"),
        st.tuples(st.one_of(st.just("fuzz_total"), HOSTILE_VALUES), HOSTILE_VALUES),
        _arguments("unit", "tags", "metric_type"),
    ),
    st.tuples(
        st.just("log"),
        st.tuples(st.one_of(st.just("fuzz"), HOSTILE_VALUES)),
        _arguments("level", "context"),
    ),
    st.tuples(
        st.just("alert"),
        st.tuples(st.one_of(st.just("fuzz"), HOSTILE_VALUES), HOSTILE_VALUES),
        _arguments("severity", "status", "tags"),
    ),
    st.tuples(
        st.just("trace"),
        st.tuples(st.one_of(st.just("fuzz-op"), HOSTILE_VALUES)),
        _arguments(
            "attributes",
            "start_time",
            "end_time",
            "duration_ms",
            "status",
            "trace_id",
            "parent_span_id",
        ),
    ),
    st.tuples(
        st.just("health_check"),
        st.tuples(st.one_of(st.just("fuzz-db"), HOSTILE_VALUES)),
        _arguments("status", "message", "details"),
    ),
)


def test_random_hostile_input_never_raises_and_keeps_earlier_records() -> None:
    """Random hostile calls never raise; earlier good records stay in the store and metrics."""
    with capture(store_capacity=100_000) as cap:
        factory = FlextObservabilityMasterFactory(cap.otel)
        good_span = factory.trace("good-op", duration_ms=1).unwrap()
        good_alert = factory.alert("good alert", "m", "high").unwrap()
        good_health = factory.health_check("good-db", "healthy").unwrap()
        assert factory.log("good message", context={"k": "v"}).is_success
        assert factory.metric("good_total", 5, tags={"k": "v"}).is_success

        outcomes = {"ok": 0, "failed": 0}

        def good_records_intact() -> None:
            assert [s.span_id for s in cap.spans("good-op")] == [good_span.span_id]
            assert [r.body for r in cap.logs(contains="good message")] == ["good message"]
            assert good_alert in cap.store.alerts()
            assert cap.store.health_checks("good-db") == [good_health]
            assert [(dict(p.attributes), p.value) for p in cap.metrics("good_total")] == [
                ({"k": "v"}, 5)
            ]

        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(HOSTILE_CALLS, st.booleans())
        def check(call: tuple[str, tuple[Any, ...], dict[str, Any]], module: bool) -> None:
            name, args, kwargs = call
            recorder: Any = api if module else factory
            result = getattr(recorder, name)(*args, **kwargs)
            assert isinstance(result, FlextResult)
            outcomes["failed" if result.is_failure else "ok"] += 1
            if result.is_failure:
                assert isinstance(result.error, str)
                assert result.error
                assert isinstance(result.error_code, str)
                good_records_intact()

        check()
        good_records_intact()
        assert outcomes["ok"] > 0, "the strategies never produced a valid call"
        assert outcomes["failed"] > 0


def test_alert_and_health_entities_round_trip_through_the_store(cap: Captured) -> None:
    """The store keeps the very entities the API returned."""
    entity = api.alert("t", "m", "emergency").unwrap()
    check = api.health_check("db", "unknown").unwrap()
    assert isinstance(entity, FlextAlert)
    assert isinstance(check, FlextHealthCheck)
    assert cap.store.alerts(severity="emergency") == [entity]
    assert cap.store.health_checks() == [check]


def test_metric_tags_with_secrets_are_scrubbed_before_recording(cap: Captured) -> None:
    """A secret in a metric tag never reaches the instrument; innocent tags pass unchanged."""
    result = api.metric("logins_total", 1, tags={"password": "hunter2", "region": "eu"})
    assert result.unwrap().tags == {"password": "[REDACTED]", "region": "eu"}
    (point,) = cap.metrics("logins_total")
    assert dict(point.attributes) == {"password": "[REDACTED]", "region": "eu"}
    assert "hunter2" not in repr(cap.metrics())
    clean = api.metric("logins_total", 1, tags={"region": "us"}).unwrap()
    assert clean.tags == {"region": "us"}


def test_alert_and_health_secrets_never_reach_store_or_health(cap: Captured) -> None:
    """Secrets in alert text/tags and health messages/details are redacted before they are
    kept in the store, the health registry and /health."""
    api.alert("disk", "password=S3cr3t", "high", tags={"api_key": "S3cr3t", "host": "db1"})
    api.health_check("db", "unhealthy", message="token=S3cr3t", details={"password": "S3cr3t"})
    stored = cap.store.alerts()[0]
    assert stored.message == "password=[REDACTED]"
    assert dict(stored.tags) == {"api_key": "[REDACTED]", "host": "db1"}
    check = cap.store.health_checks()[0]
    assert check.message == "token=[REDACTED]"
    assert dict(check.details) == {"password": "[REDACTED]"}
    assert "S3cr3t" not in repr(cap.otel.health())
    assert "S3cr3t" not in repr(api.get_global_factory().health_status().unwrap())


def test_entity_ids_are_random_uuid4_hex() -> None:
    """Entity IDs are 32 hex characters of distinct random uuid4 values."""
    import uuid

    ids = [api.flext_create_metric("x_total", 1).unwrap().id for _ in range(1_000)]
    assert len(set(ids)) == 1_000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).hex == i for i in ids)


@pytest.mark.parametrize(
    ("create", "record"),
    [
        ("flext_create_metric", "metric"),
        ("flext_create_log_entry", "log"),
        ("flext_create_alert", "alert"),
        ("flext_create_trace", "trace"),
        ("flext_create_health_check", "health_check"),
    ],
)
def test_create_and_record_functions_take_the_same_arguments(create: str, record: str) -> None:
    """Each flext_create_* twin has exactly the signature of its recording function."""
    import inspect

    assert inspect.signature(getattr(api, create)) == inspect.signature(getattr(api, record))


# -- failures are counted, visible and logged once per error code -----------------

API_CALLS = ("metric", "log", "alert", "trace", "health_check")


def rejected(cap: Captured) -> dict[str, Any]:
    """The ``api:<call>`` keys of the pipeline's stats."""
    return {k: s for k, s in cap.otel.stats().items() if k.startswith("api:")}


@pytest.mark.parametrize("target", ["module", "factory"])
@pytest.mark.parametrize(("call", "code"), HOSTILE)
def test_every_rejected_call_is_counted_by_error_code(
    cap: Captured, target: str, call: Call, code: str | None
) -> None:
    """A rejected call counts one invalid drop under api:<call>, its error code the cause."""
    recorder: Any = api if target == "module" else FlextObservabilityMasterFactory(cap.otel)
    assert rejected(cap) == {}
    result = call(recorder)
    (key, stats), *others = rejected(cap).items()
    assert others == []
    assert key.removeprefix("api:") in API_CALLS
    assert (stats.accepted, stats.exported, dict(stats.dropped)) == (1, 0, {"invalid": 1})
    assert dict(stats.causes) == {result.error_code: 1}


def bad_calls(recorder: Any) -> dict[str, list[FlextResult[Any]]]:
    """Three bad calls per API function: two with one error code, one with another."""
    return {
        "metric": [
            recorder.metric("bad name", 1),
            recorder.metric("bad name", 2),
            recorder.metric("orders_total", -1),
        ],
        "log": [recorder.log("m", "loud"), recorder.log("m", "louder"), recorder.log(None)],
        "alert": [
            recorder.alert("t", "m", "dire"),
            recorder.alert("t", "m", "grave"),
            recorder.alert("t", "m", status="gone"),
        ],
        "trace": [
            recorder.trace("op", trace_id="xyz"),
            recorder.trace("op", trace_id="abc"),
            recorder.trace("op", duration_ms=-1),
        ],
        "health_check": [
            recorder.health_check("db", "fine"),
            recorder.health_check("db", "great"),
            recorder.health_check(""),
        ],
    }


def expected_causes(results: list[FlextResult[Any]]) -> dict[str, int]:
    causes: dict[str, int] = {}
    for result in results:
        assert result.is_failure
        code = result.error_code or ""
        causes[code] = causes.get(code, 0) + 1
    return causes


@pytest.mark.parametrize("target", ["module", "factory"])
def test_rejected_calls_show_in_stats_health_and_metrics(cap: Captured, target: str) -> None:
    """Rejections are counted per call and error code in stats(), health() and
    flext.pipeline.dropped; accepted == exported + dropped holds for every key."""
    recorder: Any = api if target == "module" else FlextObservabilityMasterFactory(cap.otel)
    results = bad_calls(recorder)
    stats = cap.otel.stats()
    health = cap.otel.health()["pipelines"]
    dropped = {
        (p.attributes["exporter"], p.attributes["reason"]): p.value
        for p in cap.metrics("flext.pipeline.dropped")
        if p.attributes["signal"] == "api"
    }
    for call, outcomes in results.items():
        key = f"api:{call}"
        causes = expected_causes(outcomes)
        assert len(causes) == 2
        assert stats[key].dropped == {"invalid": 3}
        assert dict(stats[key].causes) == causes
        assert health[key]["dropped"] == {"invalid": 3}
        assert health[key]["causes"] == causes
        assert dropped[(call, "invalid")] == 3
    for key, s in stats.items():
        assert s.accepted == s.exported + s.dropped_total, key


def test_the_first_rejection_of_each_error_code_is_logged_once(
    cap: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    """One WARNING per call and error code, naming both; repeats are only counted."""
    with caplog.at_level(logging.WARNING, logger="flext_otel"):
        results = bad_calls(api)
        bad_calls(api)
    lines = [r.getMessage() for r in caplog.records if "api:" in r.getMessage()]
    expected = {
        (f"api:{call}", code)
        for call, outcomes in results.items()
        for code in expected_causes(outcomes)
    }
    assert len(lines) == len(expected) == 10
    for key, code in expected:
        assert [line for line in lines if key in line and code in line], (key, code)


def test_a_secret_in_a_rejected_value_is_not_logged(
    cap: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    """The one log line quotes the error after scrubbing, so a secret in a bad name stays out."""
    secret = "sk-live-abcdefghijklmnopqrstuvwx"
    with caplog.at_level(logging.WARNING, logger="flext_otel"):
        result = api.metric(f"api_key={secret} total", 1)
    assert result.error_code == "INVALID_NAME"
    (line,) = [r.getMessage() for r in caplog.records if "api:metric" in r.getMessage()]
    assert secret not in line


def test_record_failures_are_counted_too(cap: Captured) -> None:
    """A failure inside OTel (RECORD_FAILED) is counted under api:<call> like a rejection."""

    class BrokenLogger:
        def emit(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("logger broken")

    factory = FlextObservabilityMasterFactory(cap.otel)
    factory._adapters().logs._logger = BrokenLogger()
    result = factory.log("hello")
    assert result.error_code == "RECORD_FAILED"
    stats = cap.otel.stats()["api:log"]
    assert dict(stats.causes) == {"RECORD_FAILED": 1}
    assert stats.dropped == {"invalid": 1}


def test_rejections_count_on_the_pipeline_they_were_meant_for() -> None:
    """The module functions count on the current pipeline, a bound factory on its own."""
    with capture() as first, capture() as second:
        api.metric("bad name", 1)
        FlextObservabilityMasterFactory(first.otel).metric("bad name", 1)
        FlextObservabilityMasterFactory(first.otel).metric("bad name", 1)
    assert second.otel.stats()["api:metric"].accepted == 1
    assert first.otel.stats()["api:metric"].accepted == 2


def test_rejected_calls_show_on_the_health_endpoint(cap: Captured) -> None:
    """GET /health carries the api:<call> counts with their causes."""
    from flext_otel.web.server import serve_http

    api.alert("t", "m", "dire")
    with serve_http(cap.otel, port=0) as handle:
        with urllib.request.urlopen(f"{handle.url}/health", timeout=5) as response:
            body = json.loads(response.read())
    pipeline = body["pipelines"]["api:alert"]
    assert pipeline["dropped"] == {"invalid": 1}
    assert pipeline["causes"] == {"INVALID_SEVERITY": 1}
