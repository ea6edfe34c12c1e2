"""Every private OpenTelemetry SDK name flext-otel uses, in this one module.

Each name below carries a note naming the public API it waits for; when that
API ships, the name moves out of here and its users do not change. Everything
here degrades instead of breaking: a hook that cannot find the SDK structure it
expects returns ``None`` (or installs nothing) and the caller keeps the public
path, so a new SDK version costs speed, never correctness.

Imports: the OpenTelemetry SDK (and, lazily, the Prometheus exporter).

Threading: :func:`bound_aggregation` reads SDK dictionaries that the SDK only
ever grows under its own locks; the hooks installed by
:func:`install_measurement_hook` run on whatever thread records or collects, and
never raise (a failing transform keeps the measurement as it was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Waits for: a stable logs API (``opentelemetry.logs``); ``opentelemetry._logs`` is the
# logs signal's only home while the logs API is in development.
from opentelemetry import _logs as logs_api
from opentelemetry._logs import Logger, LogRecord, SeverityNumber, get_logger_provider
from opentelemetry._logs import LoggerProvider as ApiLoggerProvider

# Waits for: a public "suppress instrumentation" flag in ``opentelemetry.context``; the
# SDK's exporters set this key while they run, and flext's do the same.
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY

# Waits for: a stable logs SDK (``opentelemetry.sdk.logs``).
from opentelemetry.sdk._logs import (
    LoggerProvider,
    LogRecordLimits,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)
from opentelemetry.sdk._logs.export import (
    ConsoleLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)

# Waits for: a public class for the synchronous gauge (the SDK exports ``_Gauge``;
# ``opentelemetry.sdk.metrics.Gauge`` is its abstract base, never instantiated).
from opentelemetry.sdk.metrics import _Gauge as SdkGauge

# Waits for: a public Measurement type in the SDK (the spec's MeasurementProcessor
# proposal would give one to measurement hooks).
from opentelemetry.sdk.metrics._internal.measurement import Measurement
from opentelemetry.sdk.metrics.export import AggregationTemporality
from opentelemetry.sdk.metrics.view import DefaultAggregation

_logger = logging.getLogger("flext_otel")

__all__ = [
    "FAST_PATH_LIMIT",
    "SUPPRESS_INSTRUMENTATION_KEY",
    "ApiLoggerProvider",
    "ConsoleLogRecordExporter",
    "LightMeasurement",
    "LogRecord",
    "LogRecordExportResult",
    "LogRecordExporter",
    "LogRecordLimits",
    "LogRecordProcessor",
    "Logger",
    "LoggerProvider",
    "Measurement",
    "ReadWriteLogRecord",
    "ReadableLogRecord",
    "SdkGauge",
    "SeverityNumber",
    "SimpleLogRecordProcessor",
    "bound_aggregation",
    "create_default_aggregation",
    "exemplar_filter_of",
    "get_logger_provider",
    "histogram_boundaries",
    "install_measurement_hook",
    "logs_api",
    "prometheus_translator",
]

_DEFAULT = DefaultAggregation()


def create_default_aggregation(
    instrument: Any, attributes: Any, reservoir_factory: Any, start_time_unix_nano: int
) -> Any:
    """The SDK's default aggregation object for one attribute set of ``instrument``.

    Waits for: a public per-attribute-set aggregation factory
    (``Aggregation._create_aggregation`` is the SDK's private extension point).
    """
    return _DEFAULT._create_aggregation(
        instrument, attributes, reservoir_factory, start_time_unix_nano
    )


class LightMeasurement:
    """A measurement for an aggregation that was bound ahead of time.

    Duck-types the SDK's ``Measurement`` (the fields an aggregation and its
    exemplar reservoir read) without re-validating attributes that were checked
    once at bind time. Waits for: bound instruments in the SDK (none exist yet).
    """

    __slots__ = ("attributes", "context", "instrument", "time_unix_nano", "value")

    def __init__(
        self, value: float, time_unix_nano: int, instrument: Any, context: Any, attributes: Any
    ) -> None:
        self.value = value
        self.time_unix_nano = time_unix_nano
        self.instrument = instrument
        self.context = context
        self.attributes = attributes


def _hash_attributes(attributes: Mapping[str, Any]) -> Any:
    # Waits for: a public attribute-set key (the SDK's aggregation key function).
    from opentelemetry.sdk.metrics._internal._view_instrument_match import (
        _hash_attributes as sdk_hash,
    )

    return sdk_hash(dict(attributes))


def bound_aggregation(
    instrument: Any, reader: Any, attributes: Mapping[str, Any], kind: str | None
) -> Any:
    """The aggregation ``reader`` keeps for ``attributes`` of ``instrument``, or None.

    ``kind`` is ``"sum"`` or ``"histogram"`` (explicit buckets): an aggregation of
    another class (a view changed it, the overflow counter wraps it) is not bound;
    ``None`` accepts any class (for callers that pass real SDK measurements).

    Only a cumulative stream with exactly one view whose aggregation already
    exists (the attribute set was recorded once through the public API, and was
    not folded into the overflow series) is bound; anything else returns None
    and the caller keeps calling the instrument. Waits for: bound instruments
    (``counter.bind(attributes)``), which the OTel spec dropped and may revive.
    """
    try:
        consumer = instrument._measurement_consumer
        storage = getattr(consumer, "inner", consumer)._reader_storages[reader]
        matches = storage._instrument_view_instrument_matches.get(instrument)
        if not matches or len(matches) != 1:
            return None
        match = matches[0]
        reset = getattr(match, "_reset_on_collect", None)
        if reset is None:  # opentelemetry-sdk 1.45.1: read the reader's temporality
            reset = any(
                temporality is not AggregationTemporality.CUMULATIVE
                for temporality in reader._instrument_class_temporality.values()
            )
        if reset or match._view._attribute_keys is not None:
            return None
        aggregation = match._attributes_aggregation.get(_hash_attributes(attributes))
    except Exception:  # another SDK layout: stay on the public path
        return None
    if kind is None or isinstance(aggregation, _aggregation_classes()[kind]):
        return aggregation
    return None


def exemplar_filter_of(instrument: Any) -> Any:
    """The exemplar filter of the provider that made ``instrument`` (None if unknown).

    Waits for: a public accessor for the MeterProvider's exemplar filter.
    """
    try:
        consumer = instrument._measurement_consumer
        return getattr(consumer, "inner", consumer)._sdk_config.exemplar_filter
    except Exception:
        return None


def histogram_boundaries(aggregation: Any) -> tuple[float, ...] | None:
    """The bucket boundaries of an explicit-bucket histogram aggregation, or None.

    Waits for: bound instruments (the boundaries live on the private aggregation).
    """
    bounds = getattr(aggregation, "_boundaries", None)
    return tuple(bounds) if isinstance(bounds, tuple) else None


def _aggregation_classes() -> dict[str, type]:
    # Waits for: bound instruments (the SDK's aggregation classes are private).
    from opentelemetry.sdk.metrics._internal.aggregation import (
        _ExplicitBucketHistogramAggregation,
        _SumAggregation,
    )

    return {"sum": _SumAggregation, "histogram": _ExplicitBucketHistogramAggregation}


# -- measurement hook ------------------------------------------------------------

MeasurementTransform = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def _transformed(measurement: Any, transform: MeasurementTransform) -> Any:
    """``measurement`` with its attributes passed through ``transform`` (never raises)."""
    attributes = measurement.attributes
    if not attributes:
        return measurement
    try:
        clean = transform(attributes)
    except Exception:  # never raise into the caller: keep it as recorded
        _logger.debug("measurement transform failed", exc_info=True)
        return measurement
    if clean is attributes:
        return measurement
    return Measurement(
        measurement.value,
        measurement.time_unix_nano,
        measurement.instrument,
        measurement.context,
        clean,
    )


MeasurementFold = Callable[[Any, Any], Any]
"""``(instrument, attributes) -> attributes``: the same object when unchanged."""


def _folded(measurement: Any, fold: MeasurementFold) -> Any:
    """``measurement`` with its attributes passed through ``fold`` (never raises)."""
    try:
        attributes = fold(measurement.instrument, measurement.attributes)
    except Exception:  # never raise into the caller: keep it as recorded
        _logger.debug("measurement fold failed", exc_info=True)
        return measurement
    if attributes is measurement.attributes:
        return measurement
    return Measurement(
        measurement.value,
        measurement.time_unix_nano,
        measurement.instrument,
        measurement.context,
        attributes,
    )


_MISSING = object()
FAST_PATH_LIMIT = 10_000
"""Attribute sets per provider whose aggregation the hooked consumer remembers."""


class _HookedConsumer:
    """Wraps the SDK's measurement consumer.

    * Scrubbing: every measurement's attributes pass ``transform`` before any reader
      aggregates them (synchronous instruments here, observable callbacks through
      :class:`_HookedObservable`); ``is_clean`` is the cheap check run first.
    * One reader, one lookup: with a single reader storage, an (instrument,
      attribute set) seen before goes straight to the aggregation the SDK created
      for it, with the SDK's own exemplar decision, skipping the scrubbing check
      (the set was clean the first time, and the rules do not change), the storage
      and view lookups, the attribute copy and the sorted attribute hash. The first
      measurement of a set, a set that needed scrubbing and any set that cannot be
      bound (overflow, views, delta) take the SDK's path.
    """

    __slots__ = (
        "_consume",
        "_fast",
        "_filter",
        "_reader",
        "fold",
        "inner",
        "is_clean",
        "transform",
    )

    def __init__(
        self,
        inner: Any,
        transform: MeasurementTransform | None,
        is_clean: Callable[[Any], bool] | None,
        reader: Any,
        fold: MeasurementFold | None = None,
    ) -> None:
        self.inner = inner
        self.transform = transform
        self.is_clean = is_clean
        self.fold = fold
        self._consume = inner.consume_measurement
        self._reader = reader
        self._filter: Any = getattr(getattr(inner, "_sdk_config", None), "exemplar_filter", None)
        single = len(getattr(inner, "_reader_storages", ())) == 1
        usable = reader is not None and single and self._filter is not None
        self._fast: dict[Any, Any] | None = {} if usable else None

    def consume_measurement(self, measurement: Any) -> None:
        attributes = measurement.attributes
        fast = self._fast
        key: Any = None
        aggregation: Any = None
        if fast is not None:
            try:
                key = (
                    (measurement.instrument, *attributes.items())
                    if attributes
                    else (measurement.instrument,)
                )
                aggregation = fast.get(key, _MISSING)
            except TypeError:  # an unhashable value: the SDK's path, every time
                key = None
            if aggregation is not None and aggregation is not _MISSING:
                # a set seen before, found clean then (the scrubber's verdict is fixed)
                sample = self._filter.should_sample(
                    measurement.value, measurement.time_unix_nano, attributes, measurement.context
                )
                aggregation.aggregate(measurement, sample)
                return
        changed = False
        if attributes and self.is_clean is not None and not self.is_clean(attributes):
            scrubbed = _transformed(measurement, self.transform)  # type: ignore[arg-type]
            changed = scrubbed is not measurement
            measurement = scrubbed
        if self.fold is not None:  # cardinality limits on an SDK without them
            folded = _folded(measurement, self.fold)
            changed = changed or folded is not measurement
            measurement = folded
        self._consume(measurement)
        learn = key is not None and aggregation is _MISSING
        if learn and fast is not None and len(fast) < FAST_PATH_LIMIT:
            fast[key] = None if changed else self._bind(measurement.instrument, attributes)

    def _bind(self, instrument: Any, attributes: Any) -> Any:
        return bound_aggregation(instrument, self._reader, attributes or {}, None)

    def register_asynchronous_instrument(self, instrument: Any) -> None:
        if self.transform is None and self.fold is None:
            self.inner.register_asynchronous_instrument(instrument)
            return
        self.inner.register_asynchronous_instrument(
            _HookedObservable(instrument, self.transform, self.fold)
        )

    def __getattr__(self, name: str) -> Any:  # collect, add/remove_metric_reader, ...
        return getattr(self.inner, name)


class _HookedObservable:
    """An observable instrument whose callbacks' observations pass the transform."""

    __slots__ = ("_fold", "_inner", "_transform")

    def __init__(
        self,
        inner: Any,
        transform: MeasurementTransform | None,
        fold: MeasurementFold | None = None,
    ) -> None:
        self._inner = inner
        self._transform = transform
        self._fold = fold

    def callback(self, callback_options: Any) -> Iterable[Any]:
        measured = list(self._inner.callback(callback_options))
        transform = self._transform
        if transform is not None:
            measured = [_transformed(m, transform) for m in measured]
        fold = self._fold
        return measured if fold is None else [_folded(m, fold) for m in measured]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_measurement_hook(
    provider: Any,
    transform: MeasurementTransform | None,
    is_clean: Callable[[Any], bool] | None,
    reader: Any = None,
    fold: MeasurementFold | None = None,
) -> bool:
    """Put flext's consumer between every instrument of ``provider`` and its readers.

    ``transform`` (when given) rewrites every measurement's attributes before
    aggregation (synchronous measurements only when ``is_clean(attributes)`` is
    False); with ``reader`` the provider's only reader, repeated attribute sets go
    straight to their aggregation (see :class:`_HookedConsumer`). Call it right
    after building the ``MeterProvider`` (meters take the consumer when they are
    created). Returns False when the SDK has no consumer to wrap.
    Waits for: the spec's MeasurementProcessor (open-telemetry/opentelemetry-specification
    #4298), a public hook between an instrument and the readers' aggregations.
    """
    inner = getattr(provider, "_measurement_consumer", None)
    if inner is None or not hasattr(inner, "consume_measurement"):
        return False
    provider._measurement_consumer = _HookedConsumer(inner, transform, is_clean, reader, fold)
    return True


# -- Prometheus translation -------------------------------------------------------


def prometheus_translator(**options: Any) -> Any:
    """The Prometheus exporter's OTel-to-Prometheus translator (names, units, labels).

    An object with ``add_metrics_data(data)`` and ``collect()``; flext feeds it
    the one shared reader's snapshot per scrape. ``options`` are the exporter's
    (``disable_target_info``, ``resource_attribute_filter``, ``prefix``, ...).
    Waits for: a public translation function in ``opentelemetry-exporter-prometheus``
    (its ``_CustomCollector`` is the only way to reuse the exporter's naming rules
    without its reader).
    """
    from opentelemetry.exporter.prometheus import _CustomCollector

    return _CustomCollector(**options)
