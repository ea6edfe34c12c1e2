"""Adapters against real SDK providers: metric points, spans, log records, alerts, health."""

from __future__ import annotations

import calendar
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Meter, NoOpMeter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    InMemoryMetricReader,
    Metric,
    Sum,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracer, StatusCode

from flext_otel.domain.entities import (
    HEALTH_STATUS_VALUE,
    FlextAlert,
    FlextHealthCheck,
    FlextLogEntry,
    FlextMetric,
    FlextTrace,
)
from flext_otel.instrument.adapters import (
    ALERT_SEVERITY,
    SECONDS_BUCKETS,
    AlertAdapter,
    HealthAdapter,
    LogAdapter,
    MetricAdapter,
    TraceAdapter,
    datetime_from_ns,
    datetime_to_ns,
)
from flext_otel.pipeline.correlation import correlation_scope
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.support.keys import CORRELATION_ATTRIBUTE

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@dataclass
class Sdk:
    """Private SDK providers with in-memory exporters and reader."""

    tracer_provider: TracerProvider
    spans: InMemorySpanExporter
    meter_provider: MeterProvider
    reader: InMemoryMetricReader
    logger_provider: LoggerProvider
    logs: InMemoryLogRecordExporter

    @property
    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer("test")

    @property
    def meter(self) -> Meter:
        return self.meter_provider.get_meter("test")

    @property
    def logger(self) -> Any:
        return self.logger_provider.get_logger("test")

    def finished(self) -> Sequence[ReadableSpan]:
        return self.spans.get_finished_spans()

    def records(self) -> list[ReadableLogRecord]:
        return list(self.logs.get_finished_logs())

    def metrics(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    assert metric.name not in found, f"duplicate instrument {metric.name}"
                    found[metric.name] = metric
        return found

    def data_points(self, name: str) -> list[Any]:
        return list(self.metrics()[name].data.data_points)

    def points(self, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        metric = self.metrics()[name]
        return {tuple(sorted((p.attributes or {}).items())): p for p in metric.data.data_points}


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    """Fresh SDK providers for one test, shut down afterwards."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # SDK lacks annotations
    logger_provider = LoggerProvider(shutdown_on_exit=False)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    yield Sdk(tracer_provider, spans, meter_provider, reader, logger_provider, logs)
    tracer_provider.shutdown()
    meter_provider.shutdown()
    logger_provider.shutdown()


class CountingMeter:
    """Delegates to a real meter and counts instrument creations."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.created: list[str] = []

    def __getattr__(self, name: str) -> Any:
        factory = getattr(self.meter, name)

        def create(*args: Any, **kwargs: Any) -> Any:
            self.created.append(args[0])
            return factory(*args, **kwargs)

        return create


class BrokenMeter(NoOpMeter):
    """A meter whose sync instruments cannot be created."""

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        raise RuntimeError("meter is broken")


# -- time helpers --------------------------------------------------------------


def test_datetime_ns_round_trip_is_exact_to_the_microsecond() -> None:
    """datetime_to_ns and datetime_from_ns invert each other without float rounding."""
    moment = datetime(2261, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert datetime_to_ns(moment) == calendar.timegm(moment.timetuple()) * 10**9 + 999_999_000
    assert datetime_from_ns(datetime_to_ns(moment)) == moment
    assert datetime_to_ns(T0.astimezone(timezone(timedelta(hours=5)))) == datetime_to_ns(T0)


# -- metrics ---------------------------------------------------------------------


def test_counter_adds_values_with_tags_as_attributes(sdk: Sdk) -> None:
    """A counter entity adds its value on a monotonic Sum, tags as attributes, unit kept."""
    adapter = MetricAdapter(sdk.meter)
    first = FlextMetric("orders_total", 2, unit="1", tags={"region": "eu"})
    assert adapter.record(first).value is first
    adapter.record(FlextMetric("orders_total", 3, unit="1", tags={"region": "eu"}))
    adapter.record(FlextMetric("orders_total", 7, unit="1", tags={"region": "us"}))
    metric = sdk.metrics()["orders_total"]
    assert isinstance(metric.data, Sum)
    assert metric.data.is_monotonic
    assert metric.unit == "1"
    points = sdk.points("orders_total")
    assert points[(("region", "eu"),)].value == 5
    assert points[(("region", "us"),)].value == 7


def test_up_down_counter_goes_both_ways(sdk: Sdk) -> None:
    """An up_down_counter adds negative values on a non-monotonic Sum."""
    adapter = MetricAdapter(sdk.meter)
    adapter.record(FlextMetric("queue_items", 5, metric_type="up_down_counter"))
    result = adapter.record(FlextMetric("queue_items", -2, metric_type="up_down_counter"))
    assert result.is_success
    metric = sdk.metrics()["queue_items"]
    assert isinstance(metric.data, Sum)
    assert not metric.data.is_monotonic
    assert sdk.data_points("queue_items")[0].value == 3


def test_histogram_in_seconds_gets_second_scale_buckets(sdk: Sdk) -> None:
    """A histogram with unit "s" records with the second-scale bucket advice."""
    adapter = MetricAdapter(sdk.meter)
    adapter.record(FlextMetric("request_seconds", 0.2, unit="s", tags={"route": "/a"}))
    adapter.record(FlextMetric("request_seconds", 0.3, unit="s", tags={"route": "/a"}))
    metric = sdk.metrics()["request_seconds"]
    assert isinstance(metric.data, Histogram)
    assert metric.unit == "s"
    point = sdk.data_points("request_seconds")[0]
    assert dict(point.attributes or {}) == {"route": "/a"}
    assert point.count == 2
    assert point.sum == pytest.approx(0.5)
    assert tuple(point.explicit_bounds) == SECONDS_BUCKETS


def test_histogram_in_milliseconds_keeps_sdk_default_buckets(sdk: Sdk) -> None:
    """Bucket advice is only given for seconds; other units keep the SDK defaults."""
    MetricAdapter(sdk.meter).record(FlextMetric("latency_time", 12.0, unit="ms"))
    point = sdk.data_points("latency_time")[0]
    assert tuple(point.explicit_bounds) != SECONDS_BUCKETS
    assert point.sum == 12.0


def test_gauge_keeps_the_last_value(sdk: Sdk) -> None:
    """A gauge entity sets a synchronous Gauge; the last value wins."""
    adapter = MetricAdapter(sdk.meter)
    adapter.record(FlextMetric("queue_depth", 7, tags={"queue": "q1"}))
    adapter.record(FlextMetric("queue_depth", 4.5, tags={"queue": "q1"}))
    metric = sdk.metrics()["queue_depth"]
    assert isinstance(metric.data, Gauge)
    assert sdk.points("queue_depth")[(("queue", "q1"),)].value == 4.5


def test_sequence_tags_reach_the_point(sdk: Sdk) -> None:
    """Homogeneous sequence tags are carried as attribute values."""
    MetricAdapter(sdk.meter).record(FlextMetric("ports_total", 1, tags={"ports": [80, 443]}))
    assert list(sdk.points("ports_total")) == [(("ports", (80, 443)),)]


def test_instrument_is_created_once_per_name_type_unit(sdk: Sdk) -> None:
    """Repeated recordings reuse one cached instrument."""
    meter = CountingMeter(sdk.meter)
    adapter = MetricAdapter(meter)  # type: ignore[arg-type]
    for value in range(50):
        assert adapter.record(FlextMetric("jobs_total", value)).is_success
    assert meter.created == ["jobs_total"]
    assert adapter.instruments() == {"jobs_total": ("counter", "")}
    assert sdk.data_points("jobs_total")[0].value == sum(range(50))


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        pytest.param(FlextMetric("jobs_total", 1, metric_type="gauge"), "type", id="other-type"),
        pytest.param(FlextMetric("jobs_total", 1, unit="ms"), "unit", id="other-unit"),
        pytest.param(
            FlextMetric("JOBS_TOTAL", 1, metric_type="histogram"), "type", id="other-case-type"
        ),
    ],
)
def test_conflicting_instrument_fails_without_a_second_instrument(
    sdk: Sdk, second: FlextMetric, reason: str
) -> None:
    """Same name (case-insensitive) with another type or unit fails CONFLICTING_INSTRUMENT."""
    meter = CountingMeter(sdk.meter)
    adapter = MetricAdapter(meter)  # type: ignore[arg-type]
    assert adapter.record(FlextMetric("jobs_total", 4)).is_success
    result = adapter.record(second)
    assert result.is_failure
    assert result.error_code == "CONFLICTING_INSTRUMENT"
    assert "jobs_total" in (result.error or "")
    assert meter.created == ["jobs_total"], reason
    points = sdk.data_points("jobs_total")
    assert [p.value for p in points] == [4]


def test_same_name_other_case_same_type_is_the_same_instrument(sdk: Sdk) -> None:
    """OTel names are case-insensitive: identical type and unit is no conflict."""
    adapter = MetricAdapter(sdk.meter)
    adapter.record(FlextMetric("jobs_total", 1))
    assert adapter.record(FlextMetric("Jobs_Total", 2)).is_success
    assert adapter.instruments() == {"jobs_total": ("counter", "")}


def test_concurrent_first_recordings_create_one_instrument(sdk: Sdk) -> None:
    """Threads racing on a new metric create exactly one instrument and lose nothing."""
    meter = CountingMeter(sdk.meter)
    adapter = MetricAdapter(meter)  # type: ignore[arg-type]
    barrier = threading.Barrier(8)
    failures: list[str] = []

    def work() -> None:
        barrier.wait()
        for _ in range(100):
            result = adapter.record(FlextMetric("race_total", 1))
            if result.is_failure:
                failures.append(result.error or "")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert meter.created == ["race_total"]
    assert sdk.data_points("race_total")[0].value == 800


def test_metric_adapter_rejects_non_entities() -> None:
    """Anything but a FlextMetric fails with INVALID_TYPE instead of raising."""
    adapter = MetricAdapter(NoOpMeter("t"))
    for value in (None, "orders_total", object(), 3):
        result = adapter.record(value)  # type: ignore[arg-type]
        assert result.error_code == "INVALID_TYPE"


def test_metric_adapter_wraps_sdk_failures() -> None:
    """An exception inside OTel becomes RECORD_FAILED, never an exception."""
    result = MetricAdapter(BrokenMeter("broken")).record(FlextMetric("orders_total", 1))
    assert result.is_failure
    assert result.error_code == "RECORD_FAILED"
    assert "meter is broken" in (result.error or "")


# -- traces ------------------------------------------------------------------------


def test_trace_span_has_the_entity_times_status_and_attributes(sdk: Sdk) -> None:
    """The span carries the entity's exact start/end, status and attributes."""
    entity = FlextTrace(
        "charge-card",
        start_time=T0,
        end_time=T0 + timedelta(milliseconds=250),
        status="ok",
        attributes={"order": 42, "tags": ["a", "b"]},
    )
    result = TraceAdapter(sdk.tracer).record(entity)
    (span,) = sdk.finished()
    assert span.name == "charge-card"
    assert span.start_time == datetime_to_ns(T0)
    assert span.end_time == datetime_to_ns(T0) + 250_000_000
    assert span.status.status_code is StatusCode.OK
    assert dict(span.attributes or {}) == {"order": 42, "tags": ("a", "b")}
    assert span.parent is None
    value = result.unwrap()
    assert value.trace_id == format(span.context.trace_id, "032x")
    assert value.span_id == format(span.context.span_id, "016x")
    assert value.parent_span_id is None
    assert (value.start_time, value.end_time, value.id) == (T0, entity.end_time, entity.id)


def test_trace_with_only_a_duration_ends_now(sdk: Sdk) -> None:
    """duration_ms alone gives end = creation time and start = end - duration."""
    entity = FlextTrace("batch", duration_ms=1500, status="error")
    TraceAdapter(sdk.tracer).record(entity)
    (span,) = sdk.finished()
    assert span.end_time == datetime_to_ns(entity.created_at)
    assert (span.end_time or 0) - (span.start_time or 0) == 1_500_000_000
    assert span.status.status_code is StatusCode.ERROR


def test_trace_without_times_is_zero_length(sdk: Sdk) -> None:
    """No times at all give a zero-length span with status UNSET."""
    TraceAdapter(sdk.tracer).record(FlextTrace("tick"))
    (span,) = sdk.finished()
    assert span.end_time == span.start_time
    assert span.status.status_code is StatusCode.UNSET


def test_trace_with_ids_gets_a_remote_sampled_parent(sdk: Sdk) -> None:
    """trace_id + parent_span_id make the span a child of that remote span."""
    entity = FlextTrace("child", trace_id=TRACE_ID, parent_span_id=PARENT_ID, duration_ms=3)
    value = TraceAdapter(sdk.tracer).record(entity).unwrap()
    (span,) = sdk.finished()
    assert span.parent is not None
    assert span.parent.is_remote
    assert span.parent.trace_flags.sampled
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert (value.trace_id, value.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert value.span_id == format(span.context.span_id, "016x")
    assert value.span_id != PARENT_ID


def test_trace_without_ids_is_a_child_of_the_current_span(sdk: Sdk) -> None:
    """With no parent given, the current span is the parent."""
    tracer = sdk.tracer
    with tracer.start_as_current_span("outer") as outer:
        value = TraceAdapter(tracer).record(FlextTrace("inner", duration_ms=1)).unwrap()
    inner = next(s for s in sdk.finished() if s.name == "inner")
    outer_ctx = outer.get_span_context()
    assert inner.parent is not None
    assert inner.parent.span_id == outer_ctx.span_id
    assert value.parent_span_id == format(outer_ctx.span_id, "016x")
    assert value.trace_id == format(outer_ctx.trace_id, "032x")


def test_trace_adapter_on_a_noop_tracer_returns_the_entity() -> None:
    """A no-op tracer assigns nothing: the entity comes back unchanged."""
    entity = FlextTrace("op")
    assert TraceAdapter(NoOpTracer()).record(entity).value is entity


def test_trace_adapter_rejects_non_entities() -> None:
    """Anything but a FlextTrace fails with INVALID_TYPE."""
    assert TraceAdapter(NoOpTracer()).record("op").error_code == "INVALID_TYPE"  # type: ignore[arg-type]


def test_trace_scope_yields_the_current_recording_span(sdk: Sdk) -> None:
    """trace_scope runs the block in a new current span and yields it."""
    scope = TraceAdapter(sdk.tracer).trace_scope("work", order=7)
    assert scope.result is None
    with scope as span:
        assert span.is_recording()
        assert trace.get_current_span() is span
        span.set_attribute("items", 3)
    assert trace.get_current_span() is not span
    (finished,) = sdk.finished()
    value = scope.result.unwrap() if scope.result else None
    assert value is not None
    assert value.operation == "work"
    assert value.span_id == format(finished.context.span_id, "016x")
    assert value.trace_id == format(finished.context.trace_id, "032x")
    assert dict(value.attributes) == {"order": 7, "items": 3}
    assert value.start_time == datetime_from_ns(finished.start_time or 0)
    assert value.end_time == datetime_from_ns(finished.end_time or 0)
    assert value.status == "unset"


def test_trace_scope_records_an_escaping_exception(sdk: Sdk) -> None:
    """An exception leaving the block marks the span ERROR, adds the event and propagates."""
    scope = TraceAdapter(sdk.tracer).trace_scope("fails")
    with pytest.raises(ValueError, match="boom"), scope:
        raise ValueError("boom")
    (span,) = sdk.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert scope.result is not None
    assert scope.result.unwrap().status == "error"


def test_nested_trace_scopes_link_parent_and_child(sdk: Sdk) -> None:
    """A scope inside a scope is its child."""
    adapter = TraceAdapter(sdk.tracer)
    outer = adapter.trace_scope("outer")
    inner = adapter.trace_scope("inner")
    with outer, inner:
        pass
    assert inner.result is not None
    assert outer.result is not None
    assert inner.result.unwrap().parent_span_id == outer.result.unwrap().span_id


def test_trace_scope_with_invalid_input_runs_the_block_unrecorded(sdk: Sdk) -> None:
    """A bad operation or attribute yields a non-recording span and a failed result."""
    adapter = TraceAdapter(sdk.tracer)
    ran = []
    for scope in (adapter.trace_scope(""), adapter.trace_scope("ok", bad={"nested": 1})):
        with scope as span:
            ran.append(span.is_recording())
        assert scope.result is not None
        assert scope.result.is_failure
    assert ran == [False, False]
    assert sdk.finished() == ()


def test_trace_scope_is_single_use(sdk: Sdk) -> None:
    """Entering a finished scope again runs unrecorded and reports INVALID_STATE."""
    scope = TraceAdapter(sdk.tracer).trace_scope("once")
    with scope:
        pass
    with scope as span:
        assert not span.is_recording()
    assert scope.result is not None
    assert scope.result.error_code == "INVALID_STATE"
    assert len(sdk.finished()) == 1


# -- logs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "number", "text"),
    [
        ("trace", SeverityNumber.TRACE, "TRACE"),
        ("debug", SeverityNumber.DEBUG, "DEBUG"),
        ("info", SeverityNumber.INFO, "INFO"),
        ("warning", SeverityNumber.WARN, "WARNING"),
        ("error", SeverityNumber.ERROR, "ERROR"),
        ("critical", SeverityNumber.FATAL, "CRITICAL"),
    ],
)
def test_log_record_severity_follows_the_level(
    sdk: Sdk, level: str, number: SeverityNumber, text: str
) -> None:
    """Each level maps to its OTel severity number and text."""
    LogAdapter(sdk.logger).record(FlextLogEntry("hello", level))
    (record,) = sdk.records()
    assert record.log_record.severity_number is number
    assert record.log_record.severity_text == text


def test_log_record_has_body_attributes_and_timestamp(sdk: Sdk) -> None:
    """Body is the message, attributes the context, timestamp the entry's."""
    entry = FlextLogEntry("card charged", context={"order": 42, "ok": True}, timestamp=T0)
    assert LogAdapter(sdk.logger).record(entry).value is entry
    (record,) = sdk.records()
    log = record.log_record
    assert log.body == "card charged"
    assert dict(log.attributes or {}) == {"order": 42, "ok": True}
    assert log.timestamp == datetime_to_ns(T0)
    assert log.trace_id in (0, None)


def test_log_record_carries_the_current_trace_context(sdk: Sdk) -> None:
    """Inside a span the record carries that span's trace and span IDs."""
    with sdk.tracer.start_as_current_span("outer") as span:
        LogAdapter(sdk.logger).record(FlextLogEntry("inside"))
    (record,) = sdk.records()
    ctx = span.get_span_context()
    assert record.log_record.trace_id == ctx.trace_id
    assert record.log_record.span_id == ctx.span_id


def test_log_record_carries_the_correlation_id(sdk: Sdk) -> None:
    """flext.correlation_id is added inside a correlation scope, absent outside."""
    adapter = LogAdapter(sdk.logger)
    with correlation_scope("req-7f3a"):
        adapter.record(FlextLogEntry("with", context={"a": 1}))
    adapter.record(FlextLogEntry("without"))
    with_cid, without = sdk.records()
    assert dict(with_cid.log_record.attributes or {}) == {"a": 1, CORRELATION_ATTRIBUTE: "req-7f3a"}
    assert CORRELATION_ATTRIBUTE not in (without.log_record.attributes or {})


def test_log_adapter_rejects_non_entities(sdk: Sdk) -> None:
    """Anything but a FlextLogEntry fails with INVALID_TYPE and emits nothing."""
    assert LogAdapter(sdk.logger).record("hi").error_code == "INVALID_TYPE"  # type: ignore[arg-type]
    assert sdk.records() == []


# -- alerts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "number"),
    [
        ("low", SeverityNumber.INFO),
        ("medium", SeverityNumber.WARN),
        ("high", SeverityNumber.ERROR),
        ("critical", SeverityNumber.FATAL),
        ("emergency", SeverityNumber.FATAL4),
    ],
)
def test_alert_log_record_severity_is_mapped(
    sdk: Sdk, severity: str, number: SeverityNumber
) -> None:
    """Alert severities map low..emergency onto INFO..FATAL4."""
    AlertAdapter(sdk.logger, sdk.meter).record(FlextAlert("disk", "full", severity))
    (record,) = sdk.records()
    assert record.log_record.severity_number is number
    assert record.log_record.severity_text == ALERT_SEVERITY[severity][1]


def test_alert_emits_event_log_record_with_attributes(sdk: Sdk) -> None:
    """The log record is event flext.alert with alert.* attributes plus the tags."""
    entity = FlextAlert("disk full", "/var at 97%", "high", tags={"host": "db1"})
    result = AlertAdapter(sdk.logger, sdk.meter).record(entity)
    assert result.value is entity
    (record,) = sdk.records()
    log = record.log_record
    assert log.event_name == "flext.alert"
    assert log.body == "/var at 97%"
    assert dict(log.attributes or {}) == {
        "host": "db1",
        "alert.title": "disk full",
        "alert.severity": "high",
        "alert.status": "active",
        "alert.id": entity.id,
    }
    assert log.timestamp == datetime_to_ns(entity.created_at)


def test_alert_adds_an_event_to_the_recording_span(sdk: Sdk) -> None:
    """Inside a recording span the alert becomes span event flext.alert."""
    adapter = AlertAdapter(sdk.logger, sdk.meter)
    with sdk.tracer.start_as_current_span("request"):
        adapter.record(FlextAlert("slow", "p99 high", "medium"))
    adapter.record(FlextAlert("outside", "no span"))
    (span,) = sdk.finished()
    (event,) = span.events
    assert event.name == "flext.alert"
    assert (event.attributes or {})["alert.title"] == "slow"
    assert (event.attributes or {})["alert.severity"] == "medium"


def test_alert_counter_counts_by_severity_and_status(sdk: Sdk) -> None:
    """Counter flext.alerts (unit 1) counts alerts by severity and status."""
    adapter = AlertAdapter(sdk.logger, sdk.meter)
    adapter.record(FlextAlert("a", "m", "high"))
    adapter.record(FlextAlert("b", "m", "high"))
    adapter.record(FlextAlert("c", "m", "low", status="resolved"))
    metric = sdk.metrics()["flext.alerts"]
    assert metric.unit == "1"
    points = sdk.points("flext.alerts")
    assert points[(("severity", "high"), ("status", "active"))].value == 2
    assert points[(("severity", "low"), ("status", "resolved"))].value == 1


def test_alert_lands_in_the_store(sdk: Sdk) -> None:
    """The alert entity is added to the store's alert buffer."""
    store = TelemetryStore(10)
    entity = FlextAlert("disk", "full", "critical")
    AlertAdapter(sdk.logger, sdk.meter, store).record(entity)
    assert store.alerts() == [entity]
    assert store.alerts(severity="critical") == [entity]


def test_alert_correlation_id_reaches_the_log_record(sdk: Sdk) -> None:
    """The alert's log record carries the correlation ID when one is set."""
    with correlation_scope("job-9"):
        AlertAdapter(sdk.logger, sdk.meter).record(FlextAlert("t", "m"))
    (record,) = sdk.records()
    assert (record.log_record.attributes or {})[CORRELATION_ATTRIBUTE] == "job-9"


def test_alert_adapter_rejects_non_entities(sdk: Sdk) -> None:
    """Anything but a FlextAlert fails with INVALID_TYPE."""
    result = AlertAdapter(sdk.logger, sdk.meter).record(None)  # type: ignore[arg-type]
    assert result.error_code == "INVALID_TYPE"


# -- health -------------------------------------------------------------------------------


def health(sdk: Sdk, store: TelemetryStore | None = None) -> HealthAdapter:
    """A HealthAdapter on the test providers."""
    return HealthAdapter(sdk.meter, sdk.logger, store)


def test_health_gauge_reports_each_component_status(sdk: Sdk) -> None:
    """flext.health.status has one point per component with the status value."""
    adapter = health(sdk)
    for component, status in zip(
        ("api", "db", "cache", "queue"),
        ("healthy", "degraded", "unhealthy", "unknown"),
        strict=True,
    ):
        adapter.record(FlextHealthCheck(component, status))
    points = sdk.points("flext.health.status")
    assert {key[0][1]: p.value for key, p in points.items()} == {
        "api": 1.0,
        "db": 0.5,
        "cache": 0.0,
        "queue": -1.0,
    }
    assert HEALTH_STATUS_VALUE["degraded"] == 0.5


def test_health_gauge_follows_the_latest_result(sdk: Sdk) -> None:
    """Only the latest result of a component is observed."""
    adapter = health(sdk)
    adapter.record(FlextHealthCheck("db", "healthy"))
    adapter.record(FlextHealthCheck("db", "unhealthy", message="refused"))
    assert [p.value for p in sdk.points("flext.health.status").values()] == [0.0]
    assert adapter.components()["db"]["status"] == "unhealthy"
    assert adapter.components()["db"]["message"] == "refused"


def test_health_logs_only_status_changes(sdk: Sdk) -> None:
    """A change logs flext.health.change: WARN when worse, INFO when recovered."""
    adapter = health(sdk)
    for status in ("healthy", "healthy", "unhealthy", "unhealthy", "healthy"):
        adapter.record(FlextHealthCheck("db", status, message=f"now {status}"))
    logs = [r.log_record for r in sdk.records()]
    assert [log.event_name for log in logs] == ["flext.health.change"] * 3
    assert [log.severity_number for log in logs] == [
        SeverityNumber.INFO,
        SeverityNumber.WARN,
        SeverityNumber.INFO,
    ]
    assert [(log.attributes or {})["health.previous_status"] for log in logs] == [
        "unknown",
        "healthy",
        "unhealthy",
    ]
    assert logs[1].body == "db is unhealthy (was healthy): now unhealthy"
    assert (logs[1].attributes or {})["health.component"] == "db"


def test_health_first_unknown_result_is_not_a_change(sdk: Sdk) -> None:
    """A new component starts as unknown, so a first unknown result logs nothing."""
    health(sdk).record(FlextHealthCheck("db", "unknown"))
    assert sdk.records() == []


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param((), "unknown", id="no-checks"),
        pytest.param(("healthy", "healthy"), "healthy", id="all-healthy"),
        pytest.param(("healthy", "unhealthy", "degraded"), "unhealthy", id="any-unhealthy"),
        pytest.param(("healthy", "degraded"), "degraded", id="degraded"),
        pytest.param(("healthy", "unknown"), "degraded", id="healthy-and-unknown"),
        pytest.param(("unknown",), "degraded", id="only-unknown"),
    ],
)
def test_health_overall_rules(sdk: Sdk, statuses: tuple[str, ...], expected: str) -> None:
    """overall(): none unknown, all healthy healthy, any unhealthy unhealthy, else degraded."""
    adapter = health(sdk)
    for index, status in enumerate(statuses):
        adapter.record(FlextHealthCheck(f"c{index}", status))
    assert adapter.overall() == expected


def test_health_components_shape_and_store(sdk: Sdk) -> None:
    """components() gives status, message and ISO checked_at; every result is stored."""
    store = TelemetryStore(10)
    adapter = health(sdk, store)
    first = FlextHealthCheck("db", "healthy")
    second = FlextHealthCheck("api", "degraded", message="slow")
    third = FlextHealthCheck("db", "degraded")
    for check in (first, second, third):
        assert adapter.record(check).value is check
    assert adapter.components() == {
        "api": {
            "status": "degraded",
            "message": "slow",
            "checked_at": second.created_at.isoformat(),
        },
        "db": {"status": "degraded", "message": "", "checked_at": third.created_at.isoformat()},
    }
    assert store.health_checks() == [first, second, third]
    assert adapter.latest("db") is third
    assert adapter.latest("nope") is None


def test_health_registry_is_thread_safe(sdk: Sdk) -> None:
    """Concurrent results for many components all land in the registry."""
    adapter = health(sdk)
    barrier = threading.Barrier(4)

    def work(worker: int) -> None:
        barrier.wait()
        for index in range(50):
            adapter.record(FlextHealthCheck(f"w{worker}-{index}", "healthy"))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(adapter.components()) == 200
    assert len(sdk.points("flext.health.status")) == 200
    assert adapter.overall() == "healthy"


def test_health_adapter_rejects_non_entities(sdk: Sdk) -> None:
    """Anything but a FlextHealthCheck fails with INVALID_TYPE."""
    result = health(sdk).record({"component": "db"})  # type: ignore[arg-type]
    assert result.error_code == "INVALID_TYPE"
