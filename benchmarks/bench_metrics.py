"""The metric path: one aggregation per measurement, the decorator's metrics, the
simple API, exemplars, measurement scrubbing, and the logfire peer rows.

Every flext-otel pipeline here is the default one (store + ``/metrics`` registry on
ONE shared reader, measurement scrubbing on); every baseline is a plain SDK
``MeterProvider`` with ONE ``InMemoryMetricReader`` (what the issue calls "a
one-reader provider"). Each row's note says what bounds it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from cases import private_otel
from harness import Row, Settings, Side, Target, compared, interleave
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

import flext_otel
from flext_otel.instrument.decorators import DURATION_BUCKETS
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import FlextOtel

ATTRS = {"function": "bench.noop", "outcome": "success"}


def one_reader_provider(**kwargs: Any) -> MeterProvider:
    """A plain SDK provider with one in-memory (pull) reader."""
    return MeterProvider(metric_readers=[InMemoryMetricReader()], **kwargs)


def _calling(func: Callable[[], object]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            func()

    return run


def _measure_pair(meter: Any) -> Callable[[int], None]:
    """``histogram.record`` + ``counter.add`` with two attributes, as the decorator does."""
    histogram = meter.create_histogram(
        "bench.pair.duration", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
    )
    counter = meter.create_counter("bench.pair.calls", unit="1")

    def run(n: int) -> None:
        record, add = histogram.record, counter.add
        for _ in range(n):
            record(0.0003, ATTRS)
            add(1, ATTRS)

    return run


def _in_span(tracer: Any, body: Callable[[int], None]) -> Callable[[int], None]:
    def run(n: int) -> None:
        with tracer.start_as_current_span("bench.outer"):
            body(n)

    return run


def metric_path(settings: Settings) -> list[Row]:
    """The measurement path of the default pipeline against a one-reader SDK provider."""
    rows = []
    tracer = TracerProvider().get_tracer("bench.metrics")
    raw = one_reader_provider()
    with private_otel() as otel:
        flext_pair = _measure_pair(otel.meter_provider.get_meter("bench.flext"))
        raw_pair = _measure_pair(raw.get_meter("bench.raw"))
        result = interleave(Side("flext", flext_pair), Side("raw", raw_pair), settings)
        rows.append(
            compared(
                "metrics",
                "histogram.record + counter.add on the default pipeline (store + /metrics)",
                "same on a one-reader SDK provider",
                result,
                Target("<=", 1.15),
                note="one shared reader; a repeated attribute set goes straight to its SDK "
                "aggregation (scrubbing verdict remembered); bound by the SDK's Measurement "
                "(attribute validation) and one tuple key per call",
            )
        )
        result = interleave(
            Side("flext", _in_span(tracer, flext_pair)),
            Side("raw", _in_span(tracer, raw_pair)),
            settings,
        )
        rows.append(
            compared(
                "metrics",
                "same, inside a sampled span (exemplars offered)",
                "same on a one-reader SDK provider",
                result,
                Target("<=", 1.15),
                note="SDK trace-based exemplar filter on both sides",
            )
        )
        unscrubbed = FlextOtel(resolve_options(environ={}, install_globals=False, scrubbing=False))
        bare_pair = _measure_pair(unscrubbed.meter_provider.get_meter("bench.bare"))
        result = interleave(Side("scrubbed", flext_pair), Side("bare", bare_pair), settings)
        rows.append(
            compared(
                "metrics",
                "measurement scrubbing: record + add, scrubbing on (default)",
                "same with scrubbing=False",
                result,
                Target("<=", 1.1),
                note="what scrubbing every measurement costs: a clean check the first time an "
                "attribute set is seen, then nothing (its verdict is remembered)",
            )
        )
        unscrubbed.shutdown(timeout_millis=5_000)
        no_exemplars = one_reader_provider(exemplar_filter=AlwaysOffExemplarFilter())
        off_pair = _measure_pair(no_exemplars.get_meter("bench.off"))
        result = interleave(
            Side("exemplars", _in_span(tracer, raw_pair)),
            Side("off", _in_span(tracer, off_pair)),
            settings,
        )
        rows.append(
            compared(
                "metrics",
                "SDK exemplars: record + add in a sampled span, trace-based filter",
                "same with AlwaysOffExemplarFilter",
                result,
                None,
                note="what exemplars cost on plain instruments (the decorator offers one per "
                "bucket per second instead)",
            )
        )
        no_exemplars.shutdown()

        counter = raw.get_meter("bench.raw").create_counter("bench.raw_total")

        def raw_add(n: int) -> None:
            add = counter.add
            for _ in range(n):
                add(1, {"region": "eu"})

        def simple_api(n: int) -> None:
            record = flext_otel.metric
            for _ in range(n):
                record("bench.orders_total", 1, tags={"region": "eu"})

        check = flext_otel.metric("bench.orders_total", 1, tags={"region": "eu"})
        if not check.is_success:
            raise RuntimeError(f"flext_otel.metric failed: {check.error}")
        result = interleave(Side("flext", simple_api), Side("raw", raw_add), settings)
        rows.append(
            compared(
                "metrics",
                'flext_otel.metric("…_total", 1, tags=…)',
                "counter.add(1, attributes) on a one-reader SDK provider",
                result,
                Target("<=", 1.2),
                note="bound by entity validation (FlextMetric); the measurement itself goes "
                "to a pre-bound aggregation",
            )
        )
        rows.extend(_decorator_metrics(settings, raw))
    raw.shutdown()
    return rows


def _decorator_metrics(settings: Settings, raw: MeterProvider) -> list[Row]:
    """The decorator's two metrics against the same two measurements made by hand on a
    one-reader SDK provider, both inside an identical decorated (span-only) call."""
    meter = raw.get_meter("bench.raw.pair")
    histogram = meter.create_histogram(
        "bench.pair.duration", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
    )
    counter = meter.create_counter("bench.pair.calls", unit="1")

    @flext_otel.flext_monitor_function
    def full() -> None:
        return None

    @flext_otel.flext_monitor_function(metrics=False)
    def by_hand() -> None:
        start = perf_counter_ns()
        histogram.record((perf_counter_ns() - start) / 1e9, ATTRS)
        counter.add(1, ATTRS)

    result = interleave(Side("flext", _calling(full)), Side("by hand", _calling(by_hand)), settings)
    return [
        compared(
            "metrics",
            "@flext_monitor_function (span + duration + calls)",
            "@flext_monitor_function(metrics=False) + histogram.record + counter.add by hand "
            "on a one-reader SDK provider",
            result,
            Target("<=", 0.85),
            note="pre-bound aggregations, exemplar at most once per bucket per second; "
            "numbers identical to the SDK's (tests/e2e/test_metric_parity.py); the rest "
            "is the span",
        )
    ]


# -- peers (child process: logfire installs OTel globals) --------------------------


def _faster(subject: str, baseline: str, result: Any, target: Target | None, note: str) -> Row:
    rounds = [b / a for a, b in zip(result.a, result.b, strict=True)]
    return Row(
        case="metrics-peer",
        subject=subject,
        value=result.a_ns,
        baseline=baseline,
        baseline_value=result.b_ns,
        ratio=statistics.median(rounds),
        target=target,
        spread=(min(rounds), max(rounds)),
        note=f"x faster; {note}",
    )


def metric_peers(settings: Settings) -> list[Row]:
    """The decorator against ``@logfire.instrument()`` (the issue's two targets)."""
    try:
        import logfire
    except ImportError:
        return [Row("metrics-peer", "logfire not installed: peer rows did not run", 0.0, unit="")]
    logfire.configure(send_to_logfire=False, console=False)

    @logfire.instrument()
    def logfire_noop() -> None:
        return None

    rows = []
    with private_otel():

        @flext_otel.flext_monitor_function
        def full() -> None:
            return None

        @flext_otel.flext_monitor_function(metrics=False)
        def span_only() -> None:
            return None

        baseline = "@logfire.instrument()"
        result = interleave(
            Side("flext", _calling(full)), Side("logfire", _calling(logfire_noop)), settings
        )
        rows.append(
            _faster(
                "@flext_monitor_function no-op (span + duration + calls)",
                baseline,
                result,
                Target(">=", 2),
                "bound by the span (store processor) plus two pre-bound aggregations",
            )
        )
        result = interleave(
            Side("flext", _calling(span_only)), Side("logfire", _calling(logfire_noop)), settings
        )
        rows.append(
            _faster(
                "@flext_monitor_function(metrics=False) no-op",
                baseline,
                result,
                Target(">=", 3.5),
                "bound by the SDK span and the store processor",
            )
        )
    return rows


__all__ = ["metric_path", "metric_peers", "one_reader_provider"]
