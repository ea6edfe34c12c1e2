"""Trace trees: the spans of one trace arranged under their parents.

The one place that builds trees (the store's :meth:`TelemetryStore.trace`, the
console exporter and the live view all use :func:`build_tree`). Imports:
``store.records`` only; pure functions over immutable records, safe on any thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from flext_otel.store.records import SpanRecord

_START = itemgetter(5)


@dataclass(frozen=True, slots=True)
class SpanNode:
    """A span and its children (in start order) within one trace."""

    span: SpanRecord
    children: list[SpanNode] = field(default_factory=list)

    def walk(self) -> Iterable[tuple[int, SpanRecord]]:
        """Depth-first ``(depth, span)`` pairs, this node first."""
        stack: list[tuple[int, SpanNode]] = [(0, self)]
        while stack:
            depth, node = stack.pop()
            yield depth, node.span
            stack.extend((depth + 1, child) for child in reversed(node.children))


def build_tree(records: Sequence[SpanRecord]) -> list[SpanNode]:
    """The roots of the spans of one trace as trees, roots and children in start order.

    A span whose parent is not among ``records`` (evicted, remote, or not ended
    yet) is a root.
    """
    ordered = sorted(records, key=_START)
    nodes = {record[2]: SpanNode(record) for record in ordered}
    roots: list[SpanNode] = []
    for record in ordered:
        node = nodes[record[2]]
        parent = nodes.get(record[3]) if record[3] is not None else None
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    return roots


__all__ = ["SpanNode", "build_tree"]
