"""``/metrics``: the shared reader's snapshot as Prometheus families on a private registry.

:func:`prometheus_registry` registers one :class:`SnapshotCollector` on a new
``CollectorRegistry``. Each scrape takes one fresh snapshot of the pipeline's
:class:`~flext_otel.export.metricview.SharedMetricReader` and translates it with
the OTel Prometheus exporter's own rules (names, unit suffixes, labels,
``target_info``), so every scrape is valid exposition with one sample per series
and the latest value whatever flushes, reconfigurations or shutdowns happened
before it. Histogram buckets carry their exemplar (``trace_id``, ``span_id``),
which the OpenMetrics format shows.

The ``prometheus`` extra is imported only here, lazily; a missing extra raises
:class:`~flext_otel.support.errors.ConfigError` naming the ``pip install``.

Imports: ``export.metricview``, ``export.otlp`` (the missing-extra error), ``support``.

Threading: scrapes may run concurrently; translation is serialised by one lock.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics.export import Histogram, MetricsData

from flext_otel.export.metricview import SharedMetricReader
from flext_otel.export.otlp import missing_extra
from flext_otel.support.otel_private import prometheus_translator

PROMETHEUS_HINT = "pip install 'flext-otel[prometheus]'"

__all__ = ["PROMETHEUS_HINT", "SnapshotCollector", "prometheus_available", "prometheus_registry"]


def prometheus_available() -> bool:
    """True when the ``prometheus`` extra is installed."""
    try:
        import opentelemetry.exporter.prometheus  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


class SnapshotCollector:
    """A ``prometheus_client`` collector over one shared reader (one snapshot per scrape)."""

    def __init__(self, reader: SharedMetricReader) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._translator = prometheus_translator()

    def describe(self) -> list[Any]:
        """Nothing up front: the registry must not collect at registration."""
        return []

    def collect(self) -> Iterator[Any]:
        """The latest snapshot as Prometheus metric families."""
        data = self._reader.snapshot()
        if data is None:
            return iter(())
        with self._lock:
            self._translator.add_metrics_data(data)
            families = list(self._translator.collect())
        _attach_exemplars(data, families)
        return iter(families)


_Candidate = tuple[str, float, dict[str, str], Any]


def _label_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _label_name(key: str) -> str:
    return _INVALID_LABEL.sub("_", key)


_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def _attach_exemplars(data: MetricsData, families: list[Any]) -> None:
    """Put each histogram point's exemplars on its bucket samples (OpenMetrics)."""
    from prometheus_client.samples import Exemplar

    wanted: list[_Candidate] = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if not isinstance(metric.data, Histogram):
                    continue
                for point in metric.data.data_points:
                    labels = {
                        _label_name(k): _label_value(v) for k, v in (point.attributes or {}).items()
                    }
                    labels["otel_scope_name"] = sm.scope.name or ""
                    bounds = point.explicit_bounds
                    for exemplar in point.exemplars or ():
                        if exemplar.trace_id is None or exemplar.span_id is None:
                            continue
                        index = bisect_left(bounds, exemplar.value)
                        le = float(bounds[index]) if index < len(bounds) else float("inf")
                        ids = {
                            "trace_id": format(exemplar.trace_id, "032x"),
                            "span_id": format(exemplar.span_id, "016x"),
                        }
                        found = Exemplar(ids, exemplar.value, exemplar.time_unix_nano / 1e9)
                        wanted.append((_label_name(metric.name), le, labels, found))
    if not wanted:
        return
    for family in families:
        if family.type == "histogram":
            _mark_family(family, wanted)


def _mark_family(family: Any, wanted: list[_Candidate]) -> None:
    """Attach exemplars to the bucket samples of ``family`` whose series they belong to."""
    mine = [c for c in wanted if family.name == c[0] or family.name.startswith(c[0] + "_")]
    if not mine:
        return
    family.samples = [_with_exemplar(sample, mine) for sample in family.samples]


def _with_exemplar(sample: Any, mine: list[_Candidate]) -> Any:
    if not sample.name.endswith("_bucket") or sample.exemplar is not None:
        return sample
    le = float(sample.labels.get("le", "nan"))
    for _, bound, labels, exemplar in mine:
        if bound == le and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample._replace(exemplar=exemplar)
    return sample


def prometheus_registry(reader: SharedMetricReader) -> Any:
    """A private ``CollectorRegistry`` serving ``reader``'s snapshots."""
    try:
        import opentelemetry.exporter.prometheus  # noqa: F401
        from prometheus_client import CollectorRegistry
    except ImportError as exc:
        raise missing_extra(PROMETHEUS_HINT, "the prometheus exporter", exc) from None
    registry = CollectorRegistry(auto_describe=True)
    registry.register(SnapshotCollector(reader))
    return registry
