"""The metric data flext-otel exports (store, /metrics, OTLP) for a fixed workload equals
what a plain OpenTelemetry SDK pipeline produces for the same measurements: the one
shared reader, the scrubbing hook and the pre-bound aggregations change nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import missing_backend
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from prometheus_client import CollectorRegistry, generate_latest

import flext_otel
from flext_otel.export.metricview import points_of
from flext_otel.instrument import wrappers
from flext_otel.instrument.decorators import (
    CALLS_METRIC,
    DURATION_BUCKETS,
    DURATION_METRIC,
    SCOPE_NAME,
)
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import PACKAGE_VERSION, FlextOtel
from flext_otel.pipeline.state import use

pytestmark = pytest.mark.e2e

SCOPE = "parity"
NAMES = ("parity_orders", "parity_queue", "parity_latency", "parity_temp", "parity_sessions")


def workload(meter: Meter) -> None:
    """A fixed mix of every instrument kind, repeated so bound paths take over."""
    orders = meter.create_counter("parity_orders", unit="1", description="Orders")
    queue = meter.create_up_down_counter("parity_queue", unit="1")
    latency = meter.create_histogram(
        "parity_latency", unit="s", explicit_bucket_boundaries_advisory=(0.1, 0.5, 1.0)
    )
    temp = meter.create_gauge("parity_temp", unit="Cel")

    def sessions(_options: CallbackOptions) -> list[Observation]:
        return [Observation(4, {"pool": "a"}), Observation(6, {"pool": "b"})]

    meter.create_observable_gauge("parity_sessions", [sessions])
    for i in range(50):
        orders.add(i % 3, {"region": "eu" if i % 2 else "us"})
        queue.add(1 if i % 3 else -1)
        latency.record((i % 7) * 0.2, {"route": "/a"})
        temp.set(20 + i % 5, {"room": "lab"})


def simple_api(points: int) -> None:
    """The simple API's measurements (counter and up-down counter take the bound path)."""
    for i in range(points):
        flext_otel.metric("parity_api_total", 2, tags={"region": "eu"})
        flext_otel.metric("parity_api_depth", -1 if i % 2 else 3, metric_type="up_down_counter")


def simple_api_twin(meter: Meter, points: int) -> None:
    """What ``simple_api`` records, written against the plain SDK."""
    total = meter.create_counter("parity_api_total")
    depth = meter.create_up_down_counter("parity_api_depth")
    for i in range(points):
        total.add(2, {"region": "eu"})
        depth.add(-1 if i % 2 else 3)


def normalized(points: list[Any]) -> dict[tuple[str, tuple[Any, ...]], tuple[Any, ...]]:
    """Store-shaped points keyed by name and attributes, without timestamps."""
    return {
        (p.name, tuple(sorted(p.attributes.items()))): (
            (p.kind, p.unit, p.value, p.count, p.sum),
            p.buckets,
        )
        for p in points
    }


def sdk_points(reader: InMemoryMetricReader) -> list[Any]:
    """The plain SDK reader's points in the store's shape."""
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in points_of(metric)
    ]


def exposition(registry: Any, prefixes: tuple[str, ...]) -> list[str]:
    """The /metrics lines (HELP, TYPE and samples) of the families named by ``prefixes``."""
    kept = []
    for line in generate_latest(registry).decode().splitlines():
        name = line.split(" ")[2] if line.startswith("#") else line
        if name.startswith(prefixes):
            kept.append(line)
    return sorted(kept)


@pytest.fixture
def pipelines() -> Iterator[tuple[FlextOtel, MeterProvider, InMemoryMetricReader, Any]]:
    """flext's default pipeline and a plain SDK provider (in-memory + Prometheus readers)."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    memory = InMemoryMetricReader()
    registry = CollectorRegistry(auto_describe=True)
    plain = MeterProvider(metric_readers=[memory, PrometheusMetricReader(registry=registry)])
    try:
        yield otel, plain, memory, registry
    finally:
        otel.shutdown(timeout_millis=5_000)
        plain.shutdown()


def test_store_and_metrics_match_the_plain_sdk(
    pipelines: tuple[FlextOtel, MeterProvider, InMemoryMetricReader, Any],
) -> None:
    """Same workload, same points in the store and the same /metrics families."""
    otel, plain, memory, registry = pipelines
    workload(otel.meter_provider.get_meter(SCOPE))
    workload(plain.get_meter(SCOPE))
    with use(otel):
        simple_api(40)
    simple_api_twin(plain.get_meter("flext_otel"), 40)
    ours = {k: v for k, v in normalized(otel.store.metrics()).items() if k[0].startswith("parity")}
    theirs = normalized(sdk_points(memory))
    assert ours == theirs
    assert len(ours) == 9
    prefixes = (*NAMES, "parity_api")
    assert exposition(otel.prometheus_registry, prefixes) == exposition(registry, prefixes)


def test_decorator_metrics_match_a_hand_written_sdk_pair() -> None:
    """The bound decorator path exports the SDK's instruments, units, attributes and
    buckets, and counts every call."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False))

    @flext_otel.flext_monitor_function
    def work(fail: bool) -> None:
        if fail:
            raise ValueError("no")

    try:
        with use(otel):
            for i in range(30):
                with contextlib.suppress(ValueError):
                    work(i % 5 == 0)
        points = {
            (p.name, p.attributes["outcome"]): p
            for p in otel.store.metrics()
            if p.name.startswith("flext.function")
        }
    finally:
        otel.shutdown(timeout_millis=5_000)
    function = f"{__name__}.test_decorator_metrics_match_a_hand_written_sdk_pair.<locals>.work"
    calls_ok, calls_err = points[(CALLS_METRIC, "success")], points[(CALLS_METRIC, "error")]
    duration_ok = points[(DURATION_METRIC, "success")]
    duration_err = points[(DURATION_METRIC, "error")]
    assert (calls_ok.value, calls_err.value) == (24, 6)
    assert (duration_ok.count, duration_err.count) == (24, 6)
    assert (calls_ok.unit, duration_ok.unit, calls_ok.kind) == ("1", "s", "sum")
    assert tuple(b for b, _ in duration_ok.buckets)[:-1] == tuple(
        float(b) for b in DURATION_BUCKETS
    )
    assert sum(c for _, c in duration_ok.buckets) == 24
    assert dict(duration_ok.attributes) == {"function": function, "outcome": "success"}


def test_decorator_metrics_equal_the_sdk_for_the_same_durations(
    pipelines: tuple[FlextOtel, MeterProvider, InMemoryMetricReader, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a scripted clock, the decorator's bound path exports exactly what the SDK's
    histogram and counter export for the same durations (store and /metrics)."""
    otel, plain, memory, registry = pipelines
    deltas = [50_000, 300_000, 2_000_000, 700_000_000, 20_000_000_000]  # ns, every bucket range
    times: list[int] = []
    now = 1_000
    for i in range(40):
        times += [now, now + deltas[i % 5]]
        now += deltas[i % 5] + 1
    clock = iter(times)
    monkeypatch.setattr(wrappers, "perf_counter_ns", lambda: next(clock))

    @flext_otel.flext_monitor_function
    def scripted(fail: bool) -> None:
        if fail:
            raise ValueError("no")

    with use(otel):
        for i in range(40):
            with contextlib.suppress(ValueError):
                scripted(i % 4 == 0)
    meter = plain.get_meter(SCOPE_NAME, PACKAGE_VERSION)
    duration = meter.create_histogram(
        DURATION_METRIC,
        unit="s",
        description="Duration of calls to functions decorated with flext_monitor_function.",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    calls = meter.create_counter(
        CALLS_METRIC,
        unit="1",
        description="Calls to functions decorated with flext_monitor_function, by outcome.",
    )
    function = f"{__name__}.{scripted.__qualname__}"
    for i in range(40):
        outcome = {"function": function, "outcome": "error" if i % 4 == 0 else "success"}
        duration.record(deltas[i % 5] / 1e9, outcome)
        calls.add(1, outcome)
    stored = normalized(otel.store.metrics())
    ours = {k: v for k, v in stored.items() if k[0].startswith("flext.function")}
    assert ours == normalized(sdk_points(memory))
    assert len(ours) == 4
    prefixes = ("flext_function",)
    assert exposition(otel.prometheus_registry, prefixes) == exposition(registry, prefixes)


@pytest.fixture
def receivers() -> Iterator[tuple[Any, Any]]:
    """Two OTLP/HTTP receivers: one for flext, one for the plain SDK."""
    try:
        from flext_otel.testing import OtlpReceiver
    except ImportError as exc:
        missing_backend(f"OtlpReceiver needs grpcio and opentelemetry-proto: {exc}")
    with OtlpReceiver("http") as ours, OtlpReceiver("http") as theirs:
        yield ours, theirs


def test_otlp_matches_the_plain_sdk(receivers: tuple[Any, Any]) -> None:
    """Pushed over OTLP, the same workload arrives as the same points."""
    ours, theirs = receivers
    environ = {
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": ours.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
    }
    otel = FlextOtel(resolve_options(environ=environ, install_globals=False))
    exporter = OTLPMetricExporter(endpoint=theirs.endpoint.rstrip("/") + "/v1/metrics")
    plain = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)]
    )
    try:
        workload(otel.meter_provider.get_meter(SCOPE))
        workload(plain.get_meter(SCOPE))
        assert otel.force_flush(timeout_millis=10_000)
        assert plain.force_flush(timeout_millis=10_000)
        ours.wait_for_metrics(1, name="parity_sessions")
        theirs.wait_for_metrics(1, name="parity_sessions")
    finally:
        otel.shutdown(timeout_millis=5_000)
        plain.shutdown()

    def shape(receiver: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (
                p.name,
                p.kind,
                p.unit,
                sorted(p.attributes.items()),
                p.value,
                p.count,
                p.sum,
                p.bucket_counts,
                p.explicit_bounds,
                p.is_monotonic,
                p.min,
                p.max,
                p.scope,
            )
            for p in receiver.metrics()
            if p.name.startswith("parity")
        )

    assert shape(ours) == shape(theirs)
    assert len(shape(ours)) >= 7  # flush and shutdown each push the cumulative points
