"""Former home of the exporters, kept so old import paths keep working.

The parts now live in their own modules: :mod:`~flext_otel.export.console` (the
console tree), :mod:`~flext_otel.export.metricview` (the one shared metric reader
and the store's view of it), :mod:`~flext_otel.export.otlp` (OTLP factories),
:mod:`~flext_otel.export.prometheus` (``/metrics``) and
:mod:`~flext_otel.export.push` (push metric exporters).

Imports: the modules above.
"""

from __future__ import annotations

from flext_otel.export.console import ConsoleTreeSpanExporter, build_tree, render_trace
from flext_otel.export.metricview import SharedMetricReader, metric_points, points_of
from flext_otel.export.otlp import otlp_log_exporter, otlp_metric_exporter, otlp_span_exporter
from flext_otel.export.prometheus import prometheus_available, prometheus_registry

__all__ = [
    "ConsoleTreeSpanExporter",
    "SharedMetricReader",
    "build_tree",
    "metric_points",
    "otlp_log_exporter",
    "otlp_metric_exporter",
    "otlp_span_exporter",
    "points_of",
    "prometheus_available",
    "prometheus_registry",
    "render_trace",
]
