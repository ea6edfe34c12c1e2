"""Finished spans packed into plain tuples while they wait in an export queue.

A finished SDK span is a dozen garbage-collected objects; a queue of 20,000 of
them makes the collector pause the application. :func:`pack_span` keeps the IDs
as plain ints and refers to the span's immutable parts (attributes, events,
links, resource, scope, status); :func:`unpack_span` rebuilds an equivalent
``ReadableSpan`` (dropped counts included) on the export worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, TraceFlags, TraceState
from opentelemetry.util.types import Attributes

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


__all__ = ["Packed", "pack_span", "unpack_span"]
