"""Push metric exporters (OTLP, console) fed from the pipeline's one shared reader.

:class:`MetricPush` exports the :class:`~flext_otel.export.metricview.SharedMetricReader`
snapshot every ``interval_ms`` on one daemon thread (started on creation, never at
import), on :meth:`~MetricPush.force_flush`, and a last time on
:meth:`~MetricPush.shutdown`. The exporters receive cumulative data, the
temporality OTLP prefers by default; an exporter asking for delta temporality
or exponential histograms gets its own SDK periodic reader instead (see
``pipeline.sdk``), the one case where a measurement is aggregated twice.

Imports: ``export.metricview``; the OpenTelemetry SDK.

Threading: the loop thread (not carried into a forked child) and callers of
``force_flush`` / ``shutdown`` export under one lock, so an exporter never sees
two concurrent calls. Exporter
failures never raise here (the exporters are wrapped by
:class:`~flext_otel.export.batch.CountingMetricExporter`, which counts them).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

from flext_otel.export.metricview import SharedMetricReader

_logger = logging.getLogger("flext_otel")

__all__ = ["MetricPush", "needs_own_reader"]


def _call(method: weakref.WeakMethod[Any]) -> None:
    bound = method()
    if bound is not None:
        bound()


def needs_own_reader(exporter: MetricExporter) -> bool:
    """True when ``exporter`` asks for what the shared reader does not give: delta
    temporality, or exponential histograms, for some instrument class."""
    temporality = getattr(exporter, "_preferred_temporality", None) or {}
    aggregation = getattr(exporter, "_preferred_aggregation", None) or {}
    return any(t is AggregationTemporality.DELTA for t in temporality.values()) or any(
        isinstance(a, ExponentialBucketHistogramAggregation) for a in aggregation.values()
    )


class MetricPush:
    """Exports the shared reader's snapshots to push exporters on a schedule."""

    def __init__(
        self,
        reader: SharedMetricReader,
        exporters: Sequence[MetricExporter],
        *,
        interval_ms: float,
        timeout_ms: float,
    ) -> None:
        self._reader = reader
        self._exporters = tuple(exporters)
        self._interval_s = max(float(interval_ms), 1.0) / 1000.0
        self._timeout_ms = float(timeout_ms)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped = False
        self._thread = self._start()
        if hasattr(os, "register_at_fork"):
            after_fork = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: _call(after_fork))

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="flext-otel-metric-push", daemon=True)
        thread.start()
        return thread

    def _after_fork(self) -> None:
        """In a forked child this loop is the parent's: it stays stopped (the child's
        pipeline is reassembled with its own identity and threads) and exports
        nothing, so the parent's counters are never sent twice."""
        self._lock = threading.Lock()
        self._stop.set()
        self._stopped = True

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._export(self._timeout_ms)

    def _export(self, timeout_ms: float) -> bool:
        with self._lock:
            if self._stopped:
                return True
            data = self._reader.snapshot(timeout_ms)
            if data is None:
                return True
            ok = True
            for exporter in self._exporters:
                try:
                    result = exporter.export(data, timeout_millis=timeout_ms)
                    ok = ok and getattr(result, "name", "") == "SUCCESS"
                except Exception as exc:  # a bare exporter (console) may raise
                    _logger.debug("metric export failed: %r", exc)
                    ok = False
            return ok

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Export the current snapshot now; False if an exporter failed."""
        ok = self._export(min(self._timeout_ms, timeout_millis))
        for exporter in self._exporters:
            try:
                ok = exporter.force_flush(timeout_millis=timeout_millis) is not False and ok
            except Exception:
                ok = False
        return ok

    def shutdown(self, timeout_millis: float = 30_000) -> bool:
        """Export a last time, stop the loop and shut the exporters down (idempotent)."""
        if self._stop.is_set():
            return True
        self._stop.set()
        ok = self._export(min(self._timeout_ms, timeout_millis))
        with self._lock:
            self._stopped = True
        for exporter in self._exporters:
            try:
                exporter.shutdown(timeout_millis=timeout_millis)
            except Exception as exc:
                _logger.debug("metric exporter shutdown failed: %r", exc)
                ok = False
        self._thread.join(timeout=max(timeout_millis, 0) / 1000.0)
        return ok
