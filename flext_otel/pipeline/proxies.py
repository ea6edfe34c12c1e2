"""Proxy tracer, meter and logger providers that follow the current pipeline.

``configure()`` installs these once as the OTel globals. Each proxy resolves the
real tracer, instrument or logger on the current :class:`~flext_otel.pipeline.sdk.FlextOtel`
and caches it until :data:`SWITCH` says the current pipeline changed (a new
``configure()``, a test ``capture()``), so objects obtained before a
reconfiguration follow it. No OTel private attribute is touched.

Imports: the OTel API only (``pipeline.state`` wires :data:`SWITCH` to itself).

Threading: proxies are shared by every thread. A proxy caches one immutable
``(generation, real object)`` pair, read and replaced as a whole, and reads the
generation *before* resolving: a switch that lands while a thread resolves
leaves that thread's pair one generation behind, so the next call resolves
again -- a stale object is never cached under the new generation. The switch
side (``pipeline.state``) sets the new current pipeline before it bumps the
generation. Resolution never holds a lock; two threads may resolve the same
generation at once, and either result is right.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api

from flext_otel.support.otel_private import logs_api

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import CallbackT
    from opentelemetry.trace import Span
    from opentelemetry.util.types import Attributes

_logger = logging.getLogger("flext_otel")


class Switch:
    """Where the proxies forward to: ``current()`` and a generation that changes with it."""

    __slots__ = ("current", "generation")

    def __init__(self) -> None:
        self.generation = 0
        self.current: Callable[[], Any] = _unset

    def changed(self) -> None:
        """The current pipeline changed: proxies re-resolve, observables re-register."""
        self.generation += 1
        rebind_observables()


def _unset() -> Any:
    raise RuntimeError("flext_otel.pipeline.sdk wires the proxies' switch on import")


SWITCH = Switch()
_OBSERVABLES_LOCK = threading.Lock()


class ProxyTracerProvider(trace_api.TracerProvider):
    """Global tracer provider that forwards to the current :class:`FlextOtel`."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> trace_api.Tracer:
        """A tracer that follows reconfiguration and test captures."""
        return _ProxyTracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _ProxyTracer(trace_api.Tracer):
    __slots__ = ("_args", "_bound")

    def __init__(self, *args: Any) -> None:
        self._args = args
        self._bound: tuple[int, trace_api.Tracer] = (-1, trace_api.NoOpTracer())

    def _real(self) -> trace_api.Tracer:
        bound = self._bound
        generation = SWITCH.generation
        if bound[0] != generation:  # read before resolving: see the module docs
            bound = (generation, SWITCH.current().tracer_provider.get_tracer(*self._args))
            self._bound = bound
        return bound[1]

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._real().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_as_current_span(*args, **kwargs)


PROXY_TRACER_PROVIDER = ProxyTracerProvider()


class ProxyLoggerProvider(logs_api.LoggerProvider):
    """Global logger provider that forwards to the current :class:`FlextOtel`."""

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> logs_api.Logger:
        """A logger that follows reconfiguration and test captures."""
        return _ProxyLogger(name, version, schema_url, attributes)


class _ProxyLogger(logs_api.Logger):
    def __init__(
        self, name: str, version: str | None, schema_url: str | None, attributes: Attributes | None
    ) -> None:
        super().__init__(name, version, schema_url, attributes)
        self._args = (name, version, schema_url, attributes)
        self._bound: tuple[int, logs_api.Logger] = (-1, logs_api.NoOpLogger(name))

    def _real(self) -> logs_api.Logger:
        bound = self._bound
        generation = SWITCH.generation
        if bound[0] != generation:  # read before resolving: see the module docs
            bound = (generation, SWITCH.current().logger_provider.get_logger(*self._args))
            self._bound = bound
        return bound[1]

    def emit(self, record: Any = None, **kwargs: Any) -> None:
        self._real().emit(record, **kwargs)

    def enabled(self, **kwargs: Any) -> bool:
        return self._real().enabled(**kwargs)


PROXY_LOGGER_PROVIDER = ProxyLoggerProvider()


class ProxyMeterProvider(metrics_api.MeterProvider):
    """Global meter provider that forwards to the current :class:`FlextOtel`."""

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> metrics_api.Meter:
        """A meter whose instruments follow reconfiguration and test captures."""
        return _ProxyMeter(name, version, schema_url, attributes)


class _ProxyInstrument:
    """Resolves the real instrument on the current meter provider, per generation."""

    def __init__(
        self, meter: _ProxyMeter, factory: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._meter = meter
        self._factory = factory
        self._args = args
        self._kwargs = kwargs
        self._bound: tuple[int, Any] = (-1, None)

    def _instrument(self) -> Any:
        bound = self._bound
        generation = SWITCH.generation
        if bound[0] != generation:  # read before resolving: see the module docs
            # the meter reads the generation after this one did: it is at least as new
            meter = self._meter.real()
            bound = (generation, getattr(meter, self._factory)(*self._args, **self._kwargs))
            self._bound = bound
        return bound[1]


class _ProxyCounter(_ProxyInstrument, metrics_api.Counter):
    def add(
        self, amount: int | float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._instrument().add(amount, attributes, context)


class _ProxyUpDownCounter(_ProxyInstrument, metrics_api.UpDownCounter):
    def add(
        self, amount: int | float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._instrument().add(amount, attributes, context)


class _ProxyHistogram(_ProxyInstrument, metrics_api.Histogram):
    def record(
        self, amount: int | float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._instrument().record(amount, attributes, context)


class _ProxyGauge(_ProxyInstrument):
    def set(
        self, amount: int | float, attributes: Attributes = None, context: Context | None = None
    ) -> None:
        self._instrument().set(amount, attributes, context)


# Strong references: like the SDK's meters, the proxies keep observables alive
# (callers rarely hold on to an observable instrument).
_OBSERVABLES: list[_ProxyObservable] = []


class _ProxyObservable(_ProxyInstrument):
    """Observable instruments are re-created on every new current pipeline."""

    def bind(self) -> None:
        try:
            self._instrument()
        except Exception:  # a pipeline without metrics: nothing to observe
            _logger.debug("binding observable %s failed", self._args, exc_info=True)


class _ProxyObservableCounter(_ProxyObservable, metrics_api.ObservableCounter):
    pass


class _ProxyObservableUpDownCounter(_ProxyObservable, metrics_api.ObservableUpDownCounter):
    pass


class _ProxyObservableGauge(_ProxyObservable, metrics_api.ObservableGauge):
    pass


def rebind_observables() -> None:
    """Re-create every observable instrument on the (new) current pipeline."""
    for observable in tuple(_OBSERVABLES):
        observable.bind()


class _ProxyMeter(metrics_api.Meter):
    def __init__(
        self, name: str, version: str | None, schema_url: str | None, attributes: Attributes | None
    ) -> None:
        super().__init__(name, version, schema_url)
        self._meter_args = (name, version, schema_url, attributes)
        self._bound: tuple[int, metrics_api.Meter] = (-1, metrics_api.NoOpMeter(name))

    def real(self) -> metrics_api.Meter:
        """The real meter of the current pipeline (resolved once per generation)."""
        bound = self._bound
        generation = SWITCH.generation
        if bound[0] != generation:  # read before resolving: see the module docs
            bound = (generation, SWITCH.current().meter_provider.get_meter(*self._meter_args))
            self._bound = bound
        return bound[1]

    def _sync(
        self,
        cls: type[_ProxyInstrument],
        factory: str,
        name: str,
        unit: str,
        description: str,
        **kwargs: Any,
    ) -> Any:
        return cls(self, factory, (name, unit, description), kwargs)

    def _observable(
        self,
        cls: type[_ProxyObservable],
        factory: str,
        name: str,
        callbacks: Sequence[CallbackT] | None,
        unit: str,
        description: str,
    ) -> Any:
        proxy = cls(self, factory, (name, callbacks, unit, description), {})
        with _OBSERVABLES_LOCK:
            _OBSERVABLES.append(proxy)
        proxy.bind()
        return proxy

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync(_ProxyCounter, "create_counter", name, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync(_ProxyUpDownCounter, "create_up_down_counter", name, unit, description)

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if explicit_bucket_boundaries_advisory is not None:
            kwargs["explicit_bucket_boundaries_advisory"] = explicit_bucket_boundaries_advisory
        return self._sync(_ProxyHistogram, "create_histogram", name, unit, description, **kwargs)

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        return self._sync(_ProxyGauge, "create_gauge", name, unit, description)

    def create_observable_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable(
            _ProxyObservableCounter, "create_observable_counter", name, callbacks, unit, description
        )

    def create_observable_up_down_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable(
            _ProxyObservableUpDownCounter,
            "create_observable_up_down_counter",
            name,
            callbacks,
            unit,
            description,
        )

    def create_observable_gauge(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> Any:
        return self._observable(
            _ProxyObservableGauge, "create_observable_gauge", name, callbacks, unit, description
        )


PROXY_METER_PROVIDER = ProxyMeterProvider()

__all__ = [
    "PROXY_LOGGER_PROVIDER",
    "PROXY_METER_PROVIDER",
    "PROXY_TRACER_PROVIDER",
    "SWITCH",
    "ProxyLoggerProvider",
    "ProxyMeterProvider",
    "ProxyTracerProvider",
    "Switch",
    "rebind_observables",
]
