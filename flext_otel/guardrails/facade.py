"""Guardrails: the per-pipeline facade over scrubbing, sampling, limits and metric cardinality.

:class:`Guardrails` builds one pipeline's guardrails from its options: secret
scrubbing and limit accounting (:mod:`flext_otel.guardrails.scrubbing`, which states the
exact scrubbing rules), a rate limit on root traces and tail sampling
(:mod:`flext_otel.guardrails.sampling`), and the metric cardinality guard below.
:func:`guardrails_for` gives a ``FlextOtel`` its one instance. The public names
of the scrubbing and sampling modules are re-exported here.

Metric cardinality
------------------
The SDK folds attribute sets beyond a per-stream limit into one
``otel.metric.overflow=true`` series. :class:`CardinalityGuard` sets that limit
globally (the readers' ``cardinality_limits``) and per instrument (one
``View(instrument_name=..., aggregation_cardinality_limit=...)`` each), logs one
warning per instrument when it overflows and counts the measurements folded
into the overflow series. Counting hooks the shared reader's aggregation factory,
so only the overflow series pays for it.

Measurement scrubbing
---------------------
:meth:`Guardrails.hook_measurements` puts the scrubber between every instrument
of a ``MeterProvider`` and its reader (see ``support.otel_private``), so plain
OTel instruments are scrubbed like flext's own.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.view import Aggregation, View
from opentelemetry.sdk.trace import sampling
from opentelemetry.sdk.trace.export import SpanExporter

from flext_otel.guardrails.options import REDACTED, SamplingOptions, ScrubbingOptions
from flext_otel.guardrails.sampling import (
    CountingSampler,
    RateLimitingSampler,
    TailSamplingProcessor,
)
from flext_otel.guardrails.scrubbing import (
    QUALIFIERS,
    SCRUBBED_KEYS_ATTRIBUTE,
    SENSITIVE_PAIRS,
    SENSITIVE_WORDS,
    GuardLogProcessor,
    GuardrailCounters,
    Scrubber,
    TransformingSpanExporter,
    key_is_sensitive,
    key_words,
    looks_like_card_number,
    make_span_transform,
    scrub_attributes,
)
from flext_otel.guardrails.transform import SpanTransform
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import LogOnce
from flext_otel.support.otel_private import SdkGauge as Gauge
from flext_otel.support.otel_private import (
    create_default_aggregation,
    install_measurement_hook,
)

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

_logger = logging.getLogger("flext_otel")

OVERFLOW_ATTRIBUTE = "otel.metric.overflow"

# -- metric cardinality ------------------------------------------------------


def _sdk_has_cardinality_limits() -> bool:
    """opentelemetry-sdk 1.45.2 added the readers' ``cardinality_limits`` and the
    Views' ``aggregation_cardinality_limit``; older SDKs enforce no limit at all."""
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    return "cardinality_limits" in inspect.signature(InMemoryMetricReader.__init__).parameters


SDK_HAS_CARDINALITY_LIMITS = _sdk_has_cardinality_limits()

_INSTRUMENT_CLASSES: tuple[type, ...] = (
    Counter,
    UpDownCounter,
    Histogram,
    Gauge,
    ObservableCounter,
    ObservableUpDownCounter,
    ObservableGauge,
)


class _CountingOverflow:
    """Wraps the SDK's overflow-series aggregation to count measurements folded into it."""

    __slots__ = ("_count", "_inner")

    def __init__(self, inner: Any, count: Callable[[], None]) -> None:
        self._inner = inner
        self._count = count

    def aggregate(self, measurement: Any, should_sample_exemplar: bool = True) -> None:
        self._count()
        self._inner.aggregate(measurement, should_sample_exemplar)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _OverflowCountingAggregation(Aggregation):
    """The SDK's default aggregation; the overflow series it creates is counted."""

    def __init__(self, guard: CardinalityGuard) -> None:
        self._guard = guard

    def _create_aggregation(
        self,
        instrument: Any,
        attributes: Attributes,
        reservoir_factory: Any,
        start_time_unix_nano: int,
    ) -> Any:
        created = create_default_aggregation(
            instrument, attributes, reservoir_factory, start_time_unix_nano
        )
        if attributes and len(attributes) == 1 and attributes.get(OVERFLOW_ATTRIBUTE) is True:
            return _CountingOverflow(created, self._guard.overflow_counter(instrument.name))
        return created


class CardinalityGuard:
    """Cardinality limits (global and per instrument), overflow warnings and counts."""

    def __init__(self, limit: int, per_instrument: Mapping[str, int]) -> None:
        self.limit = limit
        self.per_instrument = {name.lower(): n for name, n in per_instrument.items()}
        self._lock = threading.Lock()
        self._overflowed: dict[str, int] = {}
        self._warned = LogOnce("metric cardinality")

    def cardinality_limits(self) -> dict[type, int]:
        """The global limit for every instrument class (a reader's ``cardinality_limits``)."""
        return dict.fromkeys(_INSTRUMENT_CLASSES, self.limit)

    def reader_options(self) -> dict[str, Any]:
        """Keyword arguments that give a metric reader these limits (none on an SDK
        older than 1.45.2, which has no cardinality limits)."""
        if not SDK_HAS_CARDINALITY_LIMITS:
            return {}
        return {"cardinality_limits": self.cardinality_limits()}

    def views(self) -> list[View]:
        """One View per instrument with its own limit (none on an SDK without limits)."""
        if not SDK_HAS_CARDINALITY_LIMITS:
            return []
        return [
            View(instrument_name=name, aggregation_cardinality_limit=limit)  # type: ignore[call-arg,unused-ignore]  # sdk >= 1.45.2
            for name, limit in sorted(self.per_instrument.items())
        ]

    def fold(self) -> Callable[[Any, Mapping[str, Any] | None], Any] | None:
        """On an SDK without cardinality limits (before 1.45.2), the limits enforced
        before aggregation: an instrument's attribute sets beyond its limit become the
        one ``otel.metric.overflow=true`` set, as the SDK itself does from 1.45.2 on
        (and counted by the same overflow aggregation). None where the SDK has limits.

        Threading: called on the recording thread; one short lock per new set.
        """
        if SDK_HAS_CARDINALITY_LIMITS:
            return None
        seen: dict[str, set[Any]] = {}
        lock = threading.Lock()
        limits = self.per_instrument
        default = self.limit
        overflow = MappingProxyType({OVERFLOW_ATTRIBUTE: True})

        def fold(instrument: Any, attributes: Mapping[str, Any] | None) -> Any:
            name = instrument.name.lower()
            key = frozenset(
                (k, tuple(v) if isinstance(v, list) else v) for k, v in (attributes or {}).items()
            )
            known = seen.get(name)
            if known is not None and key in known:
                return attributes
            with lock:
                known = seen.setdefault(name, set())
                if key in known or len(known) < limits.get(name, default):
                    known.add(key)
                    return attributes
            return overflow

        return fold

    def counting_aggregation(self) -> dict[type, Aggregation]:
        """A reader's ``preferred_aggregation`` that counts overflowed measurements."""
        aggregation = _OverflowCountingAggregation(self)
        return dict.fromkeys(_INSTRUMENT_CLASSES, aggregation)

    def overflow_counter(self, instrument: str) -> Callable[[], None]:
        """Warn once for ``instrument`` and return the function counting one measurement."""
        name = instrument.lower()
        with self._lock:
            self._overflowed.setdefault(name, 0)
        self._warned.log(
            name,
            "metric %r exceeded its cardinality limit of %d attribute sets; further "
            "attribute sets are folded into one otel.metric.overflow=true series",
            instrument,
            self.per_instrument.get(name, self.limit),
        )
        counts = self._overflowed
        lock = self._lock

        def count() -> None:
            with lock:
                counts[name] += 1

        return count

    def overflowed(self) -> dict[str, int]:
        """Measurements folded into the overflow series, per instrument."""
        with self._lock:
            return dict(self._overflowed)

    def stats(self) -> PipelineStats:
        """``metrics:cardinality``: measurements folded into overflow series (never lost)."""
        total = sum(self.overflowed().values())
        return PipelineStats(total, total, {})


# -- the per-pipeline facade ---------------------------------------------------


class GuardrailSettings(Protocol):
    """The options the guardrails read (``FlextOtelOptions`` provides them)."""

    @property
    def scrubbing(self) -> Any: ...
    @property
    def sampling(self) -> Any: ...
    @property
    def sampler(self) -> str: ...
    @property
    def attribute_value_length_limit(self) -> int: ...
    @property
    def metric_cardinality_limit(self) -> int: ...
    @property
    def metric_cardinality_limits(self) -> Mapping[str, int]: ...


class Guardrails:
    """The guardrails of one pipeline, built from its options."""

    def __init__(self, options: GuardrailSettings) -> None:
        self.options = options
        self.counters = GuardrailCounters()
        scrubbing = options.scrubbing
        self.scrubber: Scrubber | None
        if scrubbing is False:
            self.scrubber = None
        else:
            self.scrubber = Scrubber(scrubbing if isinstance(scrubbing, ScrubbingOptions) else None)
        sampling_opts = options.sampling
        self.sampling: SamplingOptions | None = sampling_opts
        self.sampler_counters: PipelineCounters | None = None
        self.tail: TailSamplingProcessor | None = None
        self.cardinality = CardinalityGuard(
            options.metric_cardinality_limit, options.metric_cardinality_limits
        )

    def span_transform(self, *, count: bool = False) -> SpanTransform | None:
        """Scrubbing for spans; ``count`` also counts (use it for exactly one consumer)."""
        return make_span_transform(
            self.scrubber,
            self.counters if count else None,
            self.options.attribute_value_length_limit,
        )

    def log_processor(self) -> GuardLogProcessor:
        """The processor to register before the store and every log exporter."""
        return GuardLogProcessor(
            self.scrubber, self.counters, self.options.attribute_value_length_limit
        )

    def console_span_exporter(
        self, inner: SpanExporter, counters: PipelineCounters | None = None
    ) -> SpanExporter:
        """``inner`` behind the scrubbing transform (when scrubbing is on), counted
        in ``counters`` when given."""
        transform = self.span_transform()
        if transform is None and counters is None:
            return inner
        return TransformingSpanExporter(inner, transform, counters)

    def sampler(self, head: sampling.Sampler) -> sampling.Sampler:
        """``head``, rate-limited on root traces when ``max_traces_per_second`` is set;
        else counted (``traces:sampler``) when the head sampler can drop spans."""
        opts = self.sampling
        if opts is None or opts.max_traces_per_second is None:
            if self.options.sampler in ("always_on", "parentbased_always_on"):
                return head
            self.sampler_counters = PipelineCounters("traces:sampler")
            return CountingSampler(head, self.sampler_counters)
        self.sampler_counters = PipelineCounters("traces:sampler")
        return RateLimitingSampler(head, opts.max_traces_per_second, self.sampler_counters)

    def tail_processor(self) -> TailSamplingProcessor | None:
        """The tail-sampling processor (parent of store and exporters), when enabled."""
        opts = self.sampling
        if opts is None or not opts.tail:
            return None
        if self.tail is None:
            self.tail = TailSamplingProcessor(opts, PipelineCounters("traces:tail_sampler"))
        return self.tail

    def scrub_attributes(
        self, attributes: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any] | None, tuple[str, ...]]:
        """Scrub measurement or other attributes by this pipeline's rules (no marker added)."""
        if self.scrubber is None or not attributes:
            return attributes, ()
        new, keys = self.scrubber.scrub_attributes(attributes)
        if keys:
            self.counters.add("scrubbed_items")
            self.counters.add("scrubbed_values", len(keys))
        return new, keys

    def hook_measurements(self, provider: Any, reader: Any = None) -> bool:
        """Scrub every measurement's attributes on ``provider`` before any reader
        aggregates them: synchronous instruments and observable callbacks alike,
        whichever meter (own, global proxy, flext's API) made the instrument.

        Clean attribute sets cost one cached membership check per pair
        (:meth:`Scrubber.clean_check`). With ``reader`` (the provider's one reader),
        repeated attribute sets also skip the SDK's per-measurement lookups (see
        ``support.otel_private``). False when the SDK offers no hook.
        """
        fold = self.cardinality.fold()
        scrubber = self.scrubber
        if scrubber is None:
            return install_measurement_hook(provider, None, None, reader, fold)
        check = scrubber.clean_check
        counters = self.counters

        def is_clean(attributes: Mapping[str, Any]) -> bool:
            return check(attributes) is not None

        def transform(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
            clean, keys = scrubber.scrub_attributes(attributes)
            if clean is not attributes and keys:  # already-redacted values are not counted again
                counters.add("scrubbed_items")
                counters.add("scrubbed_values", len(keys))
            return clean

        return install_measurement_hook(provider, transform, is_clean, reader, fold)

    def scrub_text(self, text: str) -> str:
        """Free text with secret-looking parts replaced (the same object when clean)."""
        if self.scrubber is None or not text:
            return text
        clean = self.scrubber.scrub_text(text)
        if clean is not text:
            self.counters.add("scrubbed_items")
            self.counters.add("scrubbed_values")
        return clean

    def stats(self) -> dict[str, Any]:
        """Counts for ``FlextOtel.health()``: scrubbing, truncation, sampling, overflow."""
        result: dict[str, Any] = dict(self.counters.snapshot())
        result["scrubbing"] = self.scrubber is not None
        overflow = self.cardinality.overflowed()
        result["metric_overflow"] = overflow
        result["metric_overflow_total"] = sum(overflow.values())
        sampled_out = 0
        if self.sampler_counters is not None:
            sampled_out += self.sampler_counters.snapshot().dropped.get("sampled_out", 0)
        if self.tail is not None:
            sampled_out += self.tail.stats().dropped.get("sampled_out", 0)
            result["tail_buffered"] = self.tail.buffered()
        result["sampled_out"] = sampled_out
        return result


_BY_PIPELINE: weakref.WeakKeyDictionary[Any, Guardrails] = weakref.WeakKeyDictionary()
_BY_PIPELINE_LOCK = threading.Lock()


def guardrails_for(otel: Any) -> Guardrails:
    """The :class:`Guardrails` of a ``FlextOtel`` (built from ``otel.options`` on first use)."""
    with _BY_PIPELINE_LOCK:
        found = _BY_PIPELINE.get(otel)
        if found is None:
            found = _BY_PIPELINE[otel] = Guardrails(otel.options)
        return found


__all__ = [
    "OVERFLOW_ATTRIBUTE",
    "QUALIFIERS",
    "REDACTED",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "CardinalityGuard",
    "GuardLogProcessor",
    "GuardrailCounters",
    "Guardrails",
    "RateLimitingSampler",
    "SamplingOptions",
    "Scrubber",
    "ScrubbingOptions",
    "TailSamplingProcessor",
    "TransformingSpanExporter",
    "guardrails_for",
    "key_is_sensitive",
    "key_words",
    "looks_like_card_number",
    "make_span_transform",
    "scrub_attributes",
]
