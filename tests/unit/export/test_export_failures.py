"""Exporters that raise, refuse, hang or fail to stop: counted, bounded, never raised."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.export.batch import BatchSpanExportProcessor, CountingMetricExporter
from flext_otel.support.counters import PipelineCounters


class Spans(SpanExporter):
    """A span exporter whose shutdown raises or blocks on demand."""

    def __init__(self, *, shutdown_error: bool = False, hang: threading.Event | None = None):
        self.exported: list[str] = []
        self.shutdown_error = shutdown_error
        self.hang = hang

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported.extend(span.name for span in spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self.hang is not None:
            self.hang.wait(10)
        if self.shutdown_error:
            raise RuntimeError("cannot close the channel")


def spans_through(processor: BatchSpanExportProcessor, *names: str) -> None:
    """End one span per name on a private provider that has only ``processor``."""
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for name in names:
        with tracer.start_as_current_span(name):
            pass


def test_a_transform_that_raises_drops_the_span_as_invalid() -> None:
    """A transform failure on the worker drops that span as invalid; the others go out."""

    def transform(span: ReadableSpan) -> ReadableSpan | None:
        if span.name == "boom":
            raise RuntimeError("transform bug")
        return None if span.name == "drop" else span

    exporter = Spans()
    counters = PipelineCounters("traces:test")
    processor = BatchSpanExportProcessor(exporter, counters, transform=transform)
    spans_through(processor, "ok", "boom", "drop", "ok2")
    assert processor.force_flush(5_000)
    assert exporter.exported == ["ok", "ok2"]
    stats = processor.stats()
    assert (stats.accepted, stats.exported, stats.dropped["invalid"]) == (4, 2, 2)
    processor.shutdown(5_000)


def test_an_exporter_whose_shutdown_raises_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """shutdown() returns normally and says the exporter's shutdown failed."""
    processor = BatchSpanExportProcessor(
        Spans(shutdown_error=True), PipelineCounters("traces:raising")
    )
    spans_through(processor, "one")
    with caplog.at_level(logging.WARNING, logger="flext_otel"):
        processor.shutdown(5_000)
    assert "traces:raising: exporter shutdown failed: RuntimeError" in caplog.text
    assert processor.stats().exported == 1


def test_an_exporter_whose_shutdown_hangs_is_abandoned_at_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hanging exporter shutdown is left behind when the deadline passes, and said so."""
    release = threading.Event()
    processor = BatchSpanExportProcessor(Spans(hang=release), PipelineCounters("traces:hang"))
    try:
        with caplog.at_level(logging.WARNING, logger="flext_otel"):
            processor.shutdown(200)
        assert "traces:hang: exporter shutdown did not finish in time" in caplog.text
    finally:
        release.set()


def metrics_data() -> MetricsData:
    """Real metrics data with one counter point."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider.get_meter("t").create_counter("c").add(1)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


class Metrics(MetricExporter):
    """A metric exporter with a scripted behaviour."""

    def __init__(self, behaviour: str, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.behaviour = behaviour
        self.gate = gate
        self.shut = False

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self.behaviour == "raise":
            raise ConnectionError("collector down")
        if self.behaviour == "hang" and self.gate is not None:
            self.gate.wait(10)
        if self.behaviour == "refuse":
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        if self.behaviour == "raise":
            raise ConnectionError("collector down")
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.shut = True


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event released at the end of the test (unblocks hanging exporters)."""
    event = threading.Event()
    yield event
    event.set()


@pytest.mark.parametrize("behaviour", ["raise", "refuse"])
def test_failed_metric_exports_count_every_point(behaviour: str) -> None:
    """An exporter that raises or answers FAILURE loses its points as export_failed."""
    exporter = CountingMetricExporter(Metrics(behaviour), PipelineCounters("metrics:x"))
    assert exporter.export(metrics_data()) is MetricExportResult.FAILURE
    stats = exporter.stats()
    assert (stats.accepted, stats.exported, stats.dropped["export_failed"]) == (1, 0, 1)
    assert exporter.force_flush(1_000) is (behaviour != "raise")


def test_a_hung_metric_export_times_out_and_the_next_fails_fast(gate: threading.Event) -> None:
    """A call past its deadline is abandoned; while it runs, further exports fail fast."""
    exporter = CountingMetricExporter(Metrics("hang", gate), PipelineCounters("metrics:hang"))
    assert exporter.export(metrics_data(), timeout_millis=100) is MetricExportResult.FAILURE
    assert exporter.export(metrics_data(), timeout_millis=100) is MetricExportResult.FAILURE
    stats = exporter.stats()
    assert (stats.accepted, stats.dropped["export_failed"]) == (2, 2)


def test_metric_exports_after_shutdown_are_counted_as_shutdown() -> None:
    """After shutdown (idempotent, timeout= accepted) every point is dropped as shutdown."""
    inner = Metrics("ok")
    exporter = CountingMetricExporter(inner, PipelineCounters("metrics:done"))
    assert exporter.export(metrics_data()) is MetricExportResult.SUCCESS
    exporter.shutdown(timeout=1_000)
    exporter.shutdown()
    assert inner.shut
    assert exporter.export(metrics_data()) is MetricExportResult.FAILURE
    stats = exporter.stats()
    assert (stats.accepted, stats.exported, stats.dropped["shutdown"]) == (2, 1, 1)


class BrokenSpan:
    """Stands in for a finished span whose context cannot be read."""

    @property
    def context(self) -> Any:
        raise RuntimeError("span bug")


def test_a_span_that_cannot_be_read_is_counted_invalid_not_raised() -> None:
    """on_end with a span whose fields raise counts it as accepted and invalid."""
    counters = PipelineCounters("traces:broken")
    processor = BatchSpanExportProcessor(Spans(), counters)
    processor.on_end(BrokenSpan())  # type: ignore[arg-type]
    stats = processor.stats()
    assert (stats.accepted, stats.dropped["invalid"]) == (1, 1)
    processor.shutdown(1_000)


def test_a_failing_core_never_raises_out_of_flush_or_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug inside the batch core makes force_flush return False and shutdown return."""
    processor = BatchSpanExportProcessor(Spans(), PipelineCounters("traces:core"))

    def broken(*args: object) -> None:
        raise RuntimeError("core bug")

    monkeypatch.setattr(processor._core, "force_flush", broken)
    monkeypatch.setattr(processor._core, "shutdown", broken)
    monkeypatch.setattr(processor, "_offer", broken)
    assert processor.force_flush(1_000) is False
    processor.shutdown(1_000)
    spans_through(processor, "dropped quietly")  # the offer bug does not reach the caller


def test_a_log_transform_that_raises_drops_the_record_as_invalid() -> None:
    """A log transform that raises on the worker drops that record and keeps the others."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

    from flext_otel.export.batch import BatchLogExportProcessor

    def transform(record: Any) -> bool:
        if record.log_record.body == "boom":
            raise RuntimeError("transform bug")
        return True

    exporter = InMemoryLogRecordExporter()
    processor = BatchLogExportProcessor(
        exporter, PipelineCounters("logs:test"), transforms=[transform]
    )
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("t")
    for body in ("ok", "boom", "ok2"):
        logger.emit(body=body)
    assert processor.force_flush(5_000)
    assert [r.log_record.body for r in exporter.get_finished_logs()] == ["ok", "ok2"]
    stats = processor.stats()
    assert (stats.accepted, stats.exported, stats.dropped["invalid"]) == (3, 2, 1)
    processor.shutdown(5_000)
