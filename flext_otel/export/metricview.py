"""The one metric reader of a pipeline, and the store's view of it.

Every measurement is aggregated once, by :class:`SharedMetricReader` (a pull
reader with cumulative temporality). The store (:func:`metric_points`),
``/metrics`` (:mod:`flext_otel.export.prometheus`) and the push exporters
(:mod:`flext_otel.export.push`) all read its :meth:`~SharedMetricReader.snapshot`;
nothing is collected until one of them reads.

Exemplars: the SDK's reservoirs hand each exemplar to the first collection after
it was sampled, so with several readers of one snapshot stream an exemplar would
reach only one of them. The reader keeps the latest exemplar of each histogram
bucket (and of each other point) across collections, so every output sees it.

Imports: ``store`` (metric points), ``support``; the OpenTelemetry SDK.

Threading: :meth:`SharedMetricReader.snapshot` may be called from any thread;
collections are serialised by one lock. A failing collection is counted (and
handed to ``on_failure``, else logged once), and the previous snapshot is served.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    MetricReader,
    MetricsData,
    NumberDataPoint,
)

from flext_otel.store.telemetry import MetricPoint

_logger = logging.getLogger("flext_otel")

_INF = float("inf")

__all__ = ["SharedMetricReader", "metric_points", "points_of"]


class SharedMetricReader(MetricReader):
    """A pull reader whose snapshots feed the store, ``/metrics`` and push exporters.

    Cumulative temporality for every instrument class (what Prometheus and the
    store need; OTLP's default preference). After :meth:`shutdown` it keeps
    serving the last snapshot, so a scrape after shutdown still sees the final
    values.
    """

    def __init__(
        self,
        *,
        preferred_aggregation: dict[type, Any] | None = None,
        cardinality_limits: dict[type, int] | None = None,
        on_failure: Callable[[BaseException], object] | None = None,
    ) -> None:
        limits: dict[str, Any] = (
            {} if cardinality_limits is None else {"cardinality_limits": cardinality_limits}
        )
        super().__init__(preferred_aggregation=preferred_aggregation, **limits)
        self._lock = threading.Lock()
        self._latest: MetricsData | None = None
        self._stopped = False
        self._exemplars: dict[Any, Any] = {}
        self.failures = 0
        self._on_failure = on_failure  # e.g. the pipeline's failure counter ("metrics:store")
        if hasattr(os, "register_at_fork"):  # a lock held by another thread at fork
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _relock(ref))

    @property
    def temporality(self) -> AggregationTemporality:
        """Every stream of this reader is cumulative."""
        return AggregationTemporality.CUMULATIVE

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = _keep_exemplars(metrics_data, self._exemplars)

    def snapshot(self, timeout_millis: float = 10_000) -> MetricsData | None:
        """Collect now (unless shut down) and return the latest data (None: no instruments)."""
        with self._lock:
            if not self._stopped:
                try:
                    self.collect(timeout_millis=timeout_millis)
                except Exception as exc:  # serve the previous snapshot; count the failure
                    self.failures += 1
                    self._report(exc)
            return self._latest

    def _report(self, exc: BaseException) -> None:
        if self._on_failure is not None:
            try:
                self._on_failure(exc)
                return
            except Exception:  # the reporter failed: fall back to logging once
                pass
        if self.failures == 1:
            _logger.warning("metric collection failed (last snapshot kept): %r", exc)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing is buffered: snapshots are taken when read."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Take a final snapshot and stop collecting (idempotent)."""
        if self._stopped:
            return
        self.snapshot(timeout_millis)
        with self._lock:
            self._stopped = True


def _relock(ref: weakref.ref[SharedMetricReader]) -> None:
    reader = ref()
    if reader is not None:
        reader._lock = threading.Lock()


# -- exemplars across collections ------------------------------------------------


def _keep_exemplars(data: MetricsData, kept: dict[Any, Any]) -> MetricsData:
    """``data`` whose points without a fresh exemplar carry the last one seen."""
    changed = False
    resource_metrics = []
    for rm in data.resource_metrics:
        scope_metrics = []
        for sm in rm.scope_metrics:
            metrics = []
            for metric in sm.metrics:
                points = metric.data.data_points
                new_points = [_with_kept(sm.scope.name, metric.name, p, kept) for p in points]
                if any(a is not b for a, b in zip(new_points, points, strict=True)):
                    changed = True
                    new_data: Any = dataclasses.replace(metric.data, data_points=new_points)  # type: ignore[arg-type]
                    metrics.append(dataclasses.replace(metric, data=new_data))
                else:
                    metrics.append(metric)
            scope_metrics.append(dataclasses.replace(sm, metrics=metrics) if changed else sm)
        resource_metrics.append(dataclasses.replace(rm, scope_metrics=scope_metrics))
    if not changed:
        return data
    return MetricsData(resource_metrics=resource_metrics)


def _with_kept(scope: str, name: str, point: Any, kept: dict[Any, Any]) -> Any:
    fresh = getattr(point, "exemplars", None)
    if fresh is None:
        return point
    try:
        key = (scope, name, frozenset(point.attributes.items()))
    except TypeError:  # an unhashable attribute value: no carry-over for this point
        return point
    if isinstance(point, HistogramDataPoint):
        slots: dict[int, Any] = dict(kept.get(key, {}))
        bounds = point.explicit_bounds
        for exemplar in fresh:
            slots[bisect_left(bounds, exemplar.value)] = exemplar
        if not slots:
            return point
        kept[key] = slots
        merged = [slots[i] for i in sorted(slots)]
        if len(merged) == len(fresh):
            return point
        return dataclasses.replace(point, exemplars=merged)
    if fresh:
        kept[key] = list(fresh)
        return point
    previous = kept.get(key)
    return dataclasses.replace(point, exemplars=previous) if previous else point


# -- the store's view ------------------------------------------------------------


def metric_points(reader: SharedMetricReader) -> Callable[[], list[MetricPoint]]:
    """A metric source for the store: the reader's latest points, flattened."""

    def read() -> list[MetricPoint]:
        data = reader.snapshot()
        points: list[MetricPoint] = []
        if data is None:
            return points
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points.extend(points_of(metric))
        return points

    return read


def points_of(metric: Any) -> list[MetricPoint]:
    """One OTel metric's data points as store :class:`MetricPoint`\\ s."""
    kind = type(metric.data).__name__.lower()
    out: list[MetricPoint] = []
    for point in metric.data.data_points:
        attrs = MappingProxyType(dict(point.attributes or {}))
        if isinstance(point, HistogramDataPoint):
            bounds = (*point.explicit_bounds, _INF)
            out.append(
                MetricPoint(
                    metric.name,
                    "histogram",
                    metric.unit or "",
                    attrs,
                    None,
                    point.count,
                    point.sum,
                    tuple(zip(bounds, point.bucket_counts, strict=False)),
                    point.time_unix_nano,
                )
            )
        elif isinstance(point, NumberDataPoint):
            out.append(
                MetricPoint(
                    metric.name,
                    kind,
                    metric.unit or "",
                    attrs,
                    point.value,
                    time_ns=point.time_unix_nano,
                )
            )
        else:  # exponential histograms and other aggregations
            out.append(
                MetricPoint(
                    metric.name,
                    kind,
                    metric.unit or "",
                    attrs,
                    None,
                    getattr(point, "count", None),
                    getattr(point, "sum", None),
                    time_ns=point.time_unix_nano,
                )
            )
    return out
