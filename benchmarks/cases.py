"""In-process cases: each flext-otel path against its raw-SDK twin on the same providers.

Every pipeline here is private (``FlextOtel(resolve_options(environ={},
install_globals=False))`` or a raw ``TracerProvider``); no OTel global is set,
and flext's own API is pointed at the private pipeline with
``flext_otel.providers.use()`` only for the duration of a case.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter_ns
from typing import Any

from harness import Row, Settings, Side, Target, compared, interleave, measure
from opentelemetry import trace as trace_api
from opentelemetry.context import attach, detach
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context

import flext_otel
from flext_otel.domain.entities import FlextMetric
from flext_otel.instrument.adapters import MetricAdapter
from flext_otel.instrument.decorators import DURATION_BUCKETS
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.processors import StoreSpanProcessor
from flext_otel.pipeline.sdk import (
    FlextOtel,
)
from flext_otel.pipeline.state import (
    PROXY_TRACER_PROVIDER,
    use,
)
from flext_otel.store.telemetry import TelemetryStore

#: Five innocent attributes of a typical server span (nothing for the scrubber to redact).
ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET",
    "http.route": "/users/{id}",
    "http.response.status_code": 200,
    "server.address": "api.example.com",
    "user.id": 42,
}


def unique_attributes(start: int = 0) -> Callable[[], dict[str, Any]]:
    """A maker of 5-attribute dicts whose ``url.path`` and ``user.id`` are new every call.

    Real spans carry IDs and paths that never repeat, so no cache of clean values
    helps with them: every such string is scanned for secrets.
    """
    counter = iter(range(start, 1 << 62))

    def make() -> dict[str, Any]:
        i = next(counter)
        return {
            "http.request.method": "GET",
            "http.route": "/users/{id}",
            "http.response.status_code": 200,
            "url.path": f"/users/{i}/orders",
            "user.id": f"user-{i:012d}",
        }

    return make


@contextmanager
def private_otel(**options: Any) -> Iterator[FlextOtel]:
    """The default pipeline ``configure()`` would build, on private providers, made current."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False, **options))
    try:
        with use(otel):
            yield otel
    finally:
        otel.shutdown(timeout_millis=5_000)


def raw_span_pipeline() -> tuple[TracerProvider, InMemorySpanExporter]:
    """A raw SDK ``TracerProvider`` with ``SimpleSpanProcessor(InMemorySpanExporter)``."""
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def span_loop(tracer: trace_api.Tracer, attributes: dict[str, Any] | None) -> Callable[[int], None]:
    """``n`` spans started as current and ended, with ``attributes``."""

    def run(n: int) -> None:
        start = tracer.start_as_current_span
        for _ in range(n):
            with start("op", attributes=attributes):
                pass

    return run


def _noop() -> None:
    return None


# -- cases -------------------------------------------------------------------------


def floors(settings: Settings) -> list[Row]:
    """What a call and an OTel API no-op span cost on this machine (context for the rest)."""

    def bare(n: int) -> None:
        noop = _noop
        for _ in range(n):
            noop()

    rows = []
    ops, ns = measure(Side("bare call", bare), settings)
    rows.append(Row("floor", "bare function call", ns, note=f"{ops:,} ops"))
    noop_tracer = trace_api.NoOpTracer()
    ops, ns = measure(Side("no-op span", span_loop(noop_tracer, None)), settings)
    rows.append(Row("floor", "OTel API no-op span", ns, note=f"{ops:,} ops"))
    provider, exporter = raw_span_pipeline()
    side = Side("raw SDK span", span_loop(provider.get_tracer("bench"), None), exporter.clear)
    ops, ns = measure(side, settings)
    rows.append(Row("floor", "raw SDK span, SimpleSpanProcessor", ns, note=f"{ops:,} ops"))
    provider.shutdown()
    return rows


def span(settings: Settings) -> list[Row]:
    """A span through the whole default pipeline (correlation, scrubbing, store)."""
    rows = []
    with private_otel():
        # What trace.get_tracer() returns once configure() installed the globals:
        # flext's proxy, forwarding to the current pipeline.
        flext_tracer = PROXY_TRACER_PROVIDER.get_tracer("bench")
        provider, exporter = raw_span_pipeline()
        raw_tracer = provider.get_tracer("bench")
        for label, attributes in (("no attributes", None), ("5 attributes", ATTRIBUTES)):
            result = interleave(
                Side("flext", span_loop(flext_tracer, attributes)),
                Side("raw", span_loop(raw_tracer, attributes), exporter.clear),
                settings,
            )
            rows.append(
                compared(
                    "span",
                    f"default pipeline, {label}",
                    "SimpleSpanProcessor(InMemorySpanExporter)",
                    result,
                    Target("<=", 1.05),
                )
            )
        # What bounds the default pipeline: the same spans through flext's store
        # processor alone (no correlation stamping, no guardrails transform).
        store_only = TracerProvider(shutdown_on_exit=False)
        store_only.add_span_processor(StoreSpanProcessor(TelemetryStore(10_000)))
        result = interleave(
            Side("store", span_loop(store_only.get_tracer("bench"), ATTRIBUTES)),
            Side("raw", span_loop(raw_tracer, ATTRIBUTES), exporter.clear),
            settings,
        )
        rows.append(
            compared(
                "span",
                "StoreSpanProcessor alone, 5 attributes",
                "SimpleSpanProcessor(InMemorySpanExporter)",
                result,
                None,
                note="no correlation, no guardrails transform",
            )
        )
        store_only.shutdown()
        provider.shutdown()
    return rows


def hand_written(otel: FlextOtel) -> dict[str, Callable[[int], None]]:
    """The decorator's work written by hand on ``otel``'s providers, two ways each.

    ``attached`` / ``attached_span_only`` are like for like: what the decorator
    does (``start_span`` + ``attach``/``detach``, the span ended after detaching,
    then the duration with the span's context, so it carries an exemplar, and the
    call count). ``manual`` / ``manual_span_only`` use ``start_as_current_span``,
    as most hand-written code does; its context manager costs more.
    """
    tracer = otel.tracer_provider.get_tracer("bench.manual")
    meter = otel.meter_provider.get_meter("bench.manual")
    duration = meter.create_histogram(
        "bench.manual.duration", unit="s", explicit_bucket_boundaries_advisory=DURATION_BUCKETS
    )
    calls = meter.create_counter("bench.manual.calls", unit="1")
    span_attributes = {"code.function": "noop", "code.namespace": __name__}
    outcome = {"function": f"{__name__}.noop", "outcome": "success"}

    def manual(n: int) -> None:
        start_span = tracer.start_as_current_span
        for _ in range(n):
            with start_span("noop", attributes=span_attributes):
                start = perf_counter_ns()
                _noop()
                duration.record((perf_counter_ns() - start) / 1e9, outcome)
            calls.add(1, outcome)

    def manual_span_only(n: int) -> None:
        start_span = tracer.start_as_current_span
        for _ in range(n):
            with start_span("noop", attributes=span_attributes):
                _noop()

    def attached(n: int) -> None:
        start_span = tracer.start_span
        for _ in range(n):
            span = start_span("noop", attributes=span_attributes)
            context = set_span_in_context(span)
            token = attach(context)
            start = perf_counter_ns()
            try:
                _noop()
            finally:
                elapsed = perf_counter_ns() - start
                detach(token)
            span.end()
            duration.record(elapsed / 1e9, outcome, context)
            calls.add(1, outcome)

    def attached_span_only(n: int) -> None:
        start_span = tracer.start_span
        for _ in range(n):
            span = start_span("noop", attributes=span_attributes)
            token = attach(set_span_in_context(span))
            try:
                _noop()
            finally:
                detach(token)
            span.end()

    return {
        "manual": manual,
        "manual_span_only": manual_span_only,
        "attached": attached,
        "attached_span_only": attached_span_only,
    }


def _calling(func: Callable[[], None]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            func()

    return run


LIKE_FOR_LIKE = "hand-written start_span + attach"
USUAL = "hand-written start_as_current_span"
METRICS = ", histogram, counter"


def decorator(settings: Settings) -> list[Row]:
    """``@flext_monitor_function`` on a no-op vs the same work written by hand, two ways.

    The target holds against the like-for-like twin; the ``start_as_current_span``
    twin (dearer) is reported for context, without a target.
    """
    rows = []
    with private_otel() as otel:

        @flext_otel.flext_monitor_function
        def noop() -> None:
            return None

        @flext_otel.flext_monitor_function(metrics=False)
        def noop_span_only() -> None:
            return None

        twin = hand_written(otel)
        cases = (
            ("@flext_monitor_function no-op", noop, "attached", LIKE_FOR_LIKE + METRICS, True),
            ("@flext_monitor_function no-op", noop, "manual", USUAL + METRICS, False),
            ("@flext_monitor_function(metrics=False) no-op", noop_span_only,
             "attached_span_only", LIKE_FOR_LIKE, True),
            ("@flext_monitor_function(metrics=False) no-op", noop_span_only,
             "manual_span_only", USUAL, False),
        )  # fmt: skip
        for subject, decorated, key, baseline, like_for_like in cases:
            flext_side = Side("flext", _calling(decorated))
            result = interleave(flext_side, Side("manual", twin[key]), settings)
            rows.append(
                compared(
                    "decorator",
                    subject,
                    baseline + (" (like for like)" if like_for_like else ""),
                    result,
                    Target("<=", 1.15) if like_for_like else None,
                )
            )
    return rows


def metric(settings: Settings) -> list[Row]:
    """``flext_otel.metric()`` and ``MetricAdapter.record`` vs a raw ``counter.add``."""
    rows = []
    with private_otel() as otel:
        meter = otel.meter_provider.get_meter("bench")
        counter = meter.create_counter("bench.raw_total")

        def raw(n: int) -> None:
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
        result = interleave(Side("flext", simple_api), Side("raw", raw), settings)
        rows.append(
            compared(
                "metric",
                'flext_otel.metric("…_total", 1, tags=…)',
                "counter.add(1, attributes)",
                result,
                Target("<=", 1.5),
            )
        )

        adapter = MetricAdapter(meter)
        entity = FlextMetric("bench.adapter_total", 1, tags={"region": "eu"})
        tags = {"region": "eu"}

        def via_adapter(n: int) -> None:
            record = adapter.record
            for _ in range(n):
                record(entity)

        def raw_prebuilt(n: int) -> None:
            add = counter.add
            for _ in range(n):
                add(1, tags)

        result = interleave(Side("adapter", via_adapter), Side("raw", raw_prebuilt), settings)
        rows.append(
            compared(
                "metric",
                "MetricAdapter.record(entity)",
                "counter.add(1, attributes)",
                result,
                None,
                note="entity built once",
            )
        )

        def build(n: int) -> None:
            make = FlextMetric
            for _ in range(n):
                make("bench.orders_total", 1, tags={"region": "eu"})

        ops, ns = measure(Side("entity", build), settings)
        rows.append(Row("metric", "FlextMetric(...) alone (validation)", ns, note=f"{ops:,} ops"))
    return rows


def logging_handler(settings: Settings) -> list[Row]:
    """``logging.info`` through ``FlextLoggingHandler`` vs OTel's ``LoggingHandler``."""
    from opentelemetry.sdk._logs import LoggingHandler

    rows = []
    with private_otel() as otel:
        provider = otel.logger_provider
        flext_logger = _bench_logger("bench.flext")
        # As configure(logging=True) installs it: follows the current pipeline.
        flext_handler = flext_otel.FlextLoggingHandler()
        flext_logger.addHandler(flext_handler)
        otel_logger = _bench_logger("bench.otel")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            otel_handler = LoggingHandler(logger_provider=provider)
        otel_logger.addHandler(otel_handler)

        def logging_loop(
            logger: logging.Logger, extra: dict[str, object] | None = None
        ) -> Callable[[int], None]:
            def run(n: int) -> None:
                info = logger.info
                for _ in range(n):
                    info("order %s charged", 42, extra=extra)

            return run

        # The attributes FlextLoggingHandler adds beyond OTel's handler, given to
        # OTel's handler as extras: the same record content on both sides.
        same_content: dict[str, object] = {
            "logger.name": otel_logger.name,
            "thread.id": threading.get_ident(),
            "thread.name": threading.current_thread().name,
        }
        try:
            result = interleave(
                Side("flext", logging_loop(flext_logger)),
                Side("otel", logging_loop(otel_logger)),
                settings,
            )
            same = interleave(
                Side("flext", logging_loop(flext_logger)),
                Side("otel", logging_loop(otel_logger, same_content)),
                settings,
            )
        finally:
            flext_logger.removeHandler(flext_handler)
            otel_logger.removeHandler(otel_handler)
        if flext_handler.emit_failures:
            raise RuntimeError("FlextLoggingHandler failed to emit")
        rows.append(
            compared(
                "logging",
                "logging.info -> FlextLoggingHandler",
                "OTel sdk._logs.LoggingHandler",
                result,
                Target("<=", 1.1),
                note="same LoggerProvider and processors",
            )
        )
        rows.append(
            compared(
                "logging",
                "logging.info -> FlextLoggingHandler",
                "OTel handler, same attributes (logger.name, thread.* as extras)",
                same,
                None,
                note="like for like: the record content FlextLoggingHandler emits",
            )
        )
    return rows


def _bench_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def unique_span_loop(tracer: trace_api.Tracer, start: int) -> Callable[[int], None]:
    """``n`` spans whose attribute dict (5 attributes, 2 of them unique values) is new per span.

    Building the dict is inside the timed loop on both sides of a comparison (the
    same cost on each); values never repeat within or across batches.
    """
    make = unique_attributes(start)

    def run(n: int) -> None:
        begin = tracer.start_as_current_span
        for _ in range(n):
            with begin("op", attributes=make()):
                pass

    return run


def scrubbing(settings: Settings) -> list[Row]:
    """Default scrubbing vs ``scrubbing=False``: repeated values, then unique values per span."""
    rows = []
    with private_otel() as scrubbed, private_otel(scrubbing=False) as plain:
        on = scrubbed.tracer_provider.get_tracer("bench")
        off = plain.tracer_provider.get_tracer("bench")
        result = interleave(
            Side("on", span_loop(on, ATTRIBUTES)), Side("off", span_loop(off, ATTRIBUTES)), settings
        )
        rows.append(
            compared(
                "scrubbing",
                "span, 5 attributes, same dict every span (clean-value cache hits), scrubbing on",
                "scrubbing=False",
                result,
                Target("<=", 1.15),
            )
        )
        # Disjoint value ranges per side: neither side ever sees a value twice.
        result = interleave(
            Side("on", unique_span_loop(on, 0)),
            Side("off", unique_span_loop(off, 1 << 40)),
            settings,
        )
        rows.append(
            compared(
                "scrubbing",
                "span, 5 attributes, url.path and user.id unique per span, scrubbing on",
                "scrubbing=False",
                result,
                Target("<=", 1.15),
            )
        )
    return rows


__all__ = [
    "ATTRIBUTES",
    "decorator",
    "floors",
    "hand_written",
    "logging_handler",
    "metric",
    "private_otel",
    "raw_span_pipeline",
    "scrubbing",
    "span",
    "span_loop",
    "unique_attributes",
    "unique_span_loop",
]
