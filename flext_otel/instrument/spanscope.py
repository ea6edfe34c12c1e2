"""``span(name, **attributes)``: a span on the current pipeline's tracer, made current.

Imports: ``instrument.wrappers`` (the current pipeline), ``instrument.plan``; the OTel API.

Errors: a bad name is used as text (logged once); a failure to start the span
runs the block with a non-recording span.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import trace as trace_api
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from flext_otel.instrument.plan import instrumentation_failed as _instrumentation_failed
from flext_otel.instrument.wrappers import current_pipeline
from flext_otel.support.logonce import LogOnce

_logger = logging.getLogger("flext_otel")


class _SpanScope:
    """The context manager returned by :func:`span` (single use)."""

    __slots__ = ("_attributes", "_inner", "_name")

    def __init__(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        self._name = name
        self._attributes = attributes
        self._inner: AbstractContextManager[Span] | None = None

    def __enter__(self) -> Span:
        try:
            inner = current_pipeline().tracer.start_as_current_span(
                self._name, attributes=self._attributes or None
            )
            started = inner.__enter__()
        except Exception as exc:  # never break the user's block over telemetry
            _instrumentation_failed(exc)
            return trace_api.INVALID_SPAN
        self._inner = inner
        return started

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        inner, self._inner = self._inner, None
        if inner is None:
            return None
        return inner.__exit__(exc_type, exc, tb)


def span(name: str, /, **attributes: AttributeValue) -> AbstractContextManager[Span]:
    """Start a span on the current pipeline's tracer and make it current.

    OTel's ``tracer.start_as_current_span(name, attributes=...)`` underneath: it
    yields the OTel span, an exception sets status ERROR, adds an exception
    event and propagates, and it nests either way with spans started through
    OTel's own API. The tracer is the one of the pipeline current when the block
    is entered. If flext cannot start the span, the block still runs (with a
    non-recording span).

    >>> from flext_otel.testing import capture
    >>> with capture() as cap:
    ...     with span("load", rows=3) as current:
    ...         current.set_attribute("cache", "hit")
    >>> cap.spans()[0].attributes["rows"]
    3
    """
    if not isinstance(name, str) or not name:
        name = _fallback_span_name(name)
    return _SpanScope(name, attributes)


_failures = LogOnce("flext_otel.span")


def _fallback_span_name(name: object) -> str:
    """A usable name for a bad one: the caller's block still runs, traced, and the
    mistake is logged once rather than raised on a hot path."""
    _failures.log(
        "span-name", "span(): name must be a non-empty str, got %.80r; using its text", name
    )
    text = name if isinstance(name, str) else repr(name)
    return text or "unnamed"


__all__ = ["span"]
