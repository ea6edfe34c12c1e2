"""Every instrument kind obtained through flext's proxy providers records into the capture."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation

from flext_otel.pipeline.proxies import (
    PROXY_LOGGER_PROVIDER,
    PROXY_METER_PROVIDER,
    PROXY_TRACER_PROVIDER,
)
from flext_otel.testing import capture


def values(points: Iterable[object]) -> list[object]:
    """The ``value`` of each point (sums and gauges)."""
    return [getattr(point, "value", None) for point in points]


def test_every_synchronous_instrument_kind_follows_the_capture() -> None:
    """Counter, up-down counter, histogram and gauge from the proxy meter record into it."""
    meter = PROXY_METER_PROVIDER.get_meter("proxy.test")
    counter = meter.create_counter("px.calls")
    updown = meter.create_up_down_counter("px.queue")
    histogram = meter.create_histogram("px.latency", "s", explicit_bucket_boundaries_advisory=[1.0])
    gauge = meter.create_gauge("px.temperature")
    with capture() as cap:
        counter.add(2, {"k": "v"})
        updown.add(5)
        updown.add(-3)
        histogram.record(0.5)
        histogram.record(2.0)
        gauge.set(21.5)
        assert values(cap.metrics("px.calls")) == [2]
        assert values(cap.metrics("px.queue")) == [2]
        [hist] = cap.metrics("px.latency")
        assert (hist.count, hist.sum) == (2, 2.5)
        assert values(cap.metrics("px.temperature")) == [21.5]


def test_observable_instruments_follow_the_capture() -> None:
    """Observable counter, up-down counter and gauge callbacks are read by the capture."""
    meter = PROXY_METER_PROVIDER.get_meter("proxy.test")
    # Proxy observables follow every later pipeline (they cannot be unregistered), so the
    # callbacks observe only during this test and leave later captures without points.
    active = [True]

    def seven(options: CallbackOptions) -> Iterable[Observation]:
        if active[0]:
            yield Observation(7)

    def minus_one(options: CallbackOptions) -> Iterable[Observation]:
        if active[0]:
            yield Observation(-1)

    meter.create_observable_counter("px.obs_total", [seven])
    meter.create_observable_up_down_counter("px.obs_delta", [minus_one])
    meter.create_observable_gauge("px.obs_level", [seven])
    try:
        with capture() as cap:
            assert values(cap.metrics("px.obs_total")) == [7]
            assert values(cap.metrics("px.obs_delta")) == [-1]
            assert values(cap.metrics("px.obs_level")) == [7]
    finally:
        active[0] = False
    with capture() as later:
        assert later.metrics("px.obs_total") == []


def test_proxy_tracer_and_logger_follow_the_capture() -> None:
    """start_span and emit through the proxies land in the capture that is active."""
    tracer = PROXY_TRACER_PROVIDER.get_tracer("proxy.test")
    logger = PROXY_LOGGER_PROVIDER.get_logger("proxy.test")
    with capture() as first:
        tracer.start_span("manual").end()
        logger.emit(body="first", severity_number=SeverityNumber.INFO)
        assert logger.enabled() is True
    with capture() as second:
        tracer.start_span("again").end()
        logger.emit(body="second", severity_number=SeverityNumber.INFO)
    assert [s.name for s in first.spans()] == ["manual"]
    assert [s.name for s in second.spans()] == ["again"]
    assert [r.body for r in first.logs()] == ["first"]
    assert [r.body for r in second.logs()] == ["second"]
