"""The store's span and log processors: transforms, refusals, shutdown, and their counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from flext_otel.pipeline import processors
from flext_otel.pipeline.correlation import correlation_scope
from flext_otel.pipeline.processors import (
    CorrelatedStoreSpanProcessor,
    CorrelationLogProcessor,
    CorrelationSpanProcessor,
    StoreLogProcessor,
    StoreSpanProcessor,
)
from flext_otel.store.telemetry import TelemetryStore


@pytest.fixture
def store() -> TelemetryStore:
    """An empty store."""
    return TelemetryStore(100)


@contextmanager
def tracer_with(processor: Any) -> Iterator[Any]:
    """A private tracer whose provider has only ``processor``."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    try:
        yield provider.get_tracer("t")
    finally:
        provider.shutdown()


def test_span_transform_keeps_replaces_or_drops(store: TelemetryStore) -> None:
    """A transform's None drops the span as invalid; an exception does too; stats add up."""

    def transform(span: ReadableSpan) -> ReadableSpan | None:
        if span.name == "drop":
            return None
        if span.name == "boom":
            raise RuntimeError("transform bug")
        return span

    processor = StoreSpanProcessor(store, transform)
    with tracer_with(processor) as tracer:
        for name in ("keep", "drop", "boom", "keep2"):
            with tracer.start_as_current_span(name):
                pass
    assert [s.name for s in store.spans()] == ["keep", "keep2"]
    stats = processor.stats()
    assert (stats.accepted, stats.exported) == (4, 2)
    assert stats.dropped["invalid"] == 2


def test_spans_after_shutdown_are_counted_not_stored(store: TelemetryStore) -> None:
    """After shutdown() the processor stores nothing and counts each span as shutdown."""
    processor = StoreSpanProcessor(store)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    processor.shutdown()
    processor.shutdown()  # idempotent
    with tracer.start_as_current_span("late"):
        pass
    assert store.spans() == []
    assert processor.stats().dropped["shutdown"] == 1
    assert processor.force_flush() is True
    provider.shutdown()


def test_correlated_store_processor_stamps_the_scope_id(store: TelemetryStore) -> None:
    """The one-processor form stamps flext.correlation_id at start and stores the span."""
    with tracer_with(CorrelatedStoreSpanProcessor(store)) as tracer:
        with correlation_scope("req-9"), tracer.start_as_current_span("in-scope"):
            pass
        with tracer.start_as_current_span("outside"):
            pass
    spans = {s.name: s for s in store.spans()}
    assert spans["in-scope"].attributes["flext.correlation_id"] == "req-9"
    assert "flext.correlation_id" not in spans["outside"].attributes


def test_correlation_stamping_never_raises_into_span_start(
    store: TelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing correlation lookup leaves the span unstamped but started and stored."""

    def broken() -> str:
        raise RuntimeError("context bug")

    monkeypatch.setattr(processors, "get_correlation_id", broken)
    provider = TracerProvider(shutdown_on_exit=False)
    stamper = CorrelationSpanProcessor()
    provider.add_span_processor(stamper)
    provider.add_span_processor(StoreSpanProcessor(store))
    with provider.get_tracer("t").start_as_current_span("still-here"):
        pass
    assert [s.name for s in store.spans()] == ["still-here"]
    assert stamper.force_flush() is True
    provider.shutdown()


def logger_with(*chain: Any) -> Any:
    """A private logger provider with ``chain`` processors, and its logger."""
    provider = LoggerProvider(shutdown_on_exit=False)
    for processor in chain:
        provider.add_log_record_processor(processor)
    return provider, provider.get_logger("t")


def test_log_transforms_refuse_or_fail_as_invalid(store: TelemetryStore) -> None:
    """A log transform returning False, or raising, drops the record as invalid."""

    def transform(record: Any) -> bool:
        body = record.log_record.body
        if body == "boom":
            raise RuntimeError("transform bug")
        return body != "refuse"

    processor = StoreLogProcessor(store, [transform])
    provider, logger = logger_with(CorrelationLogProcessor(), processor)
    with correlation_scope("req-log"):
        for body in ("kept", "refuse", "boom"):
            logger.emit(body=body)
    logger.emit(body="no scope")
    assert [r.body for r in store.logs()] == ["kept", "no scope"]
    assert store.logs()[0].correlation_id == "req-log"
    stats = processor.stats()
    assert (stats.accepted, stats.exported, stats.dropped["invalid"]) == (4, 2, 2)
    processor.shutdown()
    logger.emit(body="after shutdown")
    assert processor.stats().dropped["shutdown"] == 1
    assert processor.force_flush() is True
    provider.shutdown()


def test_log_correlation_never_raises_into_emit(
    store: TelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing correlation lookup leaves the log record stored without the ID."""

    def broken() -> str:
        raise RuntimeError("context bug")

    monkeypatch.setattr(processors, "get_correlation_id", broken)
    stamper = CorrelationLogProcessor()
    provider, logger = logger_with(stamper, StoreLogProcessor(store))
    logger.emit(body="still stored")
    assert [r.body for r in store.logs()] == ["still stored"]
    assert stamper.force_flush() is True
    stamper.shutdown()
    provider.shutdown()
