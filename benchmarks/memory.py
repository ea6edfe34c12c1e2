"""Memory: RSS over a million spans at store capacity 10,000, and bytes per retained span.

Each measurement runs in a fresh interpreter (``run.py --child memory-...``) so
that nothing allocated by another case is counted:

* ``rss_child``: the default pipeline with ``store_capacity=10_000`` takes
  1,000,000 spans with 5 attributes (50,000 with ``--quick``). RSS is sampled
  every 10,000 spans from ``/proc/self/statm``; reported are the peak growth
  over the RSS before the first span, and the growth from the moment the store
  is full to the end (flat means the ring buffer really bounds memory).
* ``store_bytes_child`` / ``in_memory_bytes_child``: ``tracemalloc`` counts
  what 10,000 retained spans with 5 attributes hold (the store's records vs
  ``InMemorySpanExporter``'s ``ReadableSpan`` objects), after a warm-up and a
  clear, so caches and the containers' own growth are measured alike.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Callable
from typing import Any

from cases import ATTRIBUTES, private_otel, raw_span_pipeline
from harness import Row, Settings, Target, in_subprocess

CAPACITY = 10_000
SAMPLE_EVERY = 10_000
MB = 1024 * 1024


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident = int(statm.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


def _spans(tracer: Any, n: int) -> None:
    start = tracer.start_as_current_span
    for _ in range(n):
        with start("op", attributes=ATTRIBUTES):
            pass


def rss_child(settings: Settings) -> list[Row]:
    """RSS while 1M spans pass through a store of capacity 10,000."""
    total = settings.scaled(1_000_000, 50_000)
    with private_otel(store_capacity=CAPACITY) as otel:
        tracer = otel.tracer_provider.get_tracer("bench")
        _spans(tracer, 100)
        otel.store.clear()
        gc.collect()
        before = _rss_bytes()
        _spans(tracer, CAPACITY)
        full = _rss_bytes()
        peak = max(before, full)
        done = CAPACITY
        while done < total:
            step = min(SAMPLE_EVERY, total - done)
            _spans(tracer, step)
            done += step
            peak = max(peak, _rss_bytes())
        end = _rss_bytes()
        stored = otel.store.stats()["spans"]
        if stored.size != CAPACITY or stored.accepted < total:
            raise RuntimeError(f"unexpected store state after {total} spans: {stored}")
    note = f"{total:,} spans, 5 attributes, store capacity {CAPACITY:,}"
    return [
        Row(
            "memory",
            f"peak RSS growth over {total:,} spans",
            (peak - before) / MB,
            unit="MB",
            target=Target("<=", 64, suffix=" MB", absolute=True),
            note=note,
        ),
        Row(
            "memory",
            "RSS growth once the store is full (flat)",
            (end - full) / MB,
            unit="MB",
            target=Target("<=", 8, suffix=" MB", absolute=True),
            note=f"RSS {full / MB:.0f} MB when full, {end / MB:.0f} MB at the end",
        ),
    ]


def _retained_bytes(make_spans: Callable[[int], None], clear: Callable[[], None], n: int) -> float:
    make_spans(500)  # warm-up: caches, interned strings, first-use allocations
    clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        make_spans(n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / n


def store_bytes_child(settings: Settings) -> list[Row]:
    """Bytes per span retained by the store (5 attributes)."""
    n = settings.scaled(CAPACITY, 2_000)
    with private_otel(store_capacity=CAPACITY) as otel:
        tracer = otel.tracer_provider.get_tracer("bench")
        per_span = _retained_bytes(lambda count: _spans(tracer, count), otel.store.clear, n)
        if len(otel.store.spans()) != n:
            raise RuntimeError("the store did not keep every span")
    return [Row("memory", "bytes per retained span (store)", per_span, "bytes", note=f"{n:,}")]


def in_memory_bytes_child(settings: Settings) -> list[Row]:
    """Bytes per span retained by ``InMemorySpanExporter`` (5 attributes)."""
    n = settings.scaled(CAPACITY, 2_000)
    provider, exporter = raw_span_pipeline()
    tracer = provider.get_tracer("bench")
    per_span = _retained_bytes(lambda count: _spans(tracer, count), exporter.clear, n)
    if len(exporter.get_finished_spans()) != n:
        raise RuntimeError("the exporter did not keep every span")
    provider.shutdown()
    return [Row("memory", "bytes per retained span (InMemorySpanExporter)", per_span, "bytes")]


def memory(settings: Settings) -> list[Row]:
    """All memory measurements, each in its own interpreter."""
    rows = in_subprocess("memory-rss", settings)
    store = in_subprocess("memory-store", settings)[0]
    raw = in_subprocess("memory-inmemory", settings)[0]
    rows.append(
        Row(
            "memory",
            "bytes per retained span, 5 attributes (store)",
            store.value,
            unit="bytes",
            baseline="InMemorySpanExporter",
            baseline_value=raw.value,
            ratio=store.value / raw.value,
            target=Target("<=", 1_500, suffix=" B", absolute=True),
            note=f"tracemalloc, {store.note} spans retained",
        )
    )
    return rows


__all__ = ["in_memory_bytes_child", "memory", "rss_child", "store_bytes_child"]
