"""Batch export processors: no loss, no blocking, bounded lifecycle, fork safety."""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

import pytest
from conftest import wait_child
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
)

import flext_otel.export.batch as batch_module
from flext_otel.export.batch import (
    BatchLogExportProcessor,
    BatchSpanExportProcessor,
    CountingMetricExporter,
)
from flext_otel.support.counters import DROP_REASONS, PipelineCounters, PipelineStats

# -- test exporters ---------------------------------------------------------


class MemorySpanExporter(SpanExporter):
    """Keeps exported spans; can be told to fail, raise or hang until released."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.spans: list[ReadableSpan] = []
        self.calls = 0
        self.threads: set[str] = set()
        self.pids: set[int] = set()
        self.release = threading.Event()
        self.entered = threading.Event()
        self.shutdowns = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
            self.pids.add(os.getpid())
        self.entered.set()
        if self.mode == "hang":
            self.release.wait()
        if self.mode == "fail":
            return SpanExportResult.FAILURE
        if self.mode == "raise":
            raise ConnectionError("collector unreachable")
        with self._lock:
            self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shutdowns += 1


class MemoryLogExporter(LogRecordExporter):
    """Keeps exported log records."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.records.extend(batch)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        """Nothing to release."""


class RecordOnlySampler(Sampler):
    """Records every span but samples only those named ``keep*``."""

    def should_sample(
        self, parent_context: Context | None, trace_id: int, name: str, *a: Any, **k: Any
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if name.startswith("keep") else Decision.RECORD_ONLY
        return SamplingResult(decision)

    def get_description(self) -> str:
        return "record-only-unless-keep"


# -- helpers ------------------------------------------------------------------


def _pipeline(
    exporter: SpanExporter, **knobs: Any
) -> tuple[BatchSpanExportProcessor, Tracer, PipelineCounters]:
    sampler = knobs.pop("sampler", None)
    counters = PipelineCounters("traces:test")
    processor = BatchSpanExportProcessor(exporter, counters, **knobs)
    provider = TracerProvider(shutdown_on_exit=False, sampler=sampler)
    provider.add_span_processor(processor)
    return processor, provider.get_tracer("test"), counters


#: The slowest single span end allowed while the exporter hangs or fails. A span end
#: that waited for the exporter would take its whole timeout (0.5 s and more) or hang
#: forever; the margin absorbs scheduling pauses on a loaded 2-core machine.
NEVER_WAITS_S = 0.3


def _end_spans(tracer: Tracer, n: int, name: str = "work") -> float:
    """End ``n`` spans as fast as possible; returns the slowest span's seconds.

    Objects left over by earlier tests are frozen out of the garbage collector
    first, so a full collection pass measures this pipeline's objects only.
    """
    gc.collect()
    gc.freeze()
    slowest = 0.0
    try:
        for i in range(n):
            start = time.perf_counter()
            tracer.start_span(name, attributes={"i": i}).end()
            slowest = max(slowest, time.perf_counter() - start)
    finally:
        gc.unfreeze()
    return slowest


def _assert_balanced(stats: PipelineStats) -> None:
    assert stats.queue_depth == 0
    assert set(stats.dropped) <= set(DROP_REASONS)
    assert stats.accepted == stats.exported + sum(stats.dropped.values())


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Fails the test if a thread it started is still alive at the end."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before]
    for thread in leaked:  # finished threads may need a moment to unwind
        thread.join(2.0)
    assert [t.name for t in leaked if t.is_alive()] == []


# -- spans ------------------------------------------------------------------


@pytest.mark.usefixtures("no_leaked_threads")
def test_burst_of_10000_spans_is_exported_without_loss() -> None:
    """10,000 spans ended back to back, then shutdown: every one is exported once."""
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter)
    _end_spans(tracer, 10_000)
    processor.shutdown(30_000)
    stats = processor.stats()
    assert stats.exported == stats.accepted == 10_000
    assert dict(stats.dropped) == {}
    assert len({s.context.span_id for s in exporter.spans}) == 10_000
    assert stats.last_export_ok is True
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_burst_beyond_the_bound_counts_every_lost_span() -> None:
    """50,000 spans against a 20,480 bound: what was not exported is counted as queue_full."""
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter)
    _end_spans(tracer, 50_000)
    processor.shutdown(30_000)
    stats = processor.stats()
    assert stats.accepted == 50_000
    assert stats.exported == len(exporter.spans)
    assert set(stats.dropped) <= {"queue_full"}
    assert stats.exported + stats.dropped.get("queue_full", 0) == 50_000
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_exported_spans_match_the_sdk_spans_exactly() -> None:
    """Queued spans are rebuilt losslessly: same OTLP encoding and JSON as the SDK's own."""
    reference = InMemorySpanExporter()
    exporter = MemorySpanExporter()
    processor = BatchSpanExportProcessor(exporter, PipelineCounters("traces:test"))
    provider = TracerProvider(
        shutdown_on_exit=False,
        resource=Resource.create({"service.name": "checkout"}),
        span_limits=SpanLimits(max_span_attributes=3, max_events=1, max_links=1),
    )
    provider.add_span_processor(SimpleSpanProcessor(reference))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("scope", "1.2.3")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "opaque")]),
    )
    linked = SpanContext(0x1, 0x2, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with tracer.start_as_current_span(
        "charge",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        links=[Link(linked, {"why": "retry"}), Link(linked)],
        attributes={"a": 1, "b": "x", "c": [1, 2], "d": True},
    ) as span:
        span.add_event("first", {"k": "v"})
        span.add_event("second")
        span.set_status(Status(StatusCode.ERROR, "card declined"))
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT):
            pass
    processor.shutdown(5_000)

    expected = reference.get_finished_spans()
    assert [s.name for s in exporter.spans] == ["child", "charge"]
    assert exporter.spans[1].dropped_attributes == 1
    assert exporter.spans[1].dropped_events == 1
    assert exporter.spans[1].dropped_links == 1
    assert encode_spans(exporter.spans) == encode_spans(expected)
    assert [s.to_json() for s in exporter.spans] == [s.to_json() for s in expected]


@pytest.mark.usefixtures("no_leaked_threads")
def test_no_thread_before_first_span_and_exports_off_the_caller_thread() -> None:
    """Construction starts nothing; exports run on a background thread."""
    before = set(threading.enumerate())
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter)
    assert set(threading.enumerate()) == before
    _end_spans(tracer, 3)
    assert processor.force_flush(5_000) is True
    assert len(exporter.spans) == 3
    assert threading.current_thread().name not in exporter.threads
    processor.shutdown(5_000)
    _assert_balanced(processor.stats())


@pytest.mark.usefixtures("no_leaked_threads")
def test_force_flush_exports_a_partial_batch_before_the_schedule_delay() -> None:
    """force_flush exports what is queued now instead of waiting for the timer."""
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter, schedule_delay_ms=600_000)
    _end_spans(tracer, 5)
    assert processor.force_flush(5_000) is True
    assert len(exporter.spans) == 5
    processor.shutdown(5_000)
    _assert_balanced(processor.stats())


@pytest.mark.usefixtures("no_leaked_threads")
def test_queue_full_drops_new_spans_and_counts_them_exactly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Beyond the bound new spans are dropped as queue_full, each counted, logged once."""
    caplog.set_level(logging.WARNING, logger="flext_otel.export.batch")
    exporter = MemorySpanExporter("hang")
    processor, tracer, counters = _pipeline(exporter, max_queue_size=100)
    _end_spans(tracer, 100)
    assert exporter.entered.wait(5.0)  # a full batch woke the worker: 100 in flight
    _end_spans(tracer, 900)
    stats = counters.snapshot()  # the raw counters are exact too
    assert stats.accepted == 1_000
    assert stats.queue_depth == processor.queue_depth() == 200  # 100 in flight + 100 queued
    assert dict(stats.dropped) == {"queue_full": 800}
    processor.shutdown(200)
    stats = processor.stats()
    assert dict(stats.dropped) == {"queue_full": 800, "shutdown": 200}
    _assert_balanced(stats)
    messages = [r.getMessage() for r in caplog.records if r.name == "flext_otel.export.batch"]
    assert len(messages) == 1
    assert "queue full" in messages[0]
    exporter.release.set()


def test_hanging_exporter_never_blocks_and_deadlines_hold() -> None:
    """A stuck exporter: span end stays fast, flush and shutdown keep their deadlines."""
    before = set(threading.enumerate())
    exporter = MemorySpanExporter("hang")
    processor, tracer, _ = _pipeline(exporter, max_export_batch_size=64)
    assert _end_spans(tracer, 64) < NEVER_WAITS_S
    assert exporter.entered.wait(5.0)
    assert _end_spans(tracer, 500) < NEVER_WAITS_S

    start = time.monotonic()
    assert processor.force_flush(1_000) is False
    assert time.monotonic() - start < 1.5

    start = time.monotonic()
    processor.shutdown(2_000)
    assert time.monotonic() - start < 3.0
    stats = processor.stats()
    assert stats.exported == 0
    assert dict(stats.dropped) == {"shutdown": 564}
    _assert_balanced(stats)
    assert exporter.shutdowns == 1

    # Only the abandoned export thread (a daemon) is left; it ends once released.
    left = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in left] == ["flext-otel-export[traces:test]"]
    assert all(t.daemon for t in left)
    exporter.release.set()
    left[0].join(5.0)
    assert not left[0].is_alive()
    assert processor.stats().exported == 0  # a late completion changes no count


@pytest.mark.usefixtures("no_leaked_threads")
def test_export_timeout_counts_failure_and_pipeline_recovers() -> None:
    """An export past export_timeout_ms counts as failed; later spans still arrive."""
    exporter = MemorySpanExporter("hang")
    processor, tracer, _ = _pipeline(exporter, export_timeout_ms=100)
    _end_spans(tracer, 10)
    assert processor.force_flush(5_000) is False
    stats = processor.stats()
    assert dict(stats.dropped) == {"export_failed": 10}
    assert stats.last_error is not None
    assert "timed out" in stats.last_error

    exporter.mode = "ok"
    exporter.release.set()
    _end_spans(tracer, 7)
    assert processor.force_flush(5_000) is True
    processor.shutdown(5_000)
    stats = processor.stats()
    assert stats.exported == 7
    assert dict(stats.dropped) == {"export_failed": 10}
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_failures_are_logged_once_per_outage_and_recovery_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One WARNING per outage (no traceback), one INFO on recovery, counts exact."""
    caplog.set_level(logging.INFO, logger="flext_otel.export.batch")
    exporter = MemorySpanExporter("fail")
    processor, tracer, _ = _pipeline(exporter, max_export_batch_size=10)
    for _ in range(5):
        _end_spans(tracer, 10)
        assert processor.force_flush(5_000) is False
    exporter.mode = "raise"
    _end_spans(tracer, 10)
    assert processor.force_flush(5_000) is False
    exporter.mode = "ok"
    _end_spans(tracer, 10)
    assert processor.force_flush(5_000) is True
    exporter.mode = "fail"
    _end_spans(tracer, 10)
    assert processor.force_flush(5_000) is False
    processor.shutdown(5_000)

    records = [r for r in caplog.records if r.name == "flext_otel.export.batch"]
    levels = [r.levelname for r in records]
    assert levels == ["WARNING", "INFO", "WARNING"]
    assert all(r.exc_info is None for r in records)
    assert "recovered" in records[1].getMessage()
    stats = processor.stats()
    assert stats.exported == 10
    assert dict(stats.dropped) == {"export_failed": 70}
    assert stats.last_export_ok is False
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_spans_ended_during_an_outage_wait_and_arrive_after_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a failed export the worker backs off: later spans queue up instead of failing."""
    monkeypatch.setattr(batch_module, "_BACKOFF_S", (60.0, 60.0))  # longer than this test
    exporter = MemorySpanExporter("fail")
    processor, tracer, _ = _pipeline(exporter, max_export_batch_size=20, schedule_delay_ms=10)
    _end_spans(tracer, 5)
    assert processor.force_flush(5_000) is False  # the collector is down
    exporter.entered.clear()
    _end_spans(tracer, 60)  # three full batches while backing off
    assert not exporter.entered.wait(0.3)  # none is attempted
    exporter.mode = "ok"  # the collector comes back
    assert processor.force_flush(5_000) is True
    processor.shutdown(5_000)
    stats = processor.stats()
    assert exporter.calls == 4  # one failed probe, then three batches that succeed
    assert stats.exported == 60
    assert dict(stats.dropped) == {"export_failed": 5}
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_unsampled_spans_are_skipped_without_counting() -> None:
    """RECORD_ONLY spans are neither exported nor accepted."""
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter, sampler=RecordOnlySampler())
    _end_spans(tracer, 20, name="drop-me")
    _end_spans(tracer, 3, name="keep-me")
    processor.shutdown(5_000)
    stats = processor.stats()
    assert stats.accepted == stats.exported == 3
    assert {s.name for s in exporter.spans} == {"keep-me"}
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_transform_runs_on_the_worker_and_drops_are_invalid() -> None:
    """The transform runs off the caller's thread; None or an error drops as invalid."""
    seen_threads: set[str] = set()

    def transform(span: ReadableSpan) -> ReadableSpan | None:
        seen_threads.add(threading.current_thread().name)
        index = (span.attributes or {}).get("i")
        assert isinstance(index, int)
        if index == 3:
            raise ValueError("broken transform")
        return None if index % 2 else span

    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter, transform=transform)
    _end_spans(tracer, 10)
    processor.shutdown(5_000)
    assert threading.current_thread().name not in seen_threads
    assert seen_threads == {"flext-otel-batch[traces:test]"}
    stats = processor.stats()
    assert stats.exported == 5
    assert dict(stats.dropped) == {"invalid": 5}
    _assert_balanced(stats)


@pytest.mark.usefixtures("no_leaked_threads")
def test_after_shutdown_spans_are_dropped_as_shutdown_and_it_is_idempotent() -> None:
    """Spans after shutdown are counted, never raised; a second shutdown is a no-op."""
    exporter = MemorySpanExporter()
    processor, tracer, _ = _pipeline(exporter)
    _end_spans(tracer, 4)
    processor.shutdown(5_000)
    processor.shutdown(5_000)
    _end_spans(tracer, 6)
    assert processor.force_flush(1_000) is False
    stats = processor.stats()
    assert stats.exported == 4
    assert dict(stats.dropped) == {"shutdown": 6}
    assert exporter.shutdowns == 1
    _assert_balanced(stats)


def test_invalid_knobs_are_rejected() -> None:
    """Non-positive sizes or delays raise ValueError at construction."""
    counters = PipelineCounters("traces:test")
    with pytest.raises(ValueError, match="max_queue_size"):
        BatchSpanExportProcessor(MemorySpanExporter(), counters, max_queue_size=0)
    with pytest.raises(ValueError, match="schedule_delay_ms"):
        BatchSpanExportProcessor(MemorySpanExporter(), counters, schedule_delay_ms=-1)


# -- fork -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs os.fork and os.pidfd_open")
@pytest.mark.usefixtures("no_leaked_threads")
def test_forked_child_delivers_its_spans_through_a_fresh_exporter() -> None:
    """After fork the child restarts its worker, uses a fresh exporter and counts its own work."""
    parent_exporter = MemorySpanExporter("hang")
    child_exporters: list[MemorySpanExporter] = []

    def factory() -> MemorySpanExporter:
        exporter = MemorySpanExporter()
        child_exporters.append(exporter)
        return exporter

    counters = PipelineCounters("traces:test")
    processor = BatchSpanExportProcessor(
        parent_exporter, counters, max_export_batch_size=8, exporter_factory=factory
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("test")
    _end_spans(tracer, 50)
    assert parent_exporter.entered.wait(5.0)  # the parent is mid-export while we fork

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            _end_spans(tracer, 25, name="child")
            flushed = processor.force_flush(5_000)
            processor.shutdown(5_000)
            stats = processor.stats()
            result = {
                "flushed": flushed,
                "factory_calls": len(child_exporters),
                "child_spans": [s.name for e in child_exporters for s in e.spans],
                "inherited_used_in_child": os.getpid() in parent_exporter.pids,
                "accepted": stats.accepted,
                "exported": stats.exported,
                "dropped": dict(stats.dropped),
            }
            os.write(write_fd, json.dumps(result).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    assert wait_child(pid, 20.0) == 0
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    result = json.loads(b"".join(chunks))
    assert result == {
        "flushed": True,
        "factory_calls": 1,
        "child_spans": ["child"] * 25,
        "inherited_used_in_child": False,
        "accepted": 25,
        "exported": 25,
        "dropped": {},
    }
    parent_exporter.mode = "ok"
    parent_exporter.release.set()
    processor.shutdown(5_000)
    stats = processor.stats()
    assert stats.exported == 50  # the parent's own spans are unaffected by the fork
    assert all(s.name == "work" for s in parent_exporter.spans)
    _assert_balanced(stats)


# -- logs ---------------------------------------------------------------------


class KeepOriginal(LogRecordProcessor):
    """Remembers the records the application emitted (to check they stay unmodified)."""

    def __init__(self) -> None:
        self.records: list[ReadWriteLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.records.append(log_record)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@pytest.mark.usefixtures("no_leaked_threads")
def test_log_records_are_batched_transformed_on_a_copy_and_counted() -> None:
    """Log transforms run on the worker against a copy; False drops as invalid."""

    def redact(record: ReadWriteLogRecord) -> bool:
        attributes = record.log_record.attributes
        assert attributes is not None
        attributes["secret"] = "***"  # type: ignore[index]
        return record.log_record.body != "drop me"

    exporter = MemoryLogExporter()
    counters = PipelineCounters("logs:test")
    processor = BatchLogExportProcessor(exporter, counters, transforms=[redact])
    originals = KeepOriginal()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(originals)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("test")
    for i in range(30):
        logger.emit(body=f"line {i}", attributes={"secret": "hunter2", "i": i})
    logger.emit(body="drop me", attributes={"secret": "x"})
    assert processor.force_flush(5_000) is True
    processor.shutdown(5_000)

    assert [r.log_record.body for r in exporter.records] == [f"line {i}" for i in range(30)]
    assert {r.log_record.attributes["secret"] for r in exporter.records} == {"***"}
    assert {(r.log_record.attributes or {})["secret"] for r in originals.records} == {
        "hunter2",
        "x",
    }
    stats = processor.stats()
    assert stats.exported == 30
    assert dict(stats.dropped) == {"invalid": 1}
    _assert_balanced(stats)


# -- metrics ------------------------------------------------------------------


class MemoryMetricExporter(MetricExporter):
    """A metric exporter that succeeds, fails or hangs; prefers delta temporality."""

    def __init__(self, mode: str = "ok") -> None:
        super().__init__(preferred_temporality={Counter: AggregationTemporality.DELTA})
        self.mode = mode
        self.points = 0
        self.release = threading.Event()
        self.shutdown_timeouts: list[float] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if self.mode == "hang":
            self.release.wait()
        if self.mode == "raise":
            raise ConnectionError("down")
        if self.mode == "fail":
            return MetricExportResult.FAILURE
        for rm in metrics_data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    self.points += len(metric.data.data_points)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.shutdown_timeouts.append(timeout_millis)


def _metric_pipeline(
    inner: MetricExporter, timeout_ms: int = 5_000
) -> tuple[MeterProvider, CountingMetricExporter, Any]:
    counters = PipelineCounters("metrics:test")
    exporter = CountingMetricExporter(inner, counters)
    reader = PeriodicExportingMetricReader(
        exporter, export_interval_millis=600_000, export_timeout_millis=timeout_ms
    )
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    counter = provider.get_meter("test").create_counter("orders_total")
    return provider, exporter, counter


@pytest.mark.usefixtures("no_leaked_threads")
def test_counting_metric_exporter_counts_points_and_keeps_preferences() -> None:
    """Data points are accepted and exported; inner temporality preferences are kept."""
    inner = MemoryMetricExporter()
    provider, exporter, counter = _metric_pipeline(inner)
    assert exporter._preferred_temporality == {Counter: AggregationTemporality.DELTA}
    for region in ("eu", "us", "ap"):
        counter.add(1, {"region": region})
    assert provider.force_flush(5_000)
    provider.shutdown(5_000)
    stats = exporter.stats()
    assert inner.points == 3
    assert stats.exported == 3
    assert stats.accepted == stats.exported + sum(stats.dropped.values())
    assert len(inner.shutdown_timeouts) == 1
    assert inner.shutdown_timeouts[0] > 0


@pytest.mark.usefixtures("no_leaked_threads")
def test_counting_metric_exporter_failure_and_hang_never_raise_or_block() -> None:
    """A raising exporter is counted; a hanging one returns at the reader's timeout."""
    inner = MemoryMetricExporter("raise")
    provider, exporter, counter = _metric_pipeline(inner, timeout_ms=300)
    counter.add(5, {"k": "v"})
    provider.force_flush(5_000)
    assert dict(exporter.stats().dropped) == {"export_failed": 1}

    inner.mode = "hang"
    counter.add(1, {"k": "v"})
    start = time.monotonic()
    provider.force_flush(300)
    assert time.monotonic() - start < 1.5
    counter.add(1, {"k": "v"})
    provider.force_flush(300)  # the previous call is still stuck: fails fast
    stats = exporter.stats()
    assert dict(stats.dropped) == {"export_failed": 3}
    assert stats.last_error == "previous export still running"
    inner.release.set()
    provider.shutdown(5_000)
    stats = exporter.stats()
    assert stats.accepted == stats.exported + sum(stats.dropped.values())


# -- real OTLP gRPC exporter ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("flext-otel")]


def test_real_grpc_exporter_to_a_dead_port_fails_fast_logs_once_and_loses_nothing_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Real OTLP gRPC exporter, nothing listening: no blocking, one warning, exact counts."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    caplog.set_level(logging.INFO, logger="flext_otel.export.batch")
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{_closed_port()}", insecure=True, timeout=0.5)
    processor, tracer, _ = _pipeline(exporter)
    assert _end_spans(tracer, 5_000) < NEVER_WAITS_S
    start = time.monotonic()
    processor.shutdown(5_000)
    assert time.monotonic() - start < 6.0
    stats = processor.stats()
    assert stats.accepted == 5_000
    assert stats.exported == 0
    assert set(stats.dropped) <= {"export_failed", "shutdown"}
    _assert_balanced(stats)
    records = [r for r in caplog.records if r.name == "flext_otel.export.batch"]
    assert [r.levelname for r in records] == ["WARNING"]  # one line for the whole outage
    assert records[0].exc_info is None
    for thread in _our_threads():
        thread.join(5.0)
    assert _our_threads() == []


def test_real_grpc_exporter_in_retry_backoff_keeps_the_deadlines() -> None:
    """Real OTLP gRPC exporter retrying: flush False within 1.5 s, shutdown within 3 s."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{_closed_port()}", insecure=True, timeout=30)
    processor, tracer, _ = _pipeline(exporter)
    assert _end_spans(tracer, 2_000) < NEVER_WAITS_S
    start = time.monotonic()
    assert processor.force_flush(1_000) is False
    assert time.monotonic() - start < 1.5
    start = time.monotonic()
    processor.shutdown(2_000)
    assert time.monotonic() - start < 3.0
    stats = processor.stats()
    assert stats.accepted == 2_000
    assert stats.exported == 0
    assert stats.dropped["shutdown"] >= 1
    _assert_balanced(stats)
    # exporter.shutdown() interrupted the backoff: the abandoned export ends too
    for thread in _our_threads():
        thread.join(5.0)
    assert _our_threads() == []


def _receiver_process(conn: Connection) -> None:
    """Runs an OTLP gRPC receiver in its own process (a collector is never in the
    forking application's process); answers with the span names it received."""
    from flext_otel.testing import OtlpReceiver

    with OtlpReceiver("grpc") as receiver:
        conn.send(receiver.signal_endpoint("traces"))
        expected = conn.recv()
        try:
            conn.send([s.name for s in receiver.wait_for_spans(expected, timeout=20.0)])
        except TimeoutError as exc:
            conn.send(str(exc))


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs os.fork and os.pidfd_open")
def test_forked_children_deliver_through_real_grpc_while_the_parent_exports() -> None:
    """Children forked mid-export reach a real gRPC collector through fresh exporters and exit."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    children = 5
    spawn = multiprocessing.get_context("spawn")
    conn, server_end = spawn.Pipe()
    collector = spawn.Process(target=_receiver_process, args=(server_end,), daemon=True)
    collector.start()
    try:
        assert conn.poll(60.0)
        endpoint = conn.recv()

        def factory() -> OTLPSpanExporter:
            return OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=5)

        processor, tracer, _ = _pipeline(
            factory(), max_export_batch_size=32, exporter_factory=factory
        )
        pids = []
        for child in range(children):
            _end_spans(tracer, 100)  # keeps the parent's worker exporting
            pid = os.fork()
            if pid == 0:  # child: exit code says whether its 10 spans were delivered
                code = 1
                try:
                    _end_spans(tracer, 10, name=f"child-{child}")
                    processor.shutdown(5_000)
                    stats = processor.stats()
                    code = 0 if (stats.accepted, stats.exported) == (10, 10) else 3
                finally:
                    os._exit(code)
            pids.append(pid)
        codes = [wait_child(pid, 20.0) for pid in pids]
        processor.shutdown(5_000)
        conn.send(children * 110)
        assert conn.poll(30.0)
        names = conn.recv()
    finally:
        collector.join(10.0)
        if collector.is_alive():
            collector.kill()
            collector.join()
    assert codes == [0] * children
    assert isinstance(names, list), names
    for child in range(children):
        assert names.count(f"child-{child}") == 10
    assert names.count("work") == children * 100
    stats = processor.stats()
    assert stats.exported == children * 100
    _assert_balanced(stats)
