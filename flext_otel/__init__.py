"""flext-otel: observability in one call, on pure OpenTelemetry.

>>> import flext_otel
>>> otel = flext_otel.configure(service_name="checkout", install_globals=False)
>>> flext_otel.metric("orders_total", 1, tags={"region": "eu"}).is_success
True
>>> otel.shutdown().ok
True
"""

from flext_otel.api import (
    FlextObservabilityMasterFactory,
    alert,
    configure,
    flext_create_alert,
    flext_create_health_check,
    flext_create_log_entry,
    flext_create_metric,
    flext_create_trace,
    get_global_factory,
    health_check,
    log,
    metric,
    reset_global_factory,
    trace,
)
from flext_otel.domain.entities import (
    FlextAlert,
    FlextHealthCheck,
    FlextLogEntry,
    FlextMetric,
    FlextTrace,
)
from flext_otel.domain.result import FlextResult
from flext_otel.guardrails.options import SamplingOptions, ScrubbingOptions
from flext_otel.instrument.decorators import flext_monitor_function, span
from flext_otel.instrument.logbridge import (
    FlextLoggingHandler,
    JsonFormatter,
    install_logging_handler,
    structlog_processor,
    uninstall_logging_handler,
)
from flext_otel.pipeline.correlation import (
    ContextPreservingExecutor,
    attach_extracted,
    correlation_scope,
    extract,
    get_correlation_id,
    inject,
    propagate_context,
    set_correlation_id,
    validate_correlation_id,
)
from flext_otel.pipeline.options import FlextOtelOptions
from flext_otel.pipeline.sdk import (
    FlextOtel,
    ShutdownReport,
)
from flext_otel.store.telemetry import (
    LogRecordView,
    MetricPoint,
    SignalStats,
    SpanNode,
    SpanRecord,
    TelemetryStore,
)
from flext_otel.support.counters import PipelineStats
from flext_otel.support.errors import ConfigError
from flext_otel.web.server import serve_http

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ContextPreservingExecutor",
    "FlextAlert",
    "FlextHealthCheck",
    "FlextLogEntry",
    "FlextLoggingHandler",
    "FlextMetric",
    "FlextObservabilityMasterFactory",
    "FlextOtel",
    "FlextOtelOptions",
    "FlextResult",
    "FlextTrace",
    "JsonFormatter",
    "LogRecordView",
    "MetricPoint",
    "PipelineStats",
    "SamplingOptions",
    "ScrubbingOptions",
    "ShutdownReport",
    "SignalStats",
    "SpanNode",
    "SpanRecord",
    "TelemetryStore",
    "__version__",
    "alert",
    "attach_extracted",
    "configure",
    "correlation_scope",
    "extract",
    "flext_create_alert",
    "flext_create_health_check",
    "flext_create_log_entry",
    "flext_create_metric",
    "flext_create_trace",
    "flext_monitor_function",
    "get_correlation_id",
    "get_global_factory",
    "health_check",
    "inject",
    "install_logging_handler",
    "log",
    "metric",
    "propagate_context",
    "reset_global_factory",
    "serve_http",
    "set_correlation_id",
    "span",
    "structlog_processor",
    "trace",
    "uninstall_logging_handler",
    "validate_correlation_id",
]
