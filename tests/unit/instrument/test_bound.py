"""Pre-bound aggregations: same numbers as the instruments, bound only when safe,
exemplars offered once per bucket per interval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from flext_otel.domain.entities import FlextMetric
from flext_otel.export.metricview import SharedMetricReader
from flext_otel.instrument.adapters import MetricAdapter
from flext_otel.instrument.bound import EXEMPLAR_INTERVAL_NS, bind_histogram, bind_sum
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.support.otel_private import install_measurement_hook
from flext_otel.testing import capture

ATTRS = {"function": "m.f", "outcome": "success"}


@pytest.fixture
def otel() -> Iterator[FlextOtel]:
    """A private default pipeline."""
    with capture() as cap:
        yield cap.otel


def point(otel: FlextOtel, name: str) -> Any:
    """The one store point of ``name``."""
    (found,) = otel.store.metrics(name)
    return found


def test_bound_sum_adds_to_the_sdk_aggregation(otel: FlextOtel) -> None:
    """After one public add, the bound sum adds to the same series."""
    counter = otel.meter_provider.get_meter("t").create_counter("bound_calls")
    counter.add(1, ATTRS)
    bound = bind_sum(counter, otel.metric_reader, ATTRS)
    assert bound is not None
    bound.add(4)
    counter.add(2, ATTRS)
    assert point(otel, "bound_calls").value == 7


def test_nothing_is_bound_before_the_first_measurement_or_without_a_reader(
    otel: FlextOtel,
) -> None:
    """An attribute set the SDK has not aggregated yet, or no reader, binds nothing."""
    counter = otel.meter_provider.get_meter("t").create_counter("unbound")
    assert bind_sum(counter, otel.metric_reader, ATTRS) is None
    counter.add(1, ATTRS)
    assert bind_sum(counter, None, ATTRS) is None


def test_a_scrubbed_attribute_set_is_never_bound(otel: FlextOtel) -> None:
    """Attributes the hook rewrote are not found: the caller keeps the public path."""
    counter = otel.meter_provider.get_meter("t").create_counter("secretive")
    secret = {"api_key": "sk-live-SECRETSECRET"}
    counter.add(1, secret)
    assert bind_sum(counter, otel.metric_reader, secret) is None


def test_delta_readers_are_not_bound() -> None:
    """A delta stream (aggregations reset on collect) is left to the instruments."""
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("t").create_counter("delta")
    counter.add(1, ATTRS)
    assert bind_sum(counter, reader, ATTRS) is None
    provider.shutdown()


def test_bound_histogram_records_and_offers_one_exemplar_per_bucket_interval(
    otel: FlextOtel,
) -> None:
    """Values land in the SDK buckets; a sampled span's exemplar is kept, then rate-limited."""
    histogram = otel.meter_provider.get_meter("t").create_histogram(
        "bound_seconds", unit="s", explicit_bucket_boundaries_advisory=(0.1, 1.0)
    )
    histogram.record(0.05, ATTRS)
    bound = bind_histogram(histogram, otel.metric_reader, ATTRS)
    assert bound is not None
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("first") as first:
        context = trace.set_span_in_context(first)
        bound.record(0.5, 10, context, first)
    with tracer.start_as_current_span("second") as second:
        context = trace.set_span_in_context(second)
        bound.record(0.6, 10 + EXEMPLAR_INTERVAL_NS - 1, context, second)
    found = point(otel, "bound_seconds")
    assert found.count == 3
    assert [count for _, count in found.buckets] == [1, 2, 0]
    data = otel.metric_reader.snapshot()
    assert data is not None
    (exemplar,) = [
        e
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "bound_seconds"
        for p in m.data.data_points
        for e in p.exemplars
    ]
    assert exemplar.span_id == first.get_span_context().span_id


def test_metric_adapter_binds_counters_after_the_first_record(otel: FlextOtel) -> None:
    """record_bound is refused until record_valid bound the tag set, then adds to it."""
    adapter = MetricAdapter(otel.meter_provider.get_meter("t"), otel.metric_reader)
    entity = FlextMetric("adapter_total", 3, tags={"region": "eu"})
    assert adapter.record_bound(entity) is False
    assert adapter.record_valid(entity) is None
    assert adapter.record_bound(entity) is True
    assert adapter.record_bound(FlextMetric("adapter_total", 1, tags={"region": "us"})) is False
    assert point(otel, "adapter_total").value == 6


def test_sequence_tags_bind_to_the_same_series(otel: FlextOtel) -> None:
    """A sequence-valued tag (a tuple after validation) binds and counts like the SDK."""
    adapter = MetricAdapter(otel.meter_provider.get_meter("t"), otel.metric_reader)
    entity = FlextMetric("listy_total", 1, tags={"codes": [1, 2]})
    assert adapter.record_valid(entity) is None
    assert adapter.record_bound(entity) is True
    assert point(otel, "listy_total").value == 2


def test_a_failing_measurement_transform_keeps_the_measurement() -> None:
    """The hook never raises into the caller: the measurement is recorded as given."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])

    def broken(_attributes: Any) -> Any:
        raise RuntimeError("boom")

    assert install_measurement_hook(provider, broken, lambda _a: False)
    provider.get_meter("t").create_counter("kept").add(1, {"k": "v"})
    data = reader.get_metrics_data()
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert dict(metric.data.data_points[0].attributes) == {"k": "v"}
    provider.shutdown()


def test_bound_histogram_follows_an_always_off_exemplar_filter() -> None:
    """A provider with exemplars off gets none from the bound path either."""
    reader = SharedMetricReader()
    provider = MeterProvider(metric_readers=[reader], exemplar_filter=AlwaysOffExemplarFilter())
    histogram = provider.get_meter("t").create_histogram("quiet_seconds")
    histogram.record(0.5, ATTRS)
    bound = bind_histogram(histogram, reader, ATTRS)
    assert bound is not None
    with TracerProvider().get_tracer("t").start_as_current_span("s") as span:
        bound.record(0.5, 10, trace.set_span_in_context(span), span)
    data = reader.snapshot()
    assert data is not None
    (metric,) = data.resource_metrics[0].scope_metrics[0].metrics
    assert metric.data.data_points[0].count == 2
    assert list(metric.data.data_points[0].exemplars) == []
    provider.shutdown()
