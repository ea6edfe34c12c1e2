"""The span ring buffer, indexed by trace: lookups and the trace list that stay flat.

:class:`SpanIndex` keeps the newest ``capacity`` spans in a ring of slots and,
alongside, every retained trace: a trace of one span is the record itself, a
larger one a :class:`_Trace` holding its spans (arrival order) and its summary
(earliest start, latest end, error count), updated as spans arrive and as they
are evicted. ``trace(id)`` is one dictionary lookup, whatever the capacity.

The trace list (newest traces by start time) walks the ring backwards in blocks
of 1,024 spans. Each block remembers the latest and earliest start of the spans
it received; a trace not met yet has all its spans in older blocks, so its start
is at most the latest start of those blocks, and the walk stops as soon as the
page is full of traces that started later than that. Spans arrive roughly in
time order, so a page of 100 traces reads one or two blocks at any capacity.

Memory: one slot per span in the ring, one dictionary entry per trace, a small
object only for traces of more than one span, two integers per block.

Imports: ``store.records`` and ``store.ring``. Threading: one lock guards the
ring, the trace map and the blocks; :meth:`SpanIndex.append` does O(1) work under
it (a trace's summary is recomputed on eviction only when the evicted span held
its earliest start or latest end). Queries copy what they need under the lock,
block by block, so a long query never holds it for more than one block.
Nothing here raises on valid records.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from flext_otel.store.records import SignalStats, SpanRecord
from flext_otel.store.ring import check_capacity

_BLOCK_BITS = 10
_BLOCK = 1 << _BLOCK_BITS
_LAST_IN_BLOCK = _BLOCK - 1


class _Trace:
    """A retained trace of two or more spans: the spans (arrival order) and its summary.

    Evicted spans leave from the front: ``head`` counts the dead slots there, and
    the list is compacted when they are the larger half, so evicting from a trace
    of any size costs O(1) amortised.
    """

    __slots__ = ("_spans", "end", "errors", "head", "stale", "start")

    def __init__(self, first: SpanRecord, second: SpanRecord) -> None:
        self._spans: list[SpanRecord | None] = [first, second]
        self.head = 0
        self.stale = False  # start/end need recomputing (an edge span was evicted)
        self.start: int = min(first[5], second[5])
        self.end: int = max(first[6], second[6])
        self.errors = (first[7] == "error") + (second[7] == "error")

    @property
    def spans(self) -> list[SpanRecord]:
        """The retained spans, arrival order (a new list)."""
        return self._spans[self.head :]  # type: ignore[return-value]

    def add(self, record: SpanRecord) -> None:
        self._spans.append(record)
        self.start = min(self.start, record[5])
        self.end = max(self.end, record[6])
        if record[7] == "error":
            self.errors += 1

    def remove(self, record: SpanRecord) -> SpanRecord | None:
        """Forget ``record``; the one span left, when only one is."""
        spans = self._spans
        head = self.head
        if spans[head] is record:  # the common case: eviction follows arrival order
            spans[head] = None
            head += 1
            if head > 16 and head * 2 > len(spans):
                del spans[:head]
                head = 0
            self.head = head
        else:
            for i in range(head, len(spans)):
                if spans[i] is record:
                    del spans[i]
                    break
        if len(spans) - head == 1:
            return spans[head]
        if record[7] == "error":
            self.errors -= 1
        if record[5] <= self.start or record[6] >= self.end:
            self.stale = True  # recomputed when read: eviction stays O(1) for big traces
        return None

    def bounds(self) -> tuple[int, int]:
        """``(start, end)`` of the retained spans (called under the index's lock)."""
        if self.stale:
            spans = self.spans
            self.start = min(s[5] for s in spans)
            self.end = max(s[6] for s in spans)
            self.stale = False
        return self.start, self.end


_Entry = SpanRecord | _Trace


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One retained trace: its spans (arrival order) and what the trace list shows."""

    trace_id_int: int
    start_time_ns: int
    end_time_ns: int
    errors: int
    spans: tuple[SpanRecord, ...]

    @property
    def trace_id(self) -> str:
        """The trace ID as 32 lowercase hex characters."""
        return format(self.trace_id_int, "032x")

    @property
    def error(self) -> bool:
        """True when any retained span of the trace failed."""
        return self.errors > 0

    @property
    def span_count(self) -> int:
        """Retained spans of the trace."""
        return len(self.spans)


def _summary(trace_id: int, entry: _Entry) -> TraceSummary:
    if type(entry) is _Trace:
        start, end = entry.bounds()
        return TraceSummary(trace_id, start, end, entry.errors, tuple(entry.spans))
    record: SpanRecord = entry  # type: ignore[assignment]
    return TraceSummary(trace_id, record[5], record[6], int(record[7] == "error"), (record,))


TraceFilter = Callable[[TraceSummary], bool]
"""Keeps a trace in the list when it returns True."""


class SpanIndex:
    """The newest ``capacity`` spans, indexed by trace (see the module docstring)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        self._lock = threading.Lock()
        self._accepted_before = 0  # spans accepted before the last clear (plus _next since)
        self._cleared = 0  # every accepted span is held, evicted or cleared
        self._generation = 0
        self._reset()

    def _reset(self) -> None:
        self._slots: list[SpanRecord] = []
        self._next = 0  # sequence number of the next span since the last clear
        self._traces: dict[int, _Entry] = {}
        self._blocks: deque[list[int]] = deque()  # [latest start, earliest start]
        self._first_block = 0  # block number of self._blocks[0]

    # -- writing -------------------------------------------------------------
    def append(self, record: SpanRecord) -> None:
        """Add ``record``; the oldest span is evicted (and counted) when full."""
        trace_id = record[1]
        start = record[5]
        with self._lock:
            seq = self._next
            self._next = seq + 1
            capacity = self.capacity
            slots = self._slots
            if seq < capacity:
                slots.append(record)
            else:
                position = seq % capacity
                old = slots[position]
                slots[position] = record
                self._forget(old)
                if (seq - capacity) & _LAST_IN_BLOCK == _LAST_IN_BLOCK:
                    self._blocks.popleft()
                    self._first_block += 1
            traces = self._traces
            entry = traces.get(trace_id)
            if entry is None:
                traces[trace_id] = record
            elif type(entry) is _Trace:
                entry.add(record)
            else:
                traces[trace_id] = _Trace(entry, record)  # type: ignore[arg-type]
            if seq & _LAST_IN_BLOCK:
                bounds = self._blocks[-1]
                if start > bounds[0]:
                    bounds[0] = start
                elif start < bounds[1]:
                    bounds[1] = start
            else:
                self._blocks.append([start, start])

    def _forget(self, old: SpanRecord) -> None:
        """Take an evicted span out of its trace (called under the lock)."""
        traces = self._traces
        trace_id = old[1]
        entry = traces.get(trace_id)
        if entry is old:
            del traces[trace_id]
        elif type(entry) is _Trace:
            left = entry.remove(old)
            if left is not None:
                traces[trace_id] = left

    def clear(self) -> None:
        """Drop every span (counters are kept)."""
        with self._lock:
            self._cleared += min(self._next, self.capacity)
            self._accepted_before += self._next
            self._generation += 1
            self._reset()

    # -- reading -------------------------------------------------------------
    def __len__(self) -> int:
        return min(self._next, self.capacity)

    def stats(self) -> SignalStats:
        """Accepted and evicted counts, capacity and current size."""
        with self._lock:
            size = min(self._next, self.capacity)
            accepted = self._accepted_before + self._next
            return SignalStats(accepted, accepted - self._cleared - size, self.capacity, size)

    def snapshot(self) -> list[SpanRecord]:
        """Every retained span, oldest first."""
        with self._lock:
            slots = self._slots
            if self._next <= self.capacity:
                return list(slots)
            position = self._next % self.capacity
            return slots[position:] + slots[:position]

    def trace_spans(self, trace_id: int) -> list[SpanRecord]:
        """The retained spans of one trace, in arrival order (one lookup)."""
        with self._lock:
            entry = self._traces.get(trace_id)
            if entry is None:
                return []
            if type(entry) is _Trace:
                return entry.spans
            return [entry]  # type: ignore[list-item]

    def trace_count(self) -> int:
        """Retained traces."""
        return len(self._traces)

    def recent(
        self,
        limit: int,
        *,
        before: tuple[int, int] | None = None,
        keep: TraceFilter | None = None,
    ) -> list[TraceSummary]:
        """Up to ``limit`` traces with the latest starts, newest first.

        ``before`` ``(start_ns, trace_id)`` keeps traces ordered strictly before it
        (by start, then trace ID; ``trace_id=-1`` keeps starts strictly earlier);
        ``keep`` filters the rest. Ties in start are ordered by trace ID.
        """
        if limit < 1:
            return []
        with self._lock:
            blocks = [(bounds[0], bounds[1]) for bounds in self._blocks]
            first = self._first_block
            generation = self._generation
        latest_before = list(accumulate((b[0] for b in blocks), max))
        seen: set[int] = set()
        heap: list[tuple[int, int, TraceSummary]] = []
        for i in range(len(blocks) - 1, -1, -1):
            if before is None or blocks[i][1] <= before[0]:
                for summary in self._block(first + i, generation, seen):
                    key = (summary.start_time_ns, summary.trace_id_int)
                    if before is not None and key >= before:
                        continue
                    if len(heap) >= limit and key <= heap[0][:2]:
                        continue
                    if keep is not None and not keep(summary):
                        continue
                    item = (key[0], key[1], summary)
                    if len(heap) < limit:
                        heapq.heappush(heap, item)
                    else:
                        heapq.heapreplace(heap, item)
            if len(heap) >= limit and (i == 0 or heap[0][0] > latest_before[i - 1]):
                break
        heap.sort(reverse=True)
        return [summary for _, _, summary in heap]

    def _block(self, block: int, generation: int, seen: set[int]) -> list[TraceSummary]:
        """Summaries of the traces first met in ``block`` (walking newest first)."""
        found: list[TraceSummary] = []
        with self._lock:
            if generation != self._generation:
                return found
            slots = self._slots
            traces = self._traces
            capacity = self.capacity
            low = max(block << _BLOCK_BITS, self._next - capacity)
            high = min((block + 1) << _BLOCK_BITS, self._next)
            for seq in range(high - 1, low - 1, -1):
                trace_id = slots[seq % capacity][1]
                if trace_id in seen:
                    continue
                seen.add(trace_id)
                entry = traces.get(trace_id)
                if entry is not None:
                    found.append(_summary(trace_id, entry))
        return found


__all__ = ["SpanIndex", "TraceFilter", "TraceSummary"]
