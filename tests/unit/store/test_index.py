"""SpanIndex: the span ring indexed by trace, summaries kept on arrival and eviction."""

from __future__ import annotations

import random
import sys

import pytest

from flext_otel.store.index import SpanIndex, TraceSummary
from flext_otel.store.records import SpanRecord
from flext_otel.store.telemetry import TelemetryStore

BASE = 1_700_000_000_000_000_000


def _span(
    trace: int, span: int, start: int, *, parent: int | None = None, status: str = "unset"
) -> SpanRecord:
    return SpanRecord(
        f"s{span}", trace, span, parent, "internal", BASE + start, BASE + start + 10, status
    )


def _expected(spans: list[SpanRecord], limit: int) -> list[tuple[int, int]]:
    """What the trace list must hold, computed the slow way from the retained spans."""
    starts: dict[int, int] = {}
    for record in spans:
        starts[record[1]] = min(starts.get(record[1], record[5]), record[5])
    ordered = sorted(((start, tid) for tid, start in starts.items()), reverse=True)
    return ordered[:limit]


def test_trace_lookup_follows_arrival_and_eviction() -> None:
    """trace_spans gives a trace's retained spans in arrival order, evicted ones gone."""
    index = SpanIndex(3)
    a1, b1, a2, a3 = _span(1, 1, 0), _span(2, 2, 1), _span(1, 3, 2), _span(1, 4, 3)
    for record in (a1, b1, a2):
        index.append(record)
    assert index.trace_spans(1) == [a1, a2]
    index.append(a3)  # evicts a1
    assert index.trace_spans(1) == [a2, a3]
    assert index.trace_spans(2) == [b1]
    assert index.trace_spans(99) == []
    stats = index.stats()
    assert (stats.accepted, stats.evicted, stats.size) == (4, 1, 3)


def test_summary_is_kept_as_spans_arrive_and_leave() -> None:
    """A trace's start, end and error count follow its retained spans, eviction included."""
    index = SpanIndex(4)
    index.append(_span(7, 1, 0, status="error"))
    index.append(_span(7, 2, 5, parent=1))
    index.append(_span(7, 3, 9, parent=1, status="error"))
    (summary,) = index.recent(10)
    assert (summary.start_time_ns, summary.end_time_ns, summary.errors) == (
        BASE,
        BASE + 19,
        2,
    )
    index.append(_span(8, 4, 20))
    index.append(_span(8, 5, 21))  # evicts trace 7's first span (the earliest, an error)
    summary = next(t for t in index.recent(10) if t.trace_id_int == 7)
    assert (summary.start_time_ns, summary.errors, summary.span_count) == (BASE + 5, 1, 2)


def test_trace_list_matches_a_full_scan_at_any_capacity() -> None:
    """The newest traces by start, ties by trace ID, equal what sorting every span gives."""
    rng = random.Random(7)
    index = SpanIndex(5_000)
    spans: list[SpanRecord] = []
    for n in range(12_000):  # out-of-order starts and traces spread over many blocks
        trace = rng.randrange(1, 3_000)
        record = _span(trace, n + 1, n // 3 + rng.randrange(-400, 400))
        spans.append(record)
        index.append(record)
    retained = spans[-5_000:]
    for limit in (1, 100, 1_000):
        got = [(t.start_time_ns, t.trace_id_int) for t in index.recent(limit)]
        assert got == _expected(retained, limit)


def test_before_cursor_pages_through_every_trace_once() -> None:
    """Paging with (start, trace ID) cursors visits every retained trace exactly once."""
    index = SpanIndex(2_000)
    for n in range(3_000):
        index.append(_span(n % 700 + 1, n + 1, (n * 7) % 1_000))
    seen: list[int] = []
    before: tuple[int, int] | None = None
    while True:
        page = index.recent(64, before=before)
        if not page:
            break
        seen += [t.trace_id_int for t in page]
        before = (page[-1].start_time_ns, page[-1].trace_id_int)
    assert len(seen) == len(set(seen)) == index.trace_count()


def test_keep_filters_and_plain_time_before() -> None:
    """``keep`` filters traces; ``(time, -1)`` keeps traces that started strictly earlier."""
    index = SpanIndex(100)
    for n in range(10):
        index.append(_span(n + 1, n + 1, n * 10, status="error" if n % 2 else "unset"))
    failed = index.recent(100, keep=lambda t: t.error)
    assert [t.trace_id_int for t in failed] == [10, 8, 6, 4, 2]
    earlier = index.recent(100, before=(BASE + 30, -1))
    assert [t.trace_id_int for t in earlier] == [3, 2, 1]


def test_a_huge_trace_evicts_in_constant_time_and_stays_consistent() -> None:
    """One trace larger than the ring keeps exactly the newest spans, in order."""
    index = SpanIndex(1_000)
    records = [_span(1, n + 1, n) for n in range(10_000)]
    for record in records:
        index.append(record)
    assert index.trace_spans(1) == records[-1_000:]
    (summary,) = index.recent(5)
    assert summary.start_time_ns == records[-1_000][5]
    assert summary.span_count == 1_000


def test_clear_forgets_spans_and_keeps_counters() -> None:
    """clear() empties the ring and the index; accepted stays."""
    index = SpanIndex(10)
    for n in range(5):
        index.append(_span(n + 1, n + 1, n))
    index.clear()
    assert index.snapshot() == []
    assert index.recent(10) == []
    assert index.trace_spans(1) == []
    assert index.stats().accepted == 5


def test_store_recent_traces_is_newest_last_and_spans_traces_groups_them() -> None:
    """TelemetryStore.recent_traces lists newest last; spans(traces=n) gives their spans."""
    store = TelemetryStore(100)
    for n in range(6):
        store.add_span(_span(n // 2 + 1, n + 1, n))
    recent = store.recent_traces(2)
    assert all(isinstance(t, TraceSummary) for t in recent)
    assert [t.trace_id_int for t in recent] == [2, 3]
    assert [s[2] for s in store.spans(traces=2)] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="limit"):
        store.recent_traces(-1)


def test_single_span_traces_cost_no_extra_object() -> None:
    """A trace of one span is indexed by the record itself (memory per span stays small)."""
    index = SpanIndex(10)
    record = _span(1, 1, 0)
    index.append(record)
    assert index._traces[1] is record
    assert sys.getsizeof(index._traces) < 1_000
