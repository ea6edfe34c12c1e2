"""Lazy factories for the official OTLP exporters (gRPC or HTTP/protobuf).

The ``otlp`` extra is imported only when an OTLP output is selected; a missing
extra raises :class:`~flext_otel.support.errors.ConfigError` naming the
``pip install`` that fixes it. The exporters' per-attempt warnings are demoted to
DEBUG: flext's batch processors report an outage once.

Imports: ``export.options``, ``support``; the OpenTelemetry SDK (lazily the exporters).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from flext_otel.export.options import OtlpOptions
from flext_otel.support.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter

    from flext_otel.support.otel_private import LogRecordExporter


_OTLP_HINT = "pip install 'flext-otel[otlp]'"


def missing_extra(extra_hint: str, what: str, exc: ImportError) -> ConfigError:
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
        raise missing_extra(_OTLP_HINT, f"the otlp {signal} exporter", exc) from None
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


__all__ = ["missing_extra", "otlp_log_exporter", "otlp_metric_exporter", "otlp_span_exporter"]
