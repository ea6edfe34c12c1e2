"""Test helpers: ``capture()``, the ``flext_capture`` pytest fixture, ``OtlpReceiver``.

``capture()`` gives a test its own private providers and store; no OTel global is
touched. While it is active, flext-otel's own API and tracers obtained through
flext's proxy providers record into it; the previous pipeline is restored on exit.

>>> from opentelemetry import trace
>>> with capture() as cap:
...     with cap.otel.tracer_provider.get_tracer("doc").start_as_current_span("work"):
...         pass
>>> [s.name for s in cap.spans()]
['work']
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import (
    FlextOtel,
    ShutdownReport,
)
from flext_otel.pipeline.state import (
    use,
)

if TYPE_CHECKING:
    from flext_otel.store.telemetry import LogRecordView, MetricPoint, SpanRecord, TelemetryStore


class Captured:
    """What a :func:`capture` block recorded: ``.otel``, ``.store`` and quick queries."""

    def __init__(self, otel: FlextOtel) -> None:
        self.otel = otel
        self.store: TelemetryStore = otel.store
        self.report: ShutdownReport | None = None

    def spans(self, name: str | None = None, **filters: Any) -> list[SpanRecord]:
        """Finished spans, newest last (same filters as ``store.spans``)."""
        return self.store.spans(name, **filters)

    def logs(self, **filters: Any) -> list[LogRecordView]:
        """Log records, newest last (same filters as ``store.logs``)."""
        return self.store.logs(**filters)

    def metrics(self, name: str | None = None) -> list[MetricPoint]:
        """Latest metric points."""
        return self.store.metrics(name)


@contextmanager
def capture(**options: Any) -> Iterator[Captured]:
    """Record into a private pipeline (embedded store, no exporters unless asked).

    Options are ``configure()``'s; the environment is ignored so tests are
    deterministic, and OTel globals are never installed.
    """
    options.setdefault("install_globals", False)
    options.setdefault("service_name", "flext-otel-test")
    otel = FlextOtel(resolve_options(environ={}, **options))
    captured = Captured(otel)
    try:
        with use(otel):
            yield captured
    finally:
        captured.report = otel.shutdown(timeout_millis=5_000)


def _flext_capture() -> Iterator[Captured]:
    """A :class:`Captured` pipeline for one test, shut down afterwards."""
    with capture() as captured:
        yield captured


try:  # the fixture exists only where pytest does; capture() works everywhere
    import pytest
except ImportError:  # pragma: no cover - exercised only without pytest
    flext_capture: Any = None
else:
    flext_capture = pytest.fixture(name="flext_capture")(_flext_capture)


def __getattr__(name: str) -> Any:
    if name in {"OtlpReceiver", "ReceivedSpan", "ReceivedLog", "ReceivedMetricPoint"}:
        from flext_otel.testing import receiver as _otlp_receiver

        return getattr(_otlp_receiver, name)
    raise AttributeError(name)


__all__ = ["Captured", "OtlpReceiver", "capture", "flext_capture"]
