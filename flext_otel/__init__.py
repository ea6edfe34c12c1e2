"""flext-otel: observability in one call, on pure OpenTelemetry.

>>> import flext_otel
>>> otel = flext_otel.configure(service_name="checkout", install_globals=False)
>>> otel.shutdown().ok
True
"""

from flext_otel.config import ConfigError, FlextOtelOptions
from flext_otel.providers import FlextOtel, ShutdownReport, configure
from flext_otel.result import FlextResult
from flext_otel.store import (
    LogRecordView,
    MetricPoint,
    PipelineStats,
    SignalStats,
    SpanNode,
    SpanRecord,
    TelemetryStore,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FlextOtel",
    "FlextOtelOptions",
    "FlextResult",
    "LogRecordView",
    "MetricPoint",
    "PipelineStats",
    "ShutdownReport",
    "SignalStats",
    "SpanNode",
    "SpanRecord",
    "TelemetryStore",
    "__version__",
    "configure",
]
