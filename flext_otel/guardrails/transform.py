"""The shape of a span or log-record transform (scrubbing, limits) applied before export.

Imports: OpenTelemetry SDK types only (for type checking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from flext_otel.support.otel_private import ReadWriteLogRecord

SpanTransform = Callable[["ReadableSpan"], "ReadableSpan | None"]
"""Maps a finished span to the span to keep (possibly a redacted copy) or ``None``."""

LogTransform = Callable[["ReadWriteLogRecord"], bool]
"""Mutates a log record in place (e.g. redaction); returns False to drop it."""
