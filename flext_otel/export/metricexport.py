"""A push metric exporter wrapped so every data point is counted and no call outlives its deadline.

Imports: ``export.bounded``, ``support``; the OpenTelemetry SDK's metric export
types. Threading: ``export`` runs on the periodic reader's thread, ``shutdown``
and ``force_flush`` on any; one lock guards the wrapper's state; nothing raises.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

from flext_otel.export.bounded import _call_bounded, _describe, _Outage, _seconds, _stop_exporter
from flext_otel.support.counters import PipelineCounters, PipelineStats

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData

_logger = logging.getLogger("flext_otel.export.batch")


def _count_points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in metrics_data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


class CountingMetricExporter(MetricExporter):
    """Wraps a metric exporter: counts data points, bounds each call, never raises.

    Every exported point is ``accepted`` and then ``exported`` or dropped as
    ``export_failed`` (failure result, exception, or no answer within the
    reader's ``timeout_millis``). A call that outlives its deadline is abandoned
    on its daemon thread; while it is still running, further exports fail fast
    instead of piling up threads. Keeps the inner exporter's preferred
    temporality and aggregation.
    """

    def __init__(self, inner: MetricExporter, counters: PipelineCounters) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner
        self._counters = counters
        self._key = counters.key
        self._lock = threading.Lock()
        self._busy: threading.Thread | None = None
        self._outage = _Outage(counters.key)
        self._shutdown = False
        self._pid = os.getpid()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export through the inner exporter within ``timeout_millis``; never raises."""
        if os.getpid() != self._pid:  # a forked copy: the parent exports its own data
            return MetricExportResult.SUCCESS
        try:
            return self._export(metrics_data, timeout_millis, kwargs)
        except Exception as exc:
            _logger.debug("%s: metric export wrapper failed: %r", self._key, exc)
            return MetricExportResult.FAILURE

    def _export(
        self, metrics_data: MetricsData, timeout_millis: float, kwargs: dict[str, Any]
    ) -> MetricExportResult:
        points = _count_points(metrics_data)
        self._counters.accept(points)
        with self._lock:
            if self._shutdown:
                return self._lost(points, "shutdown", "exporter is shut down")
            if self._busy is not None and self._busy.is_alive():
                return self._lost(points, "export_failed", "previous export still running")
        inner = self._inner
        thread, result, exc = _call_bounded(
            lambda: inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            _seconds(timeout_millis),
            f"flext-otel-export[{self._key}]",
        )
        if thread.is_alive():
            with self._lock:
                self._busy = thread
            error = f"export timed out after {timeout_millis:.0f} ms"
            return self._lost(points, "export_failed", error)
        if exc is None and result == MetricExportResult.SUCCESS:
            self._counters.exported(points, time_ns=time.time_ns())
            self._outage.success()
            return MetricExportResult.SUCCESS
        error = _describe(exc) if exc else f"exporter returned {getattr(result, 'name', result)}"
        return self._lost(points, "export_failed", error)

    def _lost(self, points: int, reason: str, error: str) -> MetricExportResult:
        now = time.time_ns()
        if points:
            self._counters.drop(reason, points, error=error, time_ns=now)
        else:
            self._counters.failed(error, time_ns=now)
        if reason == "export_failed":
            self._outage.failure(error)
        return MetricExportResult.FAILURE

    def stats(self) -> PipelineStats:
        """Data points accepted, exported and dropped by reason."""
        return self._counters.snapshot()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Forward to the inner exporter within ``timeout_millis``; never raises."""
        thread, result, exc = _call_bounded(
            lambda: self._inner.force_flush(timeout_millis=timeout_millis),
            _seconds(timeout_millis),
            f"flext-otel-flush[{self._key}]",
        )
        return not thread.is_alive() and exc is None and result is not False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Shut the inner exporter down within the deadline (idempotent); never raises.

        Also accepts ``timeout=`` (milliseconds), as the SDK's periodic reader passes it.
        """
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        timeout = kwargs.get("timeout")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeout_millis = timeout
        _stop_exporter(self._inner, _seconds(timeout_millis), self._key)


__all__ = ["CountingMetricExporter"]
