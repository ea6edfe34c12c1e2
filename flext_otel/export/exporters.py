"""Exporters: the console tree, the store's metric view, and lazy factories for
the optional OTLP and Prometheus outputs.

The optional outputs are imported only when selected; a missing extra raises
:class:`~flext_otel.config.ConfigError` naming the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO

from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    MetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.export.options import OtlpOptions
from flext_otel.store.telemetry import MetricPoint, SpanRecord, span_record_from
from flext_otel.store.trees import build_tree
from flext_otel.support.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace import ReadableSpan

_INF = float("inf")


# -- store metrics ----------------------------------------------------------


def metric_points(reader: InMemoryMetricReader) -> Callable[[], list[MetricPoint]]:
    """A metric source for the store: the reader's latest points, flattened."""

    def read() -> list[MetricPoint]:
        data = reader.get_metrics_data()
        points: list[MetricPoint] = []
        if data is None:
            return points
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    points.extend(_points_of(metric))
        return points

    return read


def _points_of(metric: Any) -> list[MetricPoint]:
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


# -- console ----------------------------------------------------------------


class ConsoleTreeSpanExporter(SpanExporter):
    """Prints each finished trace as an indented tree: time, name, duration, status.

    Spans wait (bounded: at most ``max_pending`` traces) until their trace's
    local root ends; :meth:`force_flush` and :meth:`shutdown` print what is
    pending. Colour is used only when the stream is a TTY and ``NO_COLOR`` is unset.
    """

    def __init__(
        self, stream: TextIO | None = None, *, max_pending: int = 1_000, colour: bool | None = None
    ) -> None:
        self._stream = stream
        self._pending: OrderedDict[int, list[SpanRecord]] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._colour = colour
        self._stopped = False

    @property
    def stream(self) -> TextIO:
        """The output stream (standard output unless given)."""
        return self._stream if self._stream is not None else sys.stdout

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Collect spans; print every trace whose root has ended."""
        if self._stopped:
            return SpanExportResult.FAILURE
        ready: list[list[SpanRecord]] = []
        with self._lock:
            for span in spans:
                record = span_record_from(span)
                bucket = self._pending.setdefault(record.trace_id_int, [])
                bucket.append(record)
                parent = span.parent
                if parent is None or parent.is_remote:
                    ready.append(self._pending.pop(record.trace_id_int))
            while len(self._pending) > self._max_pending:
                ready.append(self._pending.popitem(last=False)[1])
        for records in ready:
            self._print(records)
        return SpanExportResult.SUCCESS

    def _print(self, records: list[SpanRecord]) -> None:
        text = render_trace(records, colour=self._use_colour())
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed stream: nothing sensible to do
            return

    def _use_colour(self) -> bool:
        if self._colour is not None:
            return self._colour
        try:
            return self.stream.isatty() and "NO_COLOR" not in os.environ
        except (AttributeError, ValueError):
            return False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Print every pending (incomplete) trace."""
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for records in pending:
            self._print(records)
        return True

    def shutdown(self) -> None:
        """Print what is pending and stop (idempotent)."""
        if not self._stopped:
            self.force_flush()
            self._stopped = True


_RESET, _RED, _GREEN, _DIM = "\x1b[0m", "\x1b[31m", "\x1b[32m", "\x1b[2m"


def render_trace(records: Sequence[SpanRecord], *, colour: bool = False) -> str:
    """One trace as text: a header line and an indented line per span."""
    if not records:
        return ""
    out = io.StringIO()
    roots = build_tree(records)
    first = min(r.start_time_ns for r in records)
    out.write(f"trace {records[0].trace_id}\n")
    for root in roots:
        for depth, span in root.walk():
            offset_ms = (span.start_time_ns - first) / 1e6
            status = span.status
            if colour:
                tint = _RED if status == "error" else _GREEN if status == "ok" else _DIM
                status = f"{tint}{status}{_RESET}"
            name = span.name.replace("\n", "\\n").replace("\x1b", "\\x1b")
            out.write(
                f"  {'  ' * depth}{'└─ ' if depth else ''}{name}  "
                f"+{offset_ms:.1f}ms  {span.duration_ms:.2f}ms  [{status}]\n"
            )
    return out.getvalue()


# -- lazy optional outputs --------------------------------------------------

_OTLP_HINT = "pip install 'flext-otel[otlp]'"
_PROM_HINT = "pip install 'flext-otel[prometheus]'"


def _missing(extra_hint: str, what: str, exc: ImportError) -> ConfigError:
    return ConfigError(
        f"{what} needs an optional extra that is not installed: {extra_hint} ({exc.name or exc})"
    )


def _otlp_kwargs(opts: OtlpOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "endpoint": opts.endpoint,
        "headers": dict(opts.headers) or None,
        "timeout": opts.timeout_ms / 1000.0,
    }
    return kwargs


def _grpc_compression(name: str | None) -> Any:
    if name is None:
        return None
    from grpc import Compression

    return Compression.Gzip if name == "gzip" else Compression.Deflate


def _http_compression(name: str | None) -> Any:
    from opentelemetry.exporter.otlp.proto.http import Compression

    if name is None:
        return Compression.NoCompression
    return Compression.Gzip if name == "gzip" else Compression.Deflate


# (module under opentelemetry.exporter.otlp.proto.<grpc|http>, class) per signal
_OTLP_CLASSES = {
    "traces": ("trace_exporter", "OTLPSpanExporter"),
    "metrics": ("metric_exporter", "OTLPMetricExporter"),
    "logs": ("_log_exporter", "OTLPLogExporter"),
}


class _DemoteToDebug(logging.Filter):
    """Turns the OTLP exporters' per-attempt warnings into DEBUG records.

    flext's batch processors report an outage once (and its end once) with the
    error; the exporters would otherwise log every failed batch and retry.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_DEMOTE = _DemoteToDebug()


def _quiet_exporter_loggers(transport: str, module_name: str) -> None:
    base = f"opentelemetry.exporter.otlp.proto.{transport}"
    shared = f"{base}.exporter" if transport == "grpc" else f"{base}._common"
    for name in (shared, f"{base}.{module_name}"):
        logger = logging.getLogger(name)
        if _DEMOTE not in logger.filters:
            logger.addFilter(_DEMOTE)


def _otlp_exporter(signal: str, opts: OtlpOptions) -> Any:
    """The official OTLP exporter of ``signal`` for ``opts`` (gRPC or HTTP/protobuf)."""
    module_name, class_name = _OTLP_CLASSES[signal]
    transport = "grpc" if opts.protocol == "grpc" else "http"
    _quiet_exporter_loggers(transport, module_name)
    try:
        module = importlib.import_module(
            f"opentelemetry.exporter.otlp.proto.{transport}.{module_name}"
        )
        kwargs = _otlp_kwargs(opts)
        if transport == "grpc":
            kwargs["insecure"] = opts.insecure
            kwargs["compression"] = _grpc_compression(opts.compression)
        else:
            kwargs["compression"] = _http_compression(opts.compression)
    except ImportError as exc:
        raise _missing(_OTLP_HINT, f"the otlp {signal} exporter", exc) from None
    return getattr(module, class_name)(**kwargs)


def otlp_span_exporter(opts: OtlpOptions) -> SpanExporter:
    """The official OTLP span exporter for ``opts`` (gRPC or HTTP/protobuf)."""
    exporter: SpanExporter = _otlp_exporter("traces", opts)
    return exporter


def otlp_log_exporter(opts: OtlpOptions) -> LogRecordExporter:
    """The official OTLP log exporter for ``opts``."""
    exporter: LogRecordExporter = _otlp_exporter("logs", opts)
    return exporter


def otlp_metric_exporter(opts: OtlpOptions) -> MetricExporter:
    """The official OTLP metric exporter for ``opts``."""
    exporter: MetricExporter = _otlp_exporter("metrics", opts)
    return exporter


def prometheus_available() -> bool:
    """True when the ``prometheus`` extra is installed."""
    try:
        import opentelemetry.exporter.prometheus  # noqa: F401
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def prometheus_reader(cardinality_limits: Any = None) -> tuple[MetricReader, Any]:
    """A pull-only ``PrometheusMetricReader`` on a private registry: ``(reader, registry)``.

    Nothing is collected until the registry is scraped.
    """
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry
    except ImportError as exc:
        raise _missing(_PROM_HINT, "the prometheus exporter", exc) from None
    registry = CollectorRegistry(auto_describe=True)
    kwargs: dict[str, Any] = {"registry": registry}
    if cardinality_limits is not None:
        kwargs["cardinality_limits"] = cardinality_limits
    return PrometheusMetricReader(**kwargs), registry


__all__ = [
    "ConsoleTreeSpanExporter",
    "build_tree",
    "metric_points",
    "otlp_log_exporter",
    "otlp_metric_exporter",
    "otlp_span_exporter",
    "prometheus_available",
    "prometheus_reader",
    "render_trace",
]
