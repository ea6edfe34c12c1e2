"""Scrubbing applied to OpenTelemetry: redacted span copies, the span guard, log redaction.

The rules themselves (what is a secret, how it is replaced, the counters) are in
:mod:`flext_otel.guardrails.rules`, pure Python; this module is their OTel glue:

* :class:`SpanGuard` (built by :func:`make_span_transform`) checks a finished
  span once and returns it unchanged when nothing matched (the common case), or
  a :class:`_RedactedSpan` copy; :meth:`SpanGuard.check` also hands back the
  attribute dict it read, so the store records the span from that same pass and
  every exporter downstream receives the guarded span (one transform per span,
  not one per destination).
* :class:`TransformingSpanExporter` applies a transform in front of an exporter.
* :class:`GuardLogProcessor` redacts log records in place, ahead of every consumer.

Imports: ``guardrails.rules``, ``guardrails.scrubber``, ``guardrails.options``,
``guardrails.transform`` and the OpenTelemetry SDK. Threading and errors:
everything here runs inside SDK hooks on application threads (or an export
worker); guards are stateless
apart from the shared :class:`Scrubber` caches and the thread-safe counters.
:class:`GuardLogProcessor` never raises (a failure blanks the record, fail
closed); a transform that raises is handled by its caller (the store processor
counts the span as ``invalid``, :class:`TransformingSpanExporter` drops it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from flext_otel.guardrails.options import REDACTED, ScrubbingOptions
from flext_otel.guardrails.rules import (
    QUALIFIERS,
    SCRUBBED_KEYS_ATTRIBUTE,
    SENSITIVE_PAIRS,
    SENSITIVE_WORDS,
    key_is_sensitive,
    key_words,
    looks_like_card_number,
)
from flext_otel.guardrails.scrubber import (
    GuardrailCounters,
    Scrubber,
    _Outcome,
    count_at_limit,
    scrub_attributes,
)
from flext_otel.guardrails.transform import SpanTransform
from flext_otel.store.reading import attribute_dict, attribute_view, span_events
from flext_otel.support.counters import PipelineCounters
from flext_otel.support.logonce import LogOnce
from flext_otel.support.otel_private import LogRecordProcessor

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

    from flext_otel.support.otel_private import ReadWriteLogRecord

_logger = logging.getLogger("flext_otel")
_NO_ATTRIBUTES: Mapping[str, Any] = {}

# -- spans -------------------------------------------------------------------


class _RedactedSpan(ReadableSpan):
    """A finished span's copy with redacted attributes/events/status; drop counts kept."""

    def __init__(
        self,
        span: ReadableSpan,
        attributes: Attributes,
        events: Sequence[Event],
        status: Status,
    ) -> None:
        super().__init__(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
        self._dropped = (span.dropped_attributes, span.dropped_events, span.dropped_links)

    @property
    def dropped_attributes(self) -> int:
        """Attributes the SDK dropped from the original span."""
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        """Events the SDK dropped from the original span."""
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        """Links the SDK dropped from the original span."""
        return self._dropped[2]


def _merged(attributes: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    merged = dict(attributes)
    merged[SCRUBBED_KEYS_ATTRIBUTE] = tuple(sorted(set(keys)))
    return merged


def _frozen(attributes: Mapping[str, Any], dropped: int) -> BoundedAttributes:
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


class SpanGuard:
    """Scrubbing (``scrubber``) and limit counting (``counters``) of finished spans.

    A :data:`~flext_otel.guardrails.transform.SpanTransform`: calling it returns
    the same span object when nothing matched, else a redacted copy.
    :meth:`check` does the same from an attribute dict the caller already read,
    and returns the dict to record, so one pass over the attributes serves the
    check, the store record and every exporter downstream.
    """

    __slots__ = ("_counters", "_limit", "_scrubber", "known_clean")

    def __init__(
        self,
        scrubber: Scrubber | None,
        counters: GuardrailCounters | None = None,
        value_length_limit: int | None = None,
    ) -> None:
        self._scrubber = scrubber
        self._counters = counters
        self._limit = value_length_limit if counters is not None else None
        self.known_clean = scrubber.known_clean if scrubber is not None else None
        """Whether an attribute dict is known clean (one C-level pass); a span with such
        attributes, no events and no status description needs no :meth:`check`."""

    def __call__(self, span: ReadableSpan) -> ReadableSpan:
        return self.check(span, attribute_dict(span))[0]

    def check(
        self,
        span: ReadableSpan,
        attributes: dict[str, Any],
        fields: tuple[Any, ...] | None = None,
    ) -> tuple[ReadableSpan, dict[str, Any]]:
        """``(span, attributes)`` themselves when nothing matched (the common case),
        else the redacted copy and its attributes (with ``flext.scrubbed_keys``).

        ``attributes`` must be a fresh dict of the span's attributes; ``fields``
        the span's :func:`~flext_otel.store.reading.span_fields` when the caller
        read them already.
        """
        scrubber = self._scrubber
        limit = self._limit
        if fields is None:
            events = span_events(span)
            description = span.status.description
        else:
            events = fields[7]
            description = fields[4].description
        if scrubber is not None:  # the common case: one pass finds nothing to scrub
            if not events and not description and scrubber.known_clean(attributes):
                return span, attributes
            truncated = scrubber.clean_check(attributes, limit)
            if events:
                for event in events:
                    if truncated is None:
                        break
                    found = scrubber.clean_check(event.attributes or _NO_ATTRIBUTES, limit)
                    truncated = None if found is None else truncated + found
            if truncated is not None and not description:
                if truncated and self._counters is not None:
                    self._counters.add("truncated", truncated)
                return span, attributes
        return self._slow(span, attributes, events)

    def _slow(
        self, span: ReadableSpan, attributes: dict[str, Any], events: Sequence[Event]
    ) -> tuple[ReadableSpan, dict[str, Any]]:
        scrubber = self._scrubber
        counters = self._counters
        limit = self._limit
        if counters is not None and limit is not None:
            truncated = count_at_limit(attributes, limit)
            for event in events:
                truncated += count_at_limit(event.attributes, limit)
            if truncated:
                counters.add("truncated", truncated)
        if scrubber is None:
            return span, attributes
        outcome = _Outcome()
        new_attributes = scrubber.scrub_mapping(attributes, outcome)
        new_events: list[Event] | None = None
        for index, event in enumerate(events):
            event_attributes = event.attributes
            if not event_attributes:
                continue
            event_outcome = _Outcome()
            scrubbed = scrubber.scrub_mapping(event_attributes, event_outcome)
            if scrubbed is event_attributes:
                continue
            if new_events is None:
                new_events = list(events)
            new_events[index] = Event(
                event.name,
                _frozen(_merged(scrubbed, event_outcome.keys), event.dropped_attributes),
                event.timestamp,
            )
            outcome.keys.extend(f"events.{event.name}.{k}" for k in event_outcome.keys)
            outcome.callback_errors += event_outcome.callback_errors
        status = span.status
        description = status.description
        if description:
            clean = scrubber.scrub_text(description)
            if clean is not description:
                clean = scrubber._ask_callback("status.description", description, clean, outcome)
                status = Status(status.status_code, str(clean))
        if new_attributes is attributes and new_events is None and status is span.status:
            return span, attributes
        if counters is not None:
            counters.add("scrubbed_items")
            counters.add("scrubbed_values", len(outcome.keys))
            counters.add("callback_errors", outcome.callback_errors)
        merged = _merged(new_attributes, outcome.keys)
        redacted = _RedactedSpan(
            span,
            _frozen(merged, span.dropped_attributes),
            new_events if new_events is not None else events,
            status,
        )
        return redacted, merged


def make_span_transform(
    scrubber: Scrubber | None,
    counters: GuardrailCounters | None = None,
    value_length_limit: int | None = None,
) -> SpanGuard | None:
    """A :class:`SpanGuard` that redacts (``scrubber``) and counts (``counters``).

    ``None`` when there is nothing to do (no scrubber and no counting).
    """
    if scrubber is None and counters is None:
        return None
    return SpanGuard(scrubber, counters, value_length_limit)


class TransformingSpanExporter(SpanExporter):
    """Applies a span transform (e.g. scrubbing) before handing spans to ``inner``.

    With ``counters`` it also counts spans: accepted, exported, ``export_failed``,
    and a span the transform fails on dropped as ``invalid`` (cause
    ``scrub_failed``, logged once at WARNING): an unscrubbed span never leaves.
    """

    def __init__(
        self,
        inner: SpanExporter,
        transform: SpanTransform | None,
        counters: PipelineCounters | None = None,
    ) -> None:
        self.inner = inner
        self._transform = transform
        self._counters = counters
        self._once = LogOnce("span scrubbing before export")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Transform each span (a failing transform drops it), then export the rest."""
        transform = self._transform
        counters = self._counters
        if transform is None and counters is None:
            return self.inner.export(spans)
        if counters is not None:
            counters.accept(len(spans))
        kept: list[ReadableSpan] = []
        for span in spans:
            if transform is None:
                kept.append(span)
                continue
            try:
                out = transform(span)
            except Exception as exc:  # fail closed: an untransformed span never leaves
                self._once.log(
                    "scrub_failed", "span scrubbing failed; the span is not exported: %r", exc
                )
                out = None
            if out is not None:
                kept.append(out)
            elif counters is not None:
                counters.drop("invalid", cause="scrub_failed")
        if counters is None:
            return self.inner.export(kept)
        try:
            result = self.inner.export(kept)
        except Exception:
            counters.drop("export_failed", len(kept))
            raise
        if result is SpanExportResult.SUCCESS:
            counters.exported(len(kept))
        else:
            counters.drop("export_failed", len(kept))
        return result

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the inner exporter."""
        return self.inner.force_flush(timeout_millis)


# -- logs --------------------------------------------------------------------


class GuardLogProcessor(LogRecordProcessor):
    """Redacts (and counts truncation of) each log record in place, ahead of every consumer.

    Processors run in registration order on the same record object, so this
    one is registered before the store and every exporter. It never raises: if
    scrubbing itself fails, the record's body and attributes are blanked (fail
    closed) and the failure is counted as ``internal_errors``.
    """

    def __init__(
        self,
        scrubber: Scrubber | None,
        counters: GuardrailCounters,
        value_length_limit: int | None = None,
    ) -> None:
        self._scrubber = scrubber
        self._counters = counters
        self._limit = value_length_limit
        self._once = LogOnce("log scrubbing")

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Scrub attributes and body; truncate an over-long string body."""
        record = log_record.log_record
        try:
            self._guard(record)
        except Exception as exc:
            self._counters.add("internal_errors")
            self._once.log(
                type(exc).__name__, "log scrubbing failed; the record is blanked: %r", exc
            )
            try:
                record.body = self._scrubber.replacement if self._scrubber else None
                attributes = record.attributes
                if attributes is not None:
                    for key in list(attributes):
                        del attributes[key]  # type: ignore[attr-defined]
            except Exception:  # nothing more can be done without raising
                _logger.debug("blanking a log record failed", exc_info=True)

    def _guard(self, record: Any) -> None:
        counters = self._counters
        limit = self._limit
        attributes = record.attributes
        body = record.body
        body_cut = 0
        if limit is not None and isinstance(body, str) and len(body) > limit:
            body = record.body = body[:limit]
            body_cut = 1
        scrubber = self._scrubber
        if scrubber is not None:  # the common case: one pass over the attributes, clean body
            found = scrubber.clean_check(attribute_view(attributes), limit) if attributes else 0
            if found is not None and (
                body is None or (type(body) is str and scrubber.scrub_text(body) is body)
            ):
                if found + body_cut:
                    counters.add("truncated", found + body_cut)
                return
        if limit is not None:
            truncated = count_at_limit(attributes, limit) + body_cut
            if truncated:
                counters.add("truncated", truncated)
        scrubber = self._scrubber
        if scrubber is None:
            return
        outcome = _Outcome()
        if attributes:
            scrubbed = scrubber.scrub_mapping(attributes, outcome)
            if scrubbed is not attributes:
                for key, value in scrubbed.items():
                    if value is not attributes.get(key):
                        attributes[key] = value
        if body is not None:
            new_body = scrubber._scrub_value("body", body, outcome)
            if new_body is not body:
                record.body = new_body
        if outcome.keys:
            keys = tuple(sorted(set(outcome.keys)))
            if attributes is None:
                record.attributes = {SCRUBBED_KEYS_ATTRIBUTE: keys}
            else:
                attributes[SCRUBBED_KEYS_ATTRIBUTE] = keys
            counters.add("scrubbed_items")
            counters.add("scrubbed_values", len(outcome.keys))
        counters.add("callback_errors", outcome.callback_errors)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing buffered: always True."""
        return True


__all__ = [
    "QUALIFIERS",
    "REDACTED",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "GuardLogProcessor",
    "GuardrailCounters",
    "Scrubber",
    "ScrubbingOptions",
    "SpanGuard",
    "TransformingSpanExporter",
    "key_is_sensitive",
    "key_words",
    "looks_like_card_number",
    "make_span_transform",
    "scrub_attributes",
]
