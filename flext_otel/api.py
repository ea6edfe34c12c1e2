"""The simple API: build, validate and record FLEXT entities in one call.

``flext_create_*`` build and validate an entity and record nothing;
``metric``, ``log``, ``alert``, ``trace`` and ``health_check`` also record it
through the active pipeline and return ``FlextResult[entity]``. None of them
raises, whatever the input: a bad argument is a failed result with an
``error_code`` (see :mod:`flext_otel.domain.entities`), a failure inside OTel is
``RECORD_FAILED``.

Every failed call is also counted on the pipeline it was meant for, under
``stats()["api:<call>"]`` (``api:metric``, ``api:log``, ``api:alert``,
``api:trace``, ``api:health_check``): an ``invalid`` drop whose ``causes`` map
the error code to its count; ``/health`` shows the same, the
``flext.pipeline.dropped`` metric counts them (``signal="api"``,
``exporter="<call>"``, ``reason="invalid"``), and the first failure
of each error code is logged once at WARNING. A successful call pays nothing
for this.

The module functions are bound to one default
:class:`FlextObservabilityMasterFactory`, which follows whichever pipeline is
current at call time: a test's ``capture()``, else the one installed by
:func:`configure`, else the embedded default.

>>> from flext_otel.testing import capture
>>> with capture() as cap:
...     metric("orders_total", 2, tags={"region": "eu"}).is_success
...     [(p.name, p.value) for p in cap.metrics("orders_total")]
True
[('orders_total', 2)]
>>> metric("my metric", 1).error_code
'INVALID_NAME'
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from flext_otel.domain.entities import (
    AttributeValue,
    FlextAlert,
    FlextHealthCheck,
    FlextLogEntry,
    FlextMetric,
    FlextTrace,
    flext_create_alert,
    flext_create_health_check,
    flext_create_log_entry,
    flext_create_metric,
    flext_create_trace,
)
from flext_otel.domain.result import FlextResult
from flext_otel.instrument.adapters import AlertAdapter, LogAdapter, MetricAdapter, TraceAdapter
from flext_otel.pipeline import state as providers
from flext_otel.pipeline.sdk import (
    FlextOtel,
)

__all__ = [
    "FlextObservabilityMasterFactory",
    "alert",
    "configure",
    "flext_create_alert",
    "flext_create_health_check",
    "flext_create_log_entry",
    "flext_create_metric",
    "flext_create_trace",
    "get_global_factory",
    "health_check",
    "log",
    "metric",
    "reset_global_factory",
    "trace",
]

_logger = logging.getLogger("flext_otel")

#: Instrumentation scope of everything the simple API records.
SCOPE = "flext_otel"
DEFAULT_PROMETHEUS_PORT = 9464


def _unexpected(what: str, exc: BaseException) -> FlextResult[Any]:
    return FlextResult.fail(
        f"recording the {what} failed: {type(exc).__name__}", error_code="RECORD_FAILED"
    )


class _Adapters:
    """The adapters bound to one :class:`FlextOtel` (its tracer, meter and logger)."""

    __slots__ = ("alerts", "generation", "logs", "metrics", "otel", "scrub", "traces")

    def __init__(self, otel: FlextOtel) -> None:
        # a forked child reassembles the pipeline in place and bumps the generation
        self.generation = providers._state.generation
        meter = otel.meter_provider.get_meter(SCOPE)
        logger = otel.logger_provider.get_logger(SCOPE)
        self.otel: weakref.ref[FlextOtel] = weakref.ref(otel)
        self.metrics = MetricAdapter(meter, otel.metric_reader)
        self.traces = TraceAdapter(otel.tracer_provider.get_tracer(SCOPE))
        self.logs = LogAdapter(logger)
        self.alerts = AlertAdapter(logger, meter, otel.store)
        # measurement attributes never pass a span/log scrubber: the guardrails scrub them here
        self.scrub = otel.guardrails.scrub_attributes


_E = TypeVar("_E", FlextAlert, FlextHealthCheck)
_T = TypeVar("_T")


def _scrubbed(entity: _E, otel: FlextOtel | None, texts: tuple[str, ...], mapping: str) -> _E:
    """``entity`` with secrets in its free text and attributes redacted by ``otel``'s
    guardrails (alerts and health results are kept in the store and served on
    ``/health``, so they pass the same scrubbing as spans and logs)."""
    if otel is None:
        return entity
    guards = otel.guardrails
    changes: dict[str, Any] = {}
    for name in texts:
        text = getattr(entity, name)
        clean = guards.scrub_text(text)
        if clean is not text:
            changes[name] = clean
    attributes = getattr(entity, mapping)
    clean_attributes, keys = guards.scrub_attributes(attributes)
    if keys:
        changes[mapping] = clean_attributes
    return dataclasses.replace(entity, **changes) if changes else entity


class FlextObservabilityMasterFactory:
    """Builds, validates and records FLEXT entities through one pipeline.

    ``otel`` fixes the pipeline; without it the current one
    (``flext_otel.providers.current()``) is looked up at every call, so test
    captures and reconfiguration are followed. Adapters are created once per
    pipeline and cached (the cache does not keep a pipeline alive). Health
    checks go through the pipeline's own registry (``otel.health_adapter``),
    which also feeds ``FlextOtel.health()`` and ``/health``.

    Every method returns a :class:`FlextResult` and never raises.

    >>> from flext_otel.testing import capture
    >>> with capture() as cap:
    ...     factory = FlextObservabilityMasterFactory(cap.otel)
    ...     _ = factory.health_check("db", "healthy")
    ...     factory.health_status().value["status"]
    'healthy'
    """

    __slots__ = ("_by_otel", "_last", "_lock", "_otel")

    def __init__(self, otel: FlextOtel | None = None) -> None:
        self._otel = otel
        self._lock = threading.Lock()
        self._by_otel: weakref.WeakKeyDictionary[FlextOtel, _Adapters] = weakref.WeakKeyDictionary()
        self._last: _Adapters | None = None

    @property
    def otel(self) -> FlextOtel:
        """The pipeline records go to right now."""
        return self._otel if self._otel is not None else providers.current()

    def _failed(self, call: str, result: FlextResult[_T]) -> FlextResult[_T]:
        """Count a failed ``call`` under ``api:<call>`` of the pipeline it was meant
        for (cause: its error code) and return it; logs the first of each code."""
        try:
            otel = self._otel if self._otel is not None else providers.current()
            error = result.error or ""
            otel.failures.record(
                f"api:{call}", result.error_code or "FAILED", otel.guardrails.scrub_text(error)
            )
        except Exception:  # counting a failure must never become one
            _logger.debug("counting a failed %s call failed", call, exc_info=True)
        return result

    def _adapters(self) -> _Adapters:
        otel = self._otel if self._otel is not None else providers.current()
        last = self._last
        generation = providers._state.generation
        if last is not None and last.otel() is otel and last.generation == generation:
            return last
        with self._lock:
            adapters = self._by_otel.get(otel)
            if adapters is None or adapters.generation != generation:
                adapters = _Adapters(otel)
                self._by_otel[otel] = adapters
            self._last = adapters
            return adapters

    # -- recording ----------------------------------------------------------
    def metric(
        self,
        name: str,
        value: float,
        *,
        unit: str = "",
        tags: Mapping[str, AttributeValue] | None = None,
        metric_type: str | None = None,
    ) -> FlextResult[FlextMetric]:
        """Record one measurement (see :class:`~flext_otel.adapters.MetricAdapter`)."""
        try:
            built = flext_create_metric(name, value, unit=unit, tags=tags, metric_type=metric_type)
            if built.is_failure:
                return self._failed("metric", built)
            adapters = self._adapters()
            entity: FlextMetric = built.value  # type: ignore[assignment]
            if adapters.metrics.record_bound(entity):  # a known-clean, pre-bound tag set
                return built
            if entity.tags:
                clean, scrubbed = adapters.scrub(entity.tags)
                if scrubbed and clean is not None:
                    entity = dataclasses.replace(entity, tags=clean)
                    built = FlextResult.ok(entity)
            failed = adapters.metrics.record_valid(entity)
            return built if failed is None else self._failed("metric", failed)
        except Exception as exc:
            return self._failed("metric", _unexpected("metric", exc))

    def log(
        self,
        message: str,
        level: str = "info",
        *,
        context: Mapping[str, AttributeValue] | None = None,
    ) -> FlextResult[FlextLogEntry]:
        """Emit an OTel log record (see :class:`~flext_otel.adapters.LogAdapter`)."""
        try:
            built = flext_create_log_entry(message, level, context=context)
            if built.is_failure:
                return self._failed("log", built)
            result = self._adapters().logs.record(built.unwrap())
            return result if result.is_success else self._failed("log", result)
        except Exception as exc:
            return self._failed("log", _unexpected("log entry", exc))

    def alert(
        self,
        title: str,
        message: str,
        severity: str = "low",
        *,
        status: str = "active",
        tags: Mapping[str, AttributeValue] | None = None,
    ) -> FlextResult[FlextAlert]:
        """Raise an alert (see :class:`~flext_otel.adapters.AlertAdapter`)."""
        try:
            built = flext_create_alert(title, message, severity, status=status, tags=tags)
            if built.is_failure:
                return self._failed("alert", built)
            adapters = self._adapters()
            alert = _scrubbed(built.unwrap(), adapters.otel(), ("title", "message"), "tags")
            result = adapters.alerts.record(alert)
            return result if result.is_success else self._failed("alert", result)
        except Exception as exc:
            return self._failed("alert", _unexpected("alert", exc))

    def trace(
        self,
        operation: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        duration_ms: float | None = None,
        status: str = "unset",
        trace_id: str | None = None,
        parent_span_id: str | None = None,
    ) -> FlextResult[FlextTrace]:
        """Record a finished operation as a span (see
        :class:`~flext_otel.adapters.TraceAdapter`); the result carries the SDK's IDs."""
        try:
            built = flext_create_trace(
                operation,
                attributes=attributes,
                start_time=start_time,
                end_time=end_time,
                duration_ms=duration_ms,
                status=status,
                trace_id=trace_id,
                parent_span_id=parent_span_id,
            )
            if built.is_failure:
                return self._failed("trace", built)
            result = self._adapters().traces.record(built.unwrap())
            return result if result.is_success else self._failed("trace", result)
        except Exception as exc:
            return self._failed("trace", _unexpected("trace", exc))

    def health_check(
        self,
        component: str,
        status: str = "unknown",
        *,
        message: str = "",
        details: Mapping[str, AttributeValue] | None = None,
    ) -> FlextResult[FlextHealthCheck]:
        """Record a component's health in the pipeline's registry (see
        :class:`~flext_otel.adapters.HealthAdapter`)."""
        try:
            built = flext_create_health_check(component, status, message=message, details=details)
            if built.is_failure:
                return self._failed("health_check", built)
            otel = self.otel
            check = _scrubbed(built.unwrap(), otel, ("message",), "details")
            result: FlextResult[FlextHealthCheck] = otel.health_adapter.record(check)
            return result if result.is_success else self._failed("health_check", result)
        except Exception as exc:
            return self._failed("health_check", _unexpected("health check", exc))

    def health_status(self) -> FlextResult[dict[str, Any]]:
        """``{"status": overall, "components": {component: {"status", "message",
        "checked_at"}}}``; ``"unknown"`` when nothing was checked."""
        try:
            registry = self.otel.health_adapter
            return FlextResult.ok(
                {"status": registry.overall(), "components": registry.components()}
            )
        except Exception as exc:
            return _unexpected("health status", exc)


# -- the default factory and the module functions ------------------------------
_default: FlextObservabilityMasterFactory | None = None
_default_lock = threading.Lock()


def get_global_factory() -> FlextObservabilityMasterFactory:
    """The default factory behind the module functions (created on first use)."""
    global _default
    factory = _default
    if factory is None:
        with _default_lock:
            if _default is None:
                _default = FlextObservabilityMasterFactory()
            factory = _default
    return factory


def reset_global_factory() -> None:
    """Forget the default factory (and its cached adapters); the next call makes a new one."""
    global _default
    with _default_lock:
        _default = None


def metric(
    name: str,
    value: float,
    *,
    unit: str = "",
    tags: Mapping[str, AttributeValue] | None = None,
    metric_type: str | None = None,
) -> FlextResult[FlextMetric]:
    """Build, validate and record a metric (counter, up_down_counter, histogram, gauge).

    An omitted ``metric_type`` is inferred: ``_total``/``_count`` or a count
    unit -> counter, ``_seconds``/``_duration``/``_time`` -> histogram, else gauge.
    """
    return (_default or get_global_factory()).metric(
        name, value, unit=unit, tags=tags, metric_type=metric_type
    )


def log(
    message: str, level: str = "info", *, context: Mapping[str, AttributeValue] | None = None
) -> FlextResult[FlextLogEntry]:
    """Build, validate and emit a log record (trace, debug, info, warning, error, critical)."""
    return (_default or get_global_factory()).log(message, level, context=context)


def alert(
    title: str,
    message: str,
    severity: str = "low",
    *,
    status: str = "active",
    tags: Mapping[str, AttributeValue] | None = None,
) -> FlextResult[FlextAlert]:
    """Build, validate and raise an alert (low, medium, high, critical, emergency)."""
    return (_default or get_global_factory()).alert(
        title, message, severity, status=status, tags=tags
    )


def trace(
    operation: str,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    duration_ms: float | None = None,
    status: str = "unset",
    trace_id: str | None = None,
    parent_span_id: str | None = None,
) -> FlextResult[FlextTrace]:
    """Build, validate and record a finished operation as a span."""
    return (_default or get_global_factory()).trace(
        operation,
        attributes=attributes,
        start_time=start_time,
        end_time=end_time,
        duration_ms=duration_ms,
        status=status,
        trace_id=trace_id,
        parent_span_id=parent_span_id,
    )


def health_check(
    component: str,
    status: str = "unknown",
    *,
    message: str = "",
    details: Mapping[str, AttributeValue] | None = None,
) -> FlextResult[FlextHealthCheck]:
    """Build, validate and record a component's health (healthy, degraded, unhealthy,
    unknown)."""
    return (_default or get_global_factory()).health_check(
        component, status, message=message, details=details
    )


# -- configure -----------------------------------------------------------------
_served: weakref.WeakKeyDictionary[FlextOtel, Any] = weakref.WeakKeyDictionary()
_serve_lock = threading.Lock()
_logging_installed = False


def configure(**options: Any) -> FlextOtel:
    """Install tracer, meter and logger providers once, at startup; returns the handle.

    :func:`flext_otel.providers.configure` plus the optional extras the
    options ask for:

    * the ``/metrics`` ``/health`` ``/ready`` server (``flext_otel.web.server``) on
      ``prometheus_host:prometheus_port`` (port 9464 by default) when
      ``metrics_exporter`` includes ``prometheus`` or a ``prometheus_port`` is
      given; it is closed when the pipeline shuts down;
    * a :class:`~flext_otel.logs.FlextLoggingHandler` on the root logger at
      ``logging_level`` when ``logging`` is true (removed again by a later
      ``configure(logging=False)``).

    Idempotent like the underlying ``configure``: the same options return the
    same handle and start nothing twice. A bad option raises ``ConfigError``.
    """
    otel = providers.configure(**options)
    _serve_metrics(otel)
    _install_logging(otel)
    return otel


def _serve_metrics(otel: FlextOtel) -> None:
    opts = otel.options
    if "prometheus" not in opts.metrics_exporter and opts.prometheus_port is None:
        return
    try:  # looked up at run time: the HTTP endpoints are an optional part
        http: Any = importlib.import_module("flext_otel.web.server")
    except ImportError:
        return
    serve = getattr(http, "serve_http", None)
    if serve is None:
        return
    with _serve_lock:
        if otel in _served or otel.is_shutdown:
            return
        port = opts.prometheus_port if opts.prometheus_port is not None else DEFAULT_PROMETHEUS_PORT
        try:
            handle = serve(otel, host=opts.prometheus_host, port=port)
        except OSError as exc:  # telemetry must not stop the application from starting
            warn = getattr(http, "warn_port_conflict", None)
            if warn is not None:  # names the process serving the port, and the fix
                warn(opts.prometheus_host, port, exc)
            else:
                _logger.warning("flext-otel could not serve /metrics on %s:%s: %s",
                                opts.prometheus_host, port, exc)  # fmt: skip
            return
        _served[otel] = handle
    otel.add_closer(handle.close)


def _install_logging(otel: FlextOtel) -> None:
    global _logging_installed
    from flext_otel.instrument import logbridge as logs

    if otel.options.logging:
        level = logging.getLevelName(otel.options.logging_level.upper())
        logs.install_logging_handler(level=level if isinstance(level, int) else logging.INFO)
        _logging_installed = True
    elif _logging_installed:
        logs.uninstall_logging_handler()
        _logging_installed = False
