"""``MetricAdapter``: record validated :class:`FlextMetric` values on one ``Meter``.

One instrument per ``(name, metric_type, unit)``; counters and up-down counters
whose tag set repeats are added to their pre-bound SDK aggregation
(:mod:`flext_otel.instrument.bound`). Re-exported by
:mod:`flext_otel.instrument.adapters`.

Imports: ``instrument.bound``, ``domain``; the OpenTelemetry API.

Threading: may be shared between threads; instrument creation takes a short
lock, recording is lock-free here (the SDK locks its aggregations). Errors: a
failure inside OTel is a failed result (``RECORD_FAILED``), never raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Meter

from flext_otel.domain.entities import FlextMetric
from flext_otel.domain.result import FlextResult, record_failed, wrong_type
from flext_otel.instrument.bound import BoundSum, bind_sum

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

__all__ = ["BOUND_LIMIT", "SECONDS_BUCKETS", "MetricAdapter"]

#: Bucket advice for histograms measured in seconds (request-duration scale).
SECONDS_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

# -- metrics -----------------------------------------------------------------
_Record = Callable[[float, "Attributes"], None]
_SUMS = frozenset({"counter", "up_down_counter"})
BOUND_LIMIT = 2_000
"""Tag sets a :class:`MetricAdapter` binds at most (the rest use the instruments)."""


class MetricAdapter:
    """Records :class:`FlextMetric` values on instruments of one ``Meter``.

    One instrument is created per ``(name, metric_type, unit)`` and cached; a
    ``counter`` is ``Counter.add``, ``up_down_counter`` ``UpDownCounter.add``,
    ``histogram`` ``Histogram.record`` and ``gauge`` ``Gauge.set``. Tags become
    the measurement's attributes. Histograms in seconds (unit ``"s"``) get
    :data:`SECONDS_BUCKETS` as bucket advice.

    OTel instrument names are case-insensitive: recording a name that already
    has an instrument of another type or unit fails with
    ``CONFLICTING_INSTRUMENT`` instead of creating a second instrument.

    The hot path is one dict lookup and the instrument call; creation is
    serialised by a lock. Given the pipeline's shared metric ``reader``, a
    counter or up-down counter tag set recorded once is bound to its SDK
    aggregation (:mod:`flext_otel.instrument.bound`, at most
    :data:`BOUND_LIMIT` sets), and :meth:`record_bound` adds to it directly:
    the same numbers, without the SDK's per-call measurement pipeline (and
    without exemplars, which are worth their cost on histograms only).
    """

    __slots__ = ("_bound", "_lock", "_meter", "_names", "_reader", "_record")

    def __init__(self, meter: Meter, reader: Any = None) -> None:
        self._meter = meter
        self._record: dict[tuple[str, str, str], _Record] = {}
        self._names: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self._reader = reader
        self._bound: dict[tuple[Any, ...], BoundSum | None] = {}

    def record(self, metric: FlextMetric) -> FlextResult[FlextMetric]:
        """Record one measurement; the entity itself on success."""
        if not isinstance(metric, FlextMetric):
            return wrong_type(metric, FlextMetric)
        if self.record_bound(metric):
            return FlextResult(metric)
        failed = self.record_valid(metric)
        return FlextResult(metric) if failed is None else failed

    def record_valid(self, metric: FlextMetric) -> FlextResult[FlextMetric] | None:
        """Record a :class:`FlextMetric` (not checked); None on success, else the failure.

        The hot path of :meth:`record` and of the simple API, which already holds
        a successful result for the entity and need not build another.
        """
        try:
            record = self._record.get((metric.name, metric.metric_type, metric.unit))
            if record is None:
                found = self._instrument(metric)
                if isinstance(found, FlextResult):
                    return found
                record = found
            record(metric.value, metric.tags)
            if self._reader is not None and metric.metric_type in _SUMS:
                self._bind(metric, record)
            return None
        except Exception as exc:  # an SDK failure must not escape
            return record_failed("metric", exc)

    def record_bound(self, metric: FlextMetric) -> bool:
        """Add a valid counter or up-down counter measurement to its bound aggregation;
        False (nothing recorded) when its tag set is not bound: use :meth:`record_valid`.

        A bound tag set passed the pipeline's measurement scrubbing unchanged.
        """
        try:
            bound = self._bound.get(
                (metric.name, metric.metric_type, metric.unit, *metric.tags.items())
            )
        except TypeError:  # an unhashable tag value (a list): never bound
            return False
        if bound is None:
            return False
        bound.add(metric.value)
        return True

    def _bind(self, metric: FlextMetric, record: _Record) -> None:
        try:
            key = (metric.name, metric.metric_type, metric.unit, *metric.tags.items())
            if key in self._bound or len(self._bound) >= BOUND_LIMIT:
                return
        except TypeError:
            return
        instrument = getattr(record, "__self__", None)
        self._bound[key] = bind_sum(instrument, self._reader, dict(metric.tags))

    def instruments(self) -> dict[str, tuple[str, str]]:
        """Every instrument created so far: name -> ``(metric_type, unit)``."""
        with self._lock:
            return {name: (kind, unit) for name, kind, unit in self._names.values()}

    def _instrument(self, metric: FlextMetric) -> _Record | FlextResult[FlextMetric]:
        key = (metric.name, metric.metric_type, metric.unit)
        with self._lock:
            existing = self._record.get(key)
            if existing is not None:
                return existing
            known = self._names.get(metric.name.lower())
            if known is not None and known[1:] != key[1:]:
                name, kind, unit = known
                return FlextResult.fail(
                    f"metric {metric.name!r} conflicts with instrument {name!r}, a {kind} "
                    f"with unit {unit!r}; it cannot also be a {metric.metric_type} "
                    f"with unit {metric.unit!r}",
                    error_code="CONFLICTING_INSTRUMENT",
                )
            record = self._create(*key)
            self._names.setdefault(metric.name.lower(), key)
            self._record[key] = record
            return record

    def _create(self, name: str, kind: str, unit: str) -> _Record:
        meter = self._meter
        if kind == "counter":
            return meter.create_counter(name, unit=unit).add
        if kind == "up_down_counter":
            return meter.create_up_down_counter(name, unit=unit).add
        if kind == "histogram":
            advice = SECONDS_BUCKETS if unit == "s" else None
            histogram = meter.create_histogram(
                name, unit=unit, explicit_bucket_boundaries_advisory=advice
            )
            return histogram.record
        if kind == "gauge":
            return meter.create_gauge(name, unit=unit).set
        raise ValueError(f"unknown metric type {kind!r}")
