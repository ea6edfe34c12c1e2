"""Metric merging across the instances of a service.

:class:`MetricMerger` keeps, per series (service, scope, metric, attributes), the
latest state each instance reported and a *retired* base:

* **Counters** (monotonic sums) and **histograms** are summed over instances. A
  cumulative point replaces its instance's previous state; if it went backwards
  (or its start time changed: the instance restarted its aggregation) the previous
  state is folded into the base first. Delta points are added to the instance's
  state. An instance not heard of for ``retire_after_s`` is folded into the base
  and forgotten. The exported total (base + every instance's state) therefore
  never decreases when an instance exits or is replaced, like prometheus_client's
  multiprocess mode: what a killed worker never exported is all that is lost.
* **Gauges**, non-monotonic sums, summaries and exponential histograms keep one
  series per instance (attribute ``service.instance.id``; Prometheus label
  ``service_instance_id``); an instance's series go when it is retired.

:meth:`MetricMerger.metrics_data` renders the state as an SDK ``MetricsData`` so
``/metrics`` is written by the same OpenTelemetry Prometheus translation as the
in-process view (label ``service_name`` on every series), and the store's
``/api/metrics`` reads flattened points of one service or instance.

Imports: the OpenTelemetry SDK's metric data types; ``hub.ingest`` records.
Threading: one lock around every state change and read; safe from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from flext_otel.hub.ingest import ReceivedMetricPoint

__all__ = ["INSTANCE_ATTRIBUTE", "MAX_SERIES", "MetricMerger"]

INSTANCE_ATTRIBUTE = "service.instance.id"
MAX_SERIES = 100_000
"""Series kept at most; points of further series are refused and counted."""

_DELTA = 1
_SUMMED = ("counter", "histogram")


def _hashable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, bytes)) or value is None:
        return value
    return repr(value)


def _attrs_key(attributes: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, _hashable(v)) for k, v in attributes.items()))


@dataclass(slots=True)
class _State:
    """One instance's (or the retired base's) cumulative state of one series."""

    value: float = 0
    count: int = 0
    sum: float = 0.0
    buckets: list[int] = field(default_factory=list)
    start_ns: int = 0
    time_ns: int = 0

    def absorb(self, other: _State) -> None:
        self.value += other.value
        self.count += other.count
        self.sum += other.sum
        if len(self.buckets) < len(other.buckets):
            self.buckets.extend([0] * (len(other.buckets) - len(self.buckets)))
        for i, n in enumerate(other.buckets):
            self.buckets[i] += n
        self.time_ns = max(self.time_ns, other.time_ns)


@dataclass(slots=True)
class _Series:
    service: str
    scope: str
    name: str
    kind: str  # counter | histogram | gauge | updown | other
    unit: str
    description: str
    attributes: dict[str, Any]
    bounds: tuple[float, ...]
    base: _State = field(default_factory=_State)
    instances: dict[str, _State] = field(default_factory=dict)

    def total(self) -> _State:
        total = _State(start_ns=0)
        total.absorb(self.base)
        for state in self.instances.values():
            total.absorb(state)
        return total


def _kind(point: ReceivedMetricPoint) -> str:
    if point.kind == "sum":
        return "counter" if point.is_monotonic else "updown"
    if point.kind == "histogram":
        return "histogram"
    if point.kind == "gauge":
        return "gauge"
    return "other"


def _state_of(point: ReceivedMetricPoint) -> _State:
    return _State(
        value=point.value if point.value is not None else 0,
        count=point.count or 0,
        sum=point.sum or 0.0,
        buckets=list(point.bucket_counts),
        start_ns=point.start_time_ns,
        time_ns=point.time_ns,
    )


class MetricMerger:
    """Merged metric state of every service and instance that reported to the hub."""

    def __init__(self, retire_after_s: float = 300.0, max_series: int = MAX_SERIES) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[Any, ...], _Series] = {}
        self._seen: dict[str, float] = {}  # instance -> monotonic time last heard of
        self._retire_after_s = retire_after_s
        self._max_series = max_series
        self.refused = 0

    def add(self, service: str, instance: str, points: Iterable[ReceivedMetricPoint]) -> int:
        """Merge the points one instance sent; returns how many were refused."""
        refused = 0
        now = time.monotonic()
        with self._lock:
            self._seen[instance] = now
            for point in points:
                kind = _kind(point)
                key = (
                    service,
                    point.scope,
                    point.name,
                    kind,
                    point.unit,
                    _attrs_key(point.attributes),
                    point.explicit_bounds,
                )
                series = self._series.get(key)
                if series is None:
                    if len(self._series) >= self._max_series:
                        refused += 1
                        continue
                    series = self._series[key] = _Series(
                        service,
                        point.scope,
                        point.name,
                        kind,
                        point.unit,
                        point.description,
                        dict(point.attributes),
                        point.explicit_bounds,
                    )
                self._merge(series, instance, point)
            self.refused += refused
        return refused

    @staticmethod
    def _merge(series: _Series, instance: str, point: ReceivedMetricPoint) -> None:
        new = _state_of(point)
        last = series.instances.get(instance)
        if series.kind not in _SUMMED:
            series.instances[instance] = new
        elif point.temporality == _DELTA:
            if last is None:
                series.instances[instance] = new
            else:
                last.absorb(new)
        else:
            went_back = new.value < last.value or new.count < last.count if last else False
            if last is not None and (went_back or new.start_ns != last.start_ns):
                series.base.absorb(last)  # a reset: keep what was counted before it
            series.instances[instance] = new

    def retire_stale(self) -> list[str]:
        """Fold instances silent for ``retire_after_s`` into the base; returns them."""
        cutoff = time.monotonic() - self._retire_after_s
        with self._lock:
            stale = [i for i, seen in self._seen.items() if seen < cutoff]
            for instance in stale:
                self._retire(instance)
        return stale

    def retire(self, instance: str) -> None:
        """Fold one instance into the base now (it exited for good)."""
        with self._lock:
            self._retire(instance)

    def _retire(self, instance: str) -> None:
        self._seen.pop(instance, None)
        for key, series in list(self._series.items()):
            state = series.instances.pop(instance, None)
            if state is None:
                continue
            if series.kind in _SUMMED:
                series.base.absorb(state)
            elif not series.instances:
                del self._series[key]

    def series_count(self) -> int:
        """How many series are kept."""
        with self._lock:
            return len(self._series)

    # -- reading -------------------------------------------------------------
    def metrics_data(self, service: str | None = None, instance: str | None = None) -> MetricsData:
        """The merged state as SDK metric data: one ``ResourceMetrics`` per service.

        With ``instance``, only that instance's own state (no merging, no base).
        """
        with self._lock:
            rows = [
                self._render(s, instance)
                for s in self._series.values()
                if service is None or s.service == service
            ]
        by_service: dict[str, dict[str, dict[tuple[str, str, str, str], list[Any]]]] = {}
        for series, points in rows:
            if not points:
                continue
            scopes = by_service.setdefault(series.service, {})
            metrics = scopes.setdefault(series.scope, {})
            kind = "gauge" if series.kind not in _SUMMED else series.kind
            metrics.setdefault((series.name, kind, series.unit, series.description), []).extend(
                points
            )
        resource_metrics = []
        for service_name, scopes in sorted(by_service.items()):
            scope_metrics = [
                ScopeMetrics(
                    InstrumentationScope(scope_name),
                    [_metric(*key, points) for key, points in sorted(metrics.items())],
                    "",
                )
                for scope_name, metrics in sorted(scopes.items())
            ]
            resource = Resource({"service.name": service_name})
            resource_metrics.append(ResourceMetrics(resource, scope_metrics, ""))
        return MetricsData(resource_metrics)

    @staticmethod
    def _render(series: _Series, instance: str | None) -> tuple[_Series, list[Any]]:
        states: list[tuple[str | None, _State]]
        if instance is not None:
            state = series.instances.get(instance)
            states = [(instance, state)] if state is not None else []
        elif series.kind in _SUMMED:
            states = [(None, series.total())] if series.instances or series.base.time_ns else []
        else:
            states = sorted(series.instances.items())
        points: list[Any] = []
        for owner, state in states:
            attributes = dict(series.attributes)
            if owner is not None and series.kind not in _SUMMED:
                attributes[INSTANCE_ATTRIBUTE] = owner
            if series.kind == "histogram":
                buckets = state.buckets or [0] * (len(series.bounds) + 1)
                points.append(
                    HistogramDataPoint(
                        attributes,
                        state.start_ns,
                        state.time_ns,
                        state.count,
                        state.sum,
                        buckets,
                        series.bounds,
                        float("nan"),
                        float("nan"),
                    )
                )
            elif series.kind == "other":
                continue  # summaries and exponential histograms: /api/metrics of the instance
            else:
                points.append(
                    NumberDataPoint(attributes, state.start_ns, state.time_ns, state.value)
                )
        return series, points


def _metric(name: str, kind: str, unit: str, description: str, points: list[Any]) -> Metric:
    cumulative = AggregationTemporality.CUMULATIVE
    data: Any
    if kind == "counter":
        data = Sum(points, cumulative, True)
    elif kind == "histogram":
        data = Histogram(points, cumulative)
    else:
        data = Gauge(points)
    return Metric(name, description, unit, data)
