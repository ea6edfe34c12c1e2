"""TelemetryStore: bounded ring buffers, exact counters, queries and trace trees."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timezone
from types import MappingProxyType

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from flext_otel.pipeline.processors import StoreSpanProcessor
from flext_otel.store.telemetry import RingBuffer, SpanRecord, TelemetryStore


def _provider(store: TelemetryStore) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(StoreSpanProcessor(store))
    return provider


def test_ring_buffer_keeps_newest_and_counts_evictions() -> None:
    """A full ring buffer evicts the oldest item and counts it."""
    ring: RingBuffer[int] = RingBuffer(3)
    for i in range(10):
        ring.append(i)
    assert ring.snapshot() == [7, 8, 9]
    stats = ring.stats()
    assert (stats.accepted, stats.evicted, stats.capacity, stats.size) == (10, 7, 3, 3)


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "10"])
def test_ring_buffer_rejects_bad_capacity(bad: object) -> None:
    """Capacity must be a positive int."""
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(bad)  # type: ignore[arg-type]


def test_store_keeps_exactly_newest_n_under_threads() -> None:
    """8 threads x 10,000 spans: exactly the newest N kept, counts exact."""
    capacity, threads, per_thread = 5_000, 8, 10_000
    store = TelemetryStore(capacity)
    tracer = _provider(store).get_tracer("load")
    barrier = threading.Barrier(threads)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            with tracer.start_as_current_span(f"w{worker}", attributes={"i": i}):
                pass

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    stats = store.stats()["spans"]
    total = threads * per_thread
    assert stats.accepted == total
    assert stats.evicted == total - capacity
    assert stats.size == capacity
    kept = store.spans()
    assert len(kept) == capacity
    # the newest per worker: each worker's kept indexes form a suffix ending at the last span
    for worker in range(threads):
        indexes = [s.attributes["i"] for s in kept if s.name == f"w{worker}"]
        if indexes:
            assert indexes == list(range(per_thread - len(indexes), per_thread))


def test_span_record_shape() -> None:
    """Stored spans are compact, immutable and OTel-shaped."""
    store = TelemetryStore()
    tracer = _provider(store).get_tracer("shape", "1.0")
    with tracer.start_as_current_span("parent") as parent:
        with tracer.start_as_current_span("child", attributes={"k": "v", "n": [1, 2]}) as child:
            child.add_event("tick", {"x": 1})
            child.set_status(Status(StatusCode.ERROR, "bad"))
    child_rec, parent_rec = store.spans()
    assert len(child_rec.trace_id) == 32
    assert int(child_rec.trace_id, 16)
    assert child_rec.trace_id == format(parent.get_span_context().trace_id, "032x")
    assert child_rec.span_id == format(child.get_span_context().span_id, "016x")
    assert child_rec.parent_span_id == parent_rec.span_id
    assert parent_rec.parent_span_id is None
    assert child_rec.status == "error"
    assert child_rec.status_description == "bad"
    assert child_rec.kind == "internal"
    assert child_rec.scope == "shape"
    assert child_rec.events[0][0] == "tick"
    assert child_rec.events[0][2]["x"] == 1
    assert child_rec.duration_ms >= 0
    assert child_rec.end_time_ns >= child_rec.start_time_ns
    assert child_rec.resource is parent_rec.resource  # shared, not copied
    with pytest.raises(TypeError):
        child_rec.attributes["k"] = "changed"  # type: ignore[index]
    with pytest.raises(AttributeError):
        child_rec.name = "x"  # type: ignore[misc]
    assert not hasattr(child_rec, "__dict__")
    data = child_rec.to_dict()
    assert data["attributes"] == {"k": "v", "n": [1, 2]}
    assert data["parent_span_id"]


def test_span_queries() -> None:
    """spans() filters by name, trace_id, status, attributes and since; newest last."""
    store = TelemetryStore()
    tracer = _provider(store).get_tracer("q")
    before = datetime.now(timezone.utc)
    for i in range(5):
        with tracer.start_as_current_span("a" if i % 2 else "b", attributes={"i": i}) as s:
            if i == 3:
                s.set_status(Status(StatusCode.ERROR))
    names = [s.name for s in store.spans()]
    assert names == ["b", "a", "b", "a", "b"]
    assert [s.attributes["i"] for s in store.spans("a")] == [1, 3]
    assert [s.attributes["i"] for s in store.spans(status="error")] == [3]
    assert [s.attributes["i"] for s in store.spans(attributes={"i": 4})] == [4]
    one = store.spans()[2]
    assert store.spans(trace_id=one.trace_id) == [one]
    assert len(store.spans(since=before)) == 5
    assert store.spans(since=datetime(2999, 1, 1, tzinfo=timezone.utc)) == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": 3}, TypeError),
        ({"trace_id": "xyz"}, ValueError),
        ({"trace_id": 5}, TypeError),
        ({"status": "failed"}, ValueError),
        ({"attributes": [("a", 1)]}, TypeError),
        ({"since": "yesterday"}, TypeError),
        ({"since": datetime(2020, 1, 1)}, ValueError),
    ],
)
def test_span_query_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    """Bad query arguments raise TypeError/ValueError with a sentence."""
    with pytest.raises(error, match=r"must"):
        TelemetryStore().spans(**kwargs)  # type: ignore[arg-type]


def test_trace_builds_tree_in_start_order() -> None:
    """trace() returns roots with children in start order."""
    store = TelemetryStore()
    tracer = _provider(store).get_tracer("tree")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("first"):
            with tracer.start_as_current_span("grandchild"):
                pass
        with tracer.start_as_current_span("second"):
            pass
    with tracer.start_as_current_span("other-trace"):
        pass
    roots = store.trace(format(root.get_span_context().trace_id, "032x"))
    assert len(roots) == 1
    assert roots[0].span.name == "root"
    assert [c.span.name for c in roots[0].children] == ["first", "second"]
    assert [c.span.name for c in roots[0].children[0].children] == ["grandchild"]
    assert [(d, s.name) for d, s in roots[0].walk()] == [
        (0, "root"),
        (1, "first"),
        (2, "grandchild"),
        (1, "second"),
    ]
    assert store.trace("0" * 31 + "1") == []
    with pytest.raises(ValueError, match="32 hex"):
        store.trace("not-hex")


def test_trace_with_evicted_parent_promotes_orphans_to_roots() -> None:
    """A span whose parent is gone from the buffer shows as a root."""
    store = TelemetryStore(2)
    tracer = _provider(store).get_tracer("evict")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("a"):
            pass
        with tracer.start_as_current_span("b"):
            pass
    tid = format(root.get_span_context().trace_id, "032x")
    # root ended last, so "a" was evicted: roots are "root" with child "b"
    roots = store.trace(tid)
    assert [r.span.name for r in roots] == ["root"]
    assert [c.span.name for c in roots[0].children] == ["b"]


def test_logs_queries_and_bad_arguments() -> None:
    """logs() filters by level, trace, correlation ID and text; bad arguments are errors."""
    from flext_otel.store.telemetry import LogRecordView

    store = TelemetryStore()
    tid = int("ab" * 16, 16)
    store.add_log(LogRecordView(1, "INFO", 9, "hello world", MappingProxyType({})))
    store.add_log(
        LogRecordView(
            2, "ERROR", 17, "disk full", MappingProxyType({"flext.correlation_id": "req-1"}), tid, 5
        )
    )
    assert [r.body for r in store.logs(min_level="warning")] == ["disk full"]
    assert [r.body for r in store.logs(min_level=17)] == ["disk full"]
    assert [r.body for r in store.logs(trace_id="ab" * 16)] == ["disk full"]
    assert [r.body for r in store.logs(correlation_id="req-1")] == ["disk full"]
    assert [r.body for r in store.logs(contains="HELLO")] == ["hello world"]
    record = store.logs()[1]
    assert record.trace_id == "ab" * 16
    assert record.span_id == "0000000000000005"
    assert record.correlation_id == "req-1"
    with pytest.raises(ValueError, match="min_level"):
        store.logs(min_level="loud")
    with pytest.raises(TypeError, match="min_level"):
        store.logs(min_level=True)
    with pytest.raises(ValueError, match="min_level"):
        store.logs(min_level=99)


def test_clear_keeps_counters() -> None:
    """clear() empties the buffers but keeps the accepted counts."""
    store = TelemetryStore()
    tracer = _provider(store).get_tracer("c")
    with tracer.start_as_current_span("x"):
        pass
    store.clear()
    assert store.spans() == []
    assert store.stats()["spans"].accepted == 1


def test_record_memory_is_compact() -> None:
    """A stored span record itself is a small tuple (attributes are the span's own)."""
    record = SpanRecord("n", 1, 2, None, "internal", 0, 1)
    assert sys.getsizeof(record) < 200


def test_store_processor_never_raises_and_counts() -> None:
    """A failing transform is swallowed, logged once and counted as invalid."""
    store = TelemetryStore()
    provider = TracerProvider(shutdown_on_exit=False)

    def broken(span: object) -> object:
        raise RuntimeError("transform bug")

    processor = StoreSpanProcessor(store, broken)  # type: ignore[arg-type]
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(3):
        with tracer.start_as_current_span("x"):
            pass
    stats = processor.stats()
    assert stats.dropped == {"invalid": 3}
    assert stats.exported == 0
    assert stats.accepted == 3
    processor.shutdown()
    with tracer.start_as_current_span("late"):
        pass
    assert processor.stats().dropped["shutdown"] == 1


def test_pipeline_stats_read_every_known_reason_as_zero() -> None:
    """dropped[reason] is 0 for any known reason that has not happened; equality and
    iteration cover only the reasons that occurred."""
    from flext_otel.support.counters import DROP_REASONS, PipelineStats

    stats = PipelineStats(accepted=3, exported=2, dropped={"queue_full": 1, "invalid": 0})
    assert [stats.dropped[reason] for reason in DROP_REASONS] == [1, 0, 0, 0, 0]
    assert stats.dropped == {"queue_full": 1}
    assert dict(stats.dropped) == {"queue_full": 1}
    with pytest.raises(KeyError):
        stats.dropped["no-such-reason"]
