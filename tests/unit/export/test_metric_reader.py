"""The one shared metric reader: every output reads its snapshots, failures keep the
last snapshot, exemplars survive several readers, push exporters get cumulative data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import Counter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation
from prometheus_client import generate_latest

from flext_otel.export.metricview import SharedMetricReader
from flext_otel.export.push import MetricPush, needs_own_reader
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.testing import capture


@pytest.fixture
def otel() -> Iterator[FlextOtel]:
    """A private default pipeline."""
    with capture() as cap:
        yield cap.otel


def reader_of(otel: FlextOtel) -> SharedMetricReader:
    """The pipeline's shared reader."""
    assert otel.metric_reader is not None
    return otel.metric_reader


def test_store_and_metrics_read_the_same_reader_only_when_read(
    otel: FlextOtel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is collected at record time; the store and /metrics each take one snapshot."""
    reader = reader_of(otel)
    calls: list[int] = []
    snapshot = reader.snapshot

    def counted(timeout_millis: float = 10_000) -> MetricsData | None:
        calls.append(1)
        return snapshot(timeout_millis)

    monkeypatch.setattr(reader, "snapshot", counted)
    otel.meter_provider.get_meter("t").create_counter("shared").add(3)
    assert calls == []
    assert otel.store.metrics("shared")[0].value == 3
    assert b"shared_total" in generate_latest(otel.prometheus_registry)
    assert len(calls) == 2


def test_a_failing_collection_serves_the_last_snapshot(
    otel: FlextOtel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection that raises is counted, and readers keep the previous values."""
    reader = reader_of(otel)
    otel.meter_provider.get_meter("t").create_counter("steady").add(2)
    assert otel.store.metrics("steady")[0].value == 2

    def broken(timeout_millis: float = 10_000) -> None:
        raise RuntimeError("collect failed")

    monkeypatch.setattr(reader, "collect", broken)
    assert otel.store.metrics("steady")[0].value == 2
    assert reader.failures == 1


def test_exemplars_survive_a_read_by_another_output(otel: FlextOtel) -> None:
    """An exemplar taken by one snapshot is still on the next (the SDK hands it out once)."""
    histogram = otel.meter_provider.get_meter("t").create_histogram("held_seconds", unit="s")
    with otel.tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        histogram.record(0.3, {"k": "v"})
    reader = reader_of(otel)
    reader.snapshot()
    data = reader.snapshot()
    assert data is not None
    exemplars = [
        e
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "held_seconds"
        for p in m.data.data_points
        for e in p.exemplars
    ]
    assert [e.span_id for e in exemplars] == [span.get_span_context().span_id]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_console_exporter_prints_on_force_flush(capfd: pytest.CaptureFixture[str]) -> None:
    """OTEL_METRICS_EXPORTER=console pushes the shared snapshot on force_flush."""
    with capture(metrics_exporter=["console"], metric_export_interval_ms=600_000) as cap:
        cap.otel.meter_provider.get_meter("t").create_counter("printed").add(1)
        assert cap.otel.force_flush()
        out = capfd.readouterr().out
    assert '"printed"' in out


class _Recording(MetricExporter):
    """Keeps what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []
        self.stopped = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.stopped = True


def test_push_exports_on_flush_and_once_more_at_shutdown(otel: FlextOtel) -> None:
    """MetricPush exports cumulative snapshots on flush and a final one on shutdown."""
    exporter = _Recording()
    push = MetricPush(reader_of(otel), [exporter], interval_ms=600_000, timeout_ms=5_000)
    counter = otel.meter_provider.get_meter("t").create_counter("pushed")
    counter.add(1)
    assert push.force_flush()
    counter.add(1)
    assert push.shutdown()
    assert push.shutdown()  # idempotent
    values = [
        p.value
        for batch in exporter.batches
        for rm in batch.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "pushed"
        for p in m.data.data_points
    ]
    assert values == [1, 2]
    assert exporter.stopped


def test_only_delta_or_exponential_exporters_need_their_own_reader() -> None:
    """Cumulative explicit-bucket exporters share the reader; the others do not."""
    assert not needs_own_reader(ConsoleMetricExporter())
    delta = ConsoleMetricExporter(preferred_temporality={Counter: AggregationTemporality.DELTA})
    assert needs_own_reader(delta)
    from opentelemetry.sdk.metrics import Histogram

    exponential = ConsoleMetricExporter(
        preferred_aggregation={Histogram: ExponentialBucketHistogramAggregation()}
    )
    assert needs_own_reader(exponential)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_pushes_the_parents_metrics(otel: FlextOtel) -> None:
    """After fork the parent's push loop is stopped in the child and exports nothing."""
    exporter = _Recording()
    push = MetricPush(reader_of(otel), [exporter], interval_ms=600_000, timeout_ms=5_000)
    otel.meter_provider.get_meter("t").create_counter("forked").add(1)
    pid = os.fork()
    if pid == 0:  # the child: flushing must not export
        code = 0 if push.force_flush() and not exporter.batches else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert push.force_flush()
    assert len(exporter.batches) == 1
    push.shutdown()


def test_repeated_attribute_sets_keep_the_sdks_exemplars(otel: FlextOtel) -> None:
    """A set seen before (the one-lookup path) still gets the SDK's exemplar decision."""
    histogram = otel.meter_provider.get_meter("t").create_histogram("again_seconds", unit="s")
    histogram.record(0.1, {"k": "v"})  # first: through the SDK, which creates the series
    with otel.tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        histogram.record(0.7, {"k": "v"})
    histogram.record(0.2, {"k": "v"})  # outside a span: no exemplar
    data = reader_of(otel).snapshot()
    assert data is not None
    (point,) = [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "again_seconds"
        for p in m.data.data_points
    ]
    assert point.count == 3
    assert [e.span_id for e in point.exemplars] == [span.get_span_context().span_id]


def test_cardinality_overflow_is_counted_on_repeated_measurements() -> None:
    """Sets beyond the limit keep folding into the overflow series, every time."""
    with capture(metric_cardinality_limit=2) as cap:
        counter = cap.otel.meter_provider.get_meter("t").create_counter("crowded")
        for _ in range(3):
            for user in ("a", "b", "c", "d"):
                counter.add(1, {"user": user})
        points = {tuple(sorted(p.attributes.items())): p.value for p in cap.metrics("crowded")}
        overflow = cap.otel.guardrails.stats()["metric_overflow"]
    assert sum(points.values()) == 12
    assert points[(("otel.metric.overflow", True),)] == 12 - sum(
        v for k, v in points.items() if k != (("otel.metric.overflow", True),)
    )
    assert overflow["crowded"] == points[(("otel.metric.overflow", True),)]


def test_a_secret_set_is_scrubbed_every_time_it_is_recorded(otel: FlextOtel) -> None:
    """Repeating a secret attribute set never lets it through the one-lookup path."""
    counter = otel.meter_provider.get_meter("t").create_counter("repeat_logins")
    for _ in range(5):
        counter.add(1, {"api_key": "sk-live-SECRETSECRET", "region": "eu"})
        counter.add(1, {"region": "eu"})
    points = {
        tuple(sorted(p.attributes.items())): p.value for p in otel.store.metrics("repeat_logins")
    }
    assert points == {
        (("api_key", "[REDACTED]"), ("region", "eu")): 5,
        (("region", "eu"),): 5,
    }
    assert otel.guardrails.stats()["scrubbed_values"] == 5


def test_pushed_data_carries_the_decorators_exemplar_into_otlp(otel: FlextOtel) -> None:
    """The decorator's duration exemplar reaches the OTLP encoding of a push."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics

    import flext_otel
    from flext_otel.pipeline.state import use

    @flext_otel.flext_monitor_function
    def traced() -> None:
        return None

    with use(otel):
        for _ in range(3):
            traced()
    exporter = _Recording()
    push = MetricPush(reader_of(otel), [exporter], interval_ms=600_000, timeout_ms=5_000)
    assert push.shutdown()
    request = encode_metrics(exporter.batches[-1])
    exemplars = [
        exemplar
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "flext.function.duration"
        for point in metric.histogram.data_points
        for exemplar in point.exemplars
    ]
    assert exemplars
    assert all(len(e.trace_id) == 16 and len(e.span_id) == 8 for e in exemplars)
