"""The health registry of one pipeline: latest result per component, gauge, change log.

Imports: ``store``, ``support``, ``domain``; the OpenTelemetry API.

Threading: :meth:`HealthAdapter.record` and the queries may be called from any
thread (one short lock); the gauge callback runs on the metric reader's thread and
never raises.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from flext_otel.domain.entities import HEALTH_STATUS_VALUE, FlextHealthCheck
from flext_otel.domain.result import FlextResult, record_failed, wrong_type
from flext_otel.pipeline.correlation import with_correlation
from flext_otel.support.otel_private import Logger, SeverityNumber
from flext_otel.support.times import datetime_to_ns

if TYPE_CHECKING:
    from flext_otel.store.telemetry import TelemetryStore

# Health ranks: higher is worse; "unknown" sits between degraded and unhealthy.
_HEALTH_RANK = {"healthy": 0, "degraded": 1, "unknown": 1, "unhealthy": 2}


class HealthAdapter:
    """The latest health result per component, observed and logged.

    * a thread-safe registry: :meth:`components`, :meth:`overall`,
      :meth:`latest`;
    * the observable gauge ``flext.health.status`` with one point per
      component (attribute ``component``; values from
      :data:`~flext_otel.entities.HEALTH_STATUS_VALUE`: 1 healthy, 0.5
      degraded, 0 unhealthy, -1 unknown);
    * a log record ``event_name="flext.health.change"`` when a component's
      status changes: ``WARN`` when it got worse or stayed unwell, ``INFO``
      when it improved. A component never seen before counts as ``unknown``,
      so a first ``healthy`` result logs INFO and a first ``unhealthy`` WARN;
    * every result in ``store`` (when given).
    """

    __slots__ = ("__weakref__", "_gauge", "_latest", "_lock", "_logger", "_store")

    def __init__(self, meter: Meter, logger: Logger, store: TelemetryStore | None = None) -> None:
        self._logger = logger
        self._store = store
        self._latest: dict[str, FlextHealthCheck] = {}
        self._lock = threading.Lock()
        self._gauge = meter.create_observable_gauge(
            "flext.health.status",
            callbacks=[self._observe],
            # no unit: a "1" unit makes Prometheus exporters append "_ratio"
            description="Component health: 1 healthy, 0.5 degraded, 0 unhealthy, -1 unknown",
        )

    def record(self, check: FlextHealthCheck) -> FlextResult[FlextHealthCheck]:
        """Make ``check`` the latest result of its component; the check on success."""
        if not isinstance(check, FlextHealthCheck):
            return wrong_type(check, FlextHealthCheck)
        try:
            with self._lock:
                previous = self._latest.get(check.component)
                self._latest[check.component] = check
            if self._store is not None:
                self._store.add_health_check(check)
            before = "unknown" if previous is None else previous.status
            if before != check.status:
                self._log_change(check, before)
            return FlextResult.ok(check)
        except Exception as exc:
            return record_failed("health check", exc)

    def latest(self, component: str) -> FlextHealthCheck | None:
        """The latest result of ``component``, or None."""
        with self._lock:
            return self._latest.get(component)

    def components(self) -> dict[str, dict[str, str]]:
        """``{component: {"status", "message", "checked_at"}}``, sorted by component."""
        with self._lock:
            checks = sorted(self._latest.items())
        return {
            name: {
                "status": check.status,
                "message": check.message,
                "checked_at": check.created_at.isoformat(),
            }
            for name, check in checks
        }

    def overall(self) -> str:
        """``unknown`` with no checks, ``healthy`` when all are, ``unhealthy`` when
        any is, else ``degraded``."""
        with self._lock:
            statuses = {check.status for check in self._latest.values()}
        if not statuses:
            return "unknown"
        if statuses == {"healthy"}:
            return "healthy"
        if "unhealthy" in statuses:
            return "unhealthy"
        return "degraded"

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        try:
            with self._lock:
                checks = list(self._latest.values())
            return [
                Observation(HEALTH_STATUS_VALUE[c.status], {"component": c.component})
                for c in checks
            ]
        except Exception:  # a collection callback must never raise into the SDK
            return []

    def _log_change(self, check: FlextHealthCheck, before: str) -> None:
        better = _HEALTH_RANK[check.status] < _HEALTH_RANK[before]
        number, text = (SeverityNumber.INFO, "INFO") if better else (SeverityNumber.WARN, "WARN")
        body = f"{check.component} is {check.status} (was {before})"
        if check.message:
            body = f"{body}: {check.message}"
        self._logger.emit(
            timestamp=datetime_to_ns(check.created_at),
            observed_timestamp=time.time_ns(),
            context=otel_context.get_current(),
            severity_number=number,
            severity_text=text,
            body=body,
            attributes=with_correlation(
                {
                    "health.component": check.component,
                    "health.status": check.status,
                    "health.previous_status": before,
                }
            ),
            event_name="flext.health.change",
        )


__all__ = ["HealthAdapter"]
