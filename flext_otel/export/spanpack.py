"""Finished spans packed into plain tuples while they wait in an export queue.

A finished SDK span view is a dozen garbage-collected objects; a queue of
20,000 of them makes the collector pause the application. :func:`pack_span`
keeps one flat tuple referring to the span's immutable parts (contexts,
attributes, events, links, resource, scope, status), read in one C-level call;
:func:`unpack_span` rebuilds an equivalent ``ReadableSpan`` (dropped counts
included) on the export worker, with text that UTF-8 cannot encode (lone
surrogates) replaced so one bad string cannot fail a whole export batch.

Imports: ``store.records`` and ``store.reading`` (name bounds, the attribute
view); the OpenTelemetry SDK. Pure functions: ``pack_span`` runs on application threads inside
``on_end``, ``unpack_span`` on the export worker; neither keeps state.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Status
from opentelemetry.util.types import Attributes

from flext_otel.store.reading import attribute_view
from flext_otel.store.records import MAX_NAME_LENGTH, bounded_name

Packed = tuple[Any, ...]
"""A finished span reduced to plain values plus references to shared objects."""


_SDK_PACK_FIELDS = attrgetter(
    "_name",
    "_context",
    "_parent",
    "_kind",
    "_status",
    "_start_time",
    "_end_time",
    "_attributes",
    "_events",
    "_links",
    "_resource",
    "_instrumentation_scope",
)


def pack_span(span: ReadableSpan) -> Packed:
    """Capture everything a :class:`ReadableSpan` is made of, cheaply.

    One flat tuple referring to the span's own immutable parts (the attribute
    and event containers keep their dropped counts); the SDK span view itself
    is not kept. For the SDK's own ``ReadableSpan`` the fields are read in one
    C-level call (its private attributes: waits for a public bulk accessor);
    any other span goes through the public properties.
    """
    if type(span) is ReadableSpan:
        return _SDK_PACK_FIELDS(span)
    return (
        span.name,
        span.context,
        span.parent,
        span.kind,
        span.status,
        span.start_time,
        span.end_time,
        _with_dropped_attributes(span.attributes, span.dropped_attributes),
        _with_dropped(span.events, span.dropped_events),
        _with_dropped(span.links, span.dropped_links),
        span.resource,
        span.instrumentation_scope,
    )


def unpack_span(packed: Packed) -> ReadableSpan:
    """Rebuild an equivalent :class:`ReadableSpan` (dropped counts included), with
    text UTF-8 cannot encode replaced."""
    (
        name,
        context,
        parent,
        kind,
        status,
        start_time,
        end_time,
        attributes,
        events,
        links,
        resource,
        scope,
    ) = packed
    if type(name) is not str or len(name) > MAX_NAME_LENGTH:
        name = bounded_name(name)
    if not name.isascii():
        name = encodable(name)
    if status.description is not None and not status.description.isascii():
        status = Status(status.status_code, encodable(status.description))
    dropped = (
        getattr(attributes, "dropped", 0),
        getattr(events, "dropped", 0),
        getattr(links, "dropped", 0),
    )
    # plain containers: the exporter's encoder then reads them at C speed
    plain_attributes = (
        None if attributes is None else encodable_attributes(dict(attribute_view(attributes)))
    )
    plain_events = tuple([_encodable_event(event) for event in events]) if events else ()
    span = _QueuedSpan.__new__(_QueuedSpan)
    ReadableSpan.__init__(
        span,
        name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=plain_attributes,
        events=plain_events,
        links=tuple(links) if links else (),
        kind=kind,
        status=status,
        start_time=start_time,
        end_time=end_time,
        instrumentation_scope=scope,
    )
    span._dropped = dropped
    return span


class _QueuedSpan(ReadableSpan):
    """A rebuilt span over plain containers (a dict, tuples) that keeps the original
    dropped counts (the SDK derives them from its bounded containers)."""

    _dropped: tuple[int, int, int] = (0, 0, 0)

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


def encodable(text: object) -> str:
    """``text`` as a string UTF-8 can encode: lone surrogates become ``?``.

    One unencodable string would otherwise fail the encoding of a whole export
    batch (and lose every innocent item in it).
    """
    if not isinstance(text, str):
        text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _encodable_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.isascii() else encodable(value)
    if isinstance(value, (tuple, list)) and any(isinstance(v, str) for v in value):
        return tuple(_encodable_value(v) for v in value)
    return value


def encodable_attributes(attributes: Attributes) -> Attributes:
    """``attributes`` unchanged when every key and string value encodes, else a fixed copy."""
    if not attributes:
        return attributes
    for key, value in attributes.items():  # the common case: ASCII keys and text
        if not key.isascii():
            break
        if type(value) is str:
            if not value.isascii():
                break
        elif isinstance(value, (tuple, list)) and _encodable_value(value) is not value:
            break
    else:
        return attributes
    return {encodable(k): _encodable_value(v) for k, v in attributes.items()}


def _encodable_event(event: Event) -> Event:
    name = event.name if len(event.name) <= MAX_NAME_LENGTH else bounded_name(event.name)
    name = name if name.isascii() else encodable(name)
    attributes = encodable_attributes(event.attributes)
    if name is event.name and attributes is event.attributes:
        return event
    return Event(name, attributes, event.timestamp)


def _with_dropped_attributes(attributes: Attributes, dropped: int) -> Attributes:
    if not dropped:
        return attributes
    bounded = BoundedAttributes(attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _with_dropped(items: Sequence[Any], dropped: int) -> Sequence[Any]:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


__all__ = ["Packed", "encodable", "encodable_attributes", "pack_span", "unpack_span"]
