"""The metric half of the SDK assembly: one shared reader, its outputs and the provider.

:func:`assemble_metrics` builds, for one pipeline, the
:class:`~flext_otel.export.metricview.SharedMetricReader` that aggregates every
measurement once (store, ``/metrics`` and push exporters all read it), the
``MeterProvider`` around it with flext's measurement consumer (scrubbing and the
one-lookup path, see :meth:`~flext_otel.guardrails.Guardrails.hook_measurements`),
the Prometheus registry and the push loop. Only an exporter asking for delta
temporality or exponential histograms gets a reader (and an aggregation) of its own.
``pipeline.sdk`` calls it; nothing else does.

Imports: ``export``, ``guardrails``, ``store``, ``support``; the OpenTelemetry SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from flext_otel.export.metricview import SharedMetricReader, metric_points
from flext_otel.export.otlp import otlp_metric_exporter
from flext_otel.export.prometheus import prometheus_available, prometheus_registry
from flext_otel.export.push import MetricPush, needs_own_reader
from flext_otel.guardrails.facade import Guardrails
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.support.counters import PipelineCounters, PipelineStats

__all__ = ["MetricAssembly", "assemble_metrics"]

#: ``(name, flush(ms), stop(ms), stats key, stats())``: a part the pipeline flushes and stops.
Part = tuple[
    str,
    Callable[[int], object],
    Callable[[int], object],
    str | None,
    Callable[[], PipelineStats] | None,
]


_logger = logging.getLogger("flext_otel")
_RELEASE_TIMEOUT_MS = 5_000


def _provider(readers: list[MetricReader], resource: Resource, views: list[Any]) -> MeterProvider:
    """The MeterProvider over ``readers``; if it cannot be built, the readers (periodic
    ones run a thread from construction on) are shut down before the error propagates."""
    try:
        return MeterProvider(
            metric_readers=readers, resource=resource, shutdown_on_exit=False, views=views
        )
    except BaseException:
        for built in readers:
            try:
                built.shutdown(timeout_millis=_RELEASE_TIMEOUT_MS)
            except Exception as exc:  # release the rest; the caller sees the first error
                _logger.debug("releasing a metric reader failed: %r", exc)
        raise


def _done(_timeout_millis: int) -> object:
    return True


@dataclass
class MetricAssembly:
    """What :func:`assemble_metrics` built."""

    provider: MeterProvider
    reader: SharedMetricReader
    registry: Any = None
    parts: list[Part] = field(default_factory=list)


def assemble_metrics(
    options: Any,
    resource: Resource,
    guardrails: Guardrails,
    store: TelemetryStore,
    counters: Callable[[str], PipelineCounters],
    on_failure: Callable[[BaseException], object] | None = None,
) -> MetricAssembly:
    """The meter provider of one pipeline, its one shared reader and its outputs.

    ``on_failure`` receives each failed metric collection (the reader then serves
    its previous snapshot), e.g. to count it under ``metrics:store``.
    """
    cardinality = guardrails.cardinality
    limits = cardinality.reader_options()  # empty on an SDK without limits (< 1.45.2)
    reader = SharedMetricReader(
        preferred_aggregation=cardinality.counting_aggregation(),
        on_failure=on_failure,
        **limits,
    )
    read_points = metric_points(reader)

    def safe_points() -> list[Any]:
        try:
            return read_points()
        except Exception as exc:  # the store reads as empty, but the failure shows
            if on_failure is not None:
                on_failure(exc)
            return []

    store.set_metric_source(safe_points)
    registry = None
    if "prometheus" in options.metrics_exporter or prometheus_available():
        registry = prometheus_registry(reader)
    readers: list[MetricReader] = [reader]
    pushed: list[Any] = []
    parts: list[Part] = []
    for name in options.metrics_exporter:
        exporter: Any
        if name == "otlp":
            from flext_otel.export.batch import CountingMetricExporter

            counted = counters("metrics:otlp")
            exporter = CountingMetricExporter(
                otlp_metric_exporter(options.otlp("metrics")), counted
            )
            parts.append(("metrics:otlp", _done, _done, "metrics:otlp", counted.snapshot))
        elif name == "console":
            exporter = ConsoleMetricExporter()
        else:
            continue
        if needs_own_reader(exporter):  # the one case with a second aggregation
            readers.append(
                PeriodicExportingMetricReader(
                    exporter,
                    export_interval_millis=options.metric_export_interval_ms,
                    export_timeout_millis=options.metric_export_timeout_ms,
                    **limits,
                )
            )
        else:
            pushed.append(exporter)
    provider = _provider(readers, resource, cardinality.views())
    guardrails.hook_measurements(provider, reader)
    push = None
    if pushed:
        push = MetricPush(
            reader,
            pushed,
            interval_ms=options.metric_export_interval_ms,
            timeout_ms=options.metric_export_timeout_ms,
        )
    own_readers = readers[1:]

    def flush(timeout_millis: int) -> object:
        ok = push.force_flush(timeout_millis) if push is not None else True
        for extra in own_readers:
            ok = extra.force_flush(timeout_millis) and ok
        return ok

    def stop(timeout_millis: int) -> object:
        ok = push.shutdown(timeout_millis) if push is not None else True
        provider.shutdown(timeout_millis)
        return ok

    parts.append(("metrics", flush, stop, None, None))
    parts.append(("metrics:cardinality", _done, _done, "metrics:cardinality", cardinality.stats))
    return MetricAssembly(provider, reader, registry, parts)
