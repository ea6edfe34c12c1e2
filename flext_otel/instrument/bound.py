"""Pre-bound measurements: record into the SDK's own aggregation for a fixed attribute set.

A call through an SDK instrument builds a ``Measurement`` (re-validating its
attributes), runs the exemplar filter, looks up the reader storage and the view,
and hashes the attribute set, before the aggregation adds the value. For an
attribute set that repeats (the decorator's ``function``/``outcome``, a
``flext_otel.metric()`` tag set), all of that gives the same answer every time:
a :class:`BoundSum` or :class:`BoundHistogram` keeps the aggregation object the
SDK created for the set and adds to it directly. The numbers exported are the
SDK's own (same aggregation object, same instrument, units, attributes and
bucket boundaries).

A set is bound only after it was recorded once through the public instrument
(so the SDK created, scrubbed and cardinality-checked it) and only on the
pipeline's one cumulative reader; anything unusual leaves the caller on the
public path (see :func:`flext_otel.support.otel_private.bound_aggregation`).

Exemplars: a bound sum offers none; a bound histogram offers a measurement
taken inside a sampled span (any measurement under ``always_on``, none under
``always_off``: the provider's exemplar filter decides) to the SDK's bucket
reservoir at most once per bucket per :data:`EXEMPLAR_INTERVAL_NS`, so each
bucket keeps a fresh link to a trace while the common call pays one comparison.

Imports: ``support``; the OpenTelemetry SDK (exemplar filters).

Threading: the SDK aggregation takes its own lock; the exemplar schedule is
racy by design (two threads may both offer one).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, AlwaysOnExemplarFilter

from flext_otel.support.otel_private import (
    LightMeasurement,
    bound_aggregation,
    exemplar_filter_of,
    histogram_boundaries,
)

__all__ = ["EXEMPLAR_INTERVAL_NS", "BoundHistogram", "BoundSum", "bind_histogram", "bind_sum"]

EXEMPLAR_INTERVAL_NS = 1_000_000_000
"""A bound histogram offers at most one exemplar per bucket per this many ns."""


class BoundSum:
    """Adds to the SDK aggregation of one counter (or up-down counter) attribute set."""

    __slots__ = ("_aggregate", "_instrument", "_one", "attributes")

    def __init__(self, aggregation: Any, instrument: Any, attributes: Mapping[str, Any]) -> None:
        self._aggregate = aggregation.aggregate
        self._instrument = instrument
        self.attributes = attributes
        self._one = LightMeasurement(1, 0, instrument, None, attributes)  # read, never changed

    def add(self, amount: float) -> None:
        """Add ``amount`` (already validated by the caller)."""
        self._aggregate(LightMeasurement(amount, 0, self._instrument, None, self.attributes), False)

    def add_one(self) -> None:
        """Add 1 (a call count)."""
        self._aggregate(self._one, False)


class BoundHistogram:
    """Records into the SDK aggregation of one histogram attribute set."""

    __slots__ = ("_aggregate", "_bounds", "_instrument", "_next_offer", "_sampled", "attributes")

    def __init__(
        self,
        aggregation: Any,
        instrument: Any,
        attributes: Mapping[str, Any],
        boundaries: tuple[float, ...],
        exemplars: str = "trace_based",
    ) -> None:
        self._aggregate = aggregation.aggregate
        self._instrument = instrument
        self.attributes = attributes
        self._bounds = boundaries
        never = 1 << 62  # "always_off": no bucket is ever due
        self._next_offer = [never if exemplars == "always_off" else 0] * (len(boundaries) + 1)
        self._sampled = exemplars != "always_on"  # trace-based: only inside a sampled span

    def record(self, value: float, now_ns: int, context: Any, span: Any) -> None:
        """Record ``value``. ``now_ns`` (any monotonic clock) schedules exemplar offers;
        one is offered when ``span`` (the span in ``context``) is sampled."""
        index = bisect_left(self._bounds, value)
        if now_ns >= self._next_offer[index] and (
            not self._sampled or span.get_span_context().trace_flags.sampled
        ):
            self._next_offer[index] = now_ns + EXEMPLAR_INTERVAL_NS
            measurement = LightMeasurement(
                value, time_ns(), self._instrument, context, self.attributes
            )
            self._aggregate(measurement, True)
            return
        self._aggregate(LightMeasurement(value, 0, self._instrument, None, self.attributes), False)


def bind_sum(instrument: Any, reader: Any, attributes: Mapping[str, Any]) -> BoundSum | None:
    """A :class:`BoundSum` for ``attributes`` (recorded once already), or None."""
    if reader is None:
        return None
    aggregation = bound_aggregation(instrument, reader, attributes, "sum")
    return None if aggregation is None else BoundSum(aggregation, instrument, attributes)


def bind_histogram(
    instrument: Any, reader: Any, attributes: Mapping[str, Any]
) -> BoundHistogram | None:
    """A :class:`BoundHistogram` for ``attributes`` (recorded once already), or None."""
    if reader is None:
        return None
    aggregation = bound_aggregation(instrument, reader, attributes, "histogram")
    bounds = None if aggregation is None else histogram_boundaries(aggregation)
    if bounds is None:
        return None
    return BoundHistogram(aggregation, instrument, attributes, bounds, _exemplar_mode(instrument))


def _exemplar_mode(instrument: Any) -> str:
    """``"always_off"``, ``"always_on"`` or ``"trace_based"``: the provider's filter."""
    found = exemplar_filter_of(instrument)
    if isinstance(found, AlwaysOffExemplarFilter):
        return "always_off"
    if isinstance(found, AlwaysOnExemplarFilter):
        return "always_on"
    return "trace_based"
