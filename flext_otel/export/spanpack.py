"""Finished spans packed into plain tuples while they wait in an export queue.

A finished SDK span is a dozen garbage-collected objects; a queue of 20,000 of
them makes the collector pause the application. :func:`pack_span` keeps the IDs
as plain ints and refers to the span's immutable parts (attributes, events,
links, resource, scope, status); :func:`unpack_span` rebuilds an equivalent
``ReadableSpan`` (dropped counts included) on the export worker, with text that
UTF-8 cannot encode (lone surrogates) replaced so one bad string cannot fail a
whole export batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, Status, TraceFlags, TraceState
from opentelemetry.util.types import Attributes

from flext_otel.store.telemetry import MAX_NAME_LENGTH, bounded_name

_EMPTY_TRACE_STATE = TraceState()

Packed = tuple[Any, ...]
"""A finished span reduced to plain values plus references to shared objects."""


def _pack_context(ctx: SpanContext) -> tuple[Any, ...]:
    state = ctx.trace_state
    return (
        ctx.trace_id,
        ctx.span_id,
        ctx.is_remote,
        int(ctx.trace_flags),
        tuple(state.items()) if state else None,
    )


def _unpack_context(packed: tuple[Any, ...]) -> SpanContext:
    trace_id, span_id, is_remote, flags, state = packed
    return SpanContext(
        trace_id,
        span_id,
        is_remote,
        TraceFlags(flags),
        TraceState(list(state)) if state else _EMPTY_TRACE_STATE,
    )


def pack_span(span: ReadableSpan) -> Packed:
    """Capture everything a :class:`ReadableSpan` is made of, GC-cheaply.

    A finished SDK span is a dozen garbage-collected objects; this tuple keeps
    its IDs as plain ints and refers to the span's (immutable) attribute mapping,
    events and links and to the shared resource, scope, kind and status. A full
    queue then costs the collector about a third of what queued spans would.
    """
    context = span.context
    parent = span.parent
    return (
        span.name,
        None if context is None else _pack_context(context),
        None if parent is None else _pack_context(parent),
        span.kind,
        span.status,
        span.start_time,
        span.end_time,
        span.attributes,
        span.dropped_attributes,
        span.events,
        span.dropped_events,
        span.links,
        span.dropped_links,
        span.resource,
        span.instrumentation_scope,
    )


def unpack_span(packed: Packed) -> ReadableSpan:
    """Rebuild an equivalent :class:`ReadableSpan` (dropped counts included)."""
    (
        name,
        context,
        parent,
        kind,
        status,
        start_time,
        end_time,
        attributes,
        dropped_attributes,
        events,
        dropped_events,
        links,
        dropped_links,
        resource,
        scope,
    ) = packed
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        name = bounded_name(name)
    if not name.isascii():
        name = encodable(name)
    if status.description is not None and not status.description.isascii():
        status = Status(status.status_code, encodable(status.description))
    attributes = encodable_attributes(attributes)
    if events:
        events = [_encodable_event(event) for event in events]
    if dropped_attributes:
        attributes = _with_dropped_attributes(attributes, dropped_attributes)
    return ReadableSpan(
        name,
        context=None if context is None else _unpack_context(context),
        parent=None if parent is None else _unpack_context(parent),
        resource=resource,
        attributes=attributes,
        events=_with_dropped(events, dropped_events),
        links=_with_dropped(links, dropped_links),
        kind=kind,
        status=status,
        start_time=start_time,
        end_time=end_time,
        instrumentation_scope=scope,
    )


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
    for key, value in attributes.items():
        if not key.isascii() or _encodable_value(value) is not value:
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
