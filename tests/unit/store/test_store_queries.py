"""Store queries on their edges: trace trees, trace IDs, filters, bad arguments, no metrics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from flext_otel.pipeline.correlation import (
    correlation_scope,
    extract,
    inject,
    propagate_context,
)
from flext_otel.pipeline.processors import StoreSpanProcessor
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.testing import Captured, capture


@pytest.fixture
def cap() -> Iterator[Captured]:
    """A private pipeline."""
    with capture() as captured:
        yield captured


def test_trace_builds_the_tree_and_trace_ids_follow_the_newest_span(cap: Captured) -> None:
    """trace() nests children in start order; trace_ids() orders by each trace's newest span."""
    tracer = cap.otel.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("a"):
            pass
        with tracer.start_as_current_span("b"):
            pass
    with tracer.start_as_current_span("other") as other:
        pass
    first = format(root.get_span_context().trace_id, "032x")
    second = format(other.get_span_context().trace_id, "032x")
    [tree] = cap.store.trace(first)
    assert tree.span.name == "root"
    assert [child.span.name for child in tree.children] == ["a", "b"]
    assert cap.store.trace_ids() == [first, second]
    assert cap.store.trace("0" * 32) == []
    assert cap.spans()[0].is_error is False


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.trace(42), TypeError),
        (lambda s: s.trace("xyz"), ValueError),
        (lambda s: s.logs(min_level=True), TypeError),
        (lambda s: s.logs(min_level=99), ValueError),
        (lambda s: s.logs(min_level="loud"), ValueError),
        (lambda s: s.logs(min_level=2.5), TypeError),
        (lambda s: s.alerts(severity=3), TypeError),
        (lambda s: s.health_checks(component=3), TypeError),
        (lambda s: s.metrics(name=3), TypeError),
    ],
)
def test_bad_query_arguments_raise_with_the_reason(call: object, error: type[Exception]) -> None:
    """Queries refuse arguments of the wrong type or range (TypeError / ValueError)."""
    with pytest.raises(error):
        call(TelemetryStore(10))  # type: ignore[operator]


def test_a_store_without_a_metric_source_has_no_metrics() -> None:
    """A bare store (no pipeline reading metrics into it) answers an empty list."""
    store = TelemetryStore(10)
    assert store.metrics() == []
    assert store.metrics("x") == []


def test_store_processor_feeds_a_bare_store_with_ring_buffer_limits() -> None:
    """Past its capacity the store keeps the newest spans and counts the evicted ones."""
    store = TelemetryStore(3)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(StoreSpanProcessor(store))
    for i in range(5):
        with provider.get_tracer("t").start_as_current_span(f"s{i}"):
            pass
    assert [s.name for s in store.spans()] == ["s2", "s3", "s4"]
    stats = store.stats()["spans"]
    assert (stats.accepted, stats.evicted, stats.size, stats.capacity) == (5, 2, 3, 3)
    store.clear()
    assert store.spans() == []
    provider.shutdown()


def test_extract_reads_headers_in_any_case_and_shape(cap: Captured) -> None:
    """Header names match case-insensitively; list values and non-string values are read."""
    with (
        correlation_scope("req-77"),
        cap.otel.tracer_provider.get_tracer("t").start_as_current_span("client"),
    ):
        headers = inject()
    shouted = {name.upper(): [value] for name, value in headers.items()}
    context = extract(shouted)
    from opentelemetry import baggage, trace

    assert baggage.get_baggage("correlation_id", context) == "req-77"
    assert trace.get_current_span(context).get_span_context().is_valid
    assert extract({"traceparent": 12345}) is not None  # junk is ignored, not raised
    assert repr(correlation_scope("req-1")) == "CorrelationScope('req-1')"


def test_propagate_context_refuses_non_callables() -> None:
    """propagate_context(obj) with something not callable is a TypeError naming its type."""
    with pytest.raises(TypeError, match="needs a callable, got int"):
        propagate_context(5)  # type: ignore[arg-type]
