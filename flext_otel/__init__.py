"""flext-otel: observability in one call, on pure OpenTelemetry."""

from flext_otel.config import ConfigError
from flext_otel.result import FlextResult

__all__ = ["ConfigError", "FlextResult"]
