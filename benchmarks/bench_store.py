"""The store: query cost as it grows (100,000 and 1,000,000 spans) and memory per span.

Runs in a fresh interpreter (``run.py --child store``) so the million-span store
and ``tracemalloc`` see nothing of the other cases:

* ``store.trace(id)`` and ``GET /api/traces?limit=100`` on stores holding
  100,000 and 1,000,000 spans (10,000 and 50,000 with ``--quick``), traces of
  10 spans (a root and 9 children) with 5 attributes each. Bounded by the trace
  index: a lookup is one dictionary access plus the tree of that trace; the
  trace list reads the newest block or two of 1,024 spans, then builds 100 rows
  and their JSON, whatever the store holds.
* bytes per retained span through the default pipeline (5 attributes, store
  capacity 10,000; ``tracemalloc`` after a warm-up): the record, its attribute
  dict, a ring slot and the trace index entry.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from cases import ATTRIBUTES, private_otel
from harness import Row, Settings, Target, in_subprocess

from flext_otel.store.records import SpanRecord
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.web import liveview

SPANS_PER_TRACE = 10
BASE_NS = 1_700_000_000_000_000_000
MEMORY_SPANS = 10_000


def fill(store: TelemetryStore, total: int, seed: int = 17) -> list[str]:
    """``total`` spans in traces of 10, in end order, as a live process would end them;
    returns the trace IDs."""
    rng = random.Random(seed)
    resource = {"service.name": "bench", "service.instance.id": "i-1"}
    add = store.add_span
    ids: list[str] = []
    for trace in range(total // SPANS_PER_TRACE):
        trace_id = rng.getrandbits(128) | 1
        root_id = rng.getrandbits(64) | 1
        start = BASE_NS + trace * 1_000_000
        for child in range(SPANS_PER_TRACE - 1):
            begin = start + 1_000 + child * 50_000
            add(
                SpanRecord(
                    f"child-{child}",
                    trace_id,
                    rng.getrandbits(64) | 1,
                    root_id,
                    "client",
                    begin,
                    begin + 40_000,
                    "unset",
                    None,
                    {**ATTRIBUTES, "user.id": trace},
                    (),
                    resource,
                    "bench",
                )
            )
        add(
            SpanRecord(
                "GET /users/{id}",
                trace_id,
                root_id,
                None,
                "server",
                start,
                start + 900_000,
                "ok",
                None,
                {**ATTRIBUTES, "user.id": trace},
                (),
                resource,
                "bench",
            )
        )
        ids.append(format(trace_id, "032x"))
    return ids


def _median_ms(run: Callable[[int], object], ops: int, rounds: int) -> float:
    run(ops)  # warm-up
    times = []
    for _ in range(rounds):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            run(ops)
            times.append((time.perf_counter_ns() - start) / ops / 1e6)
        finally:
            gc.enable()
    return statistics.median(times)


def query_rows(total: int, settings: Settings) -> list[Row]:
    """``store.trace(id)`` and ``GET /api/traces?limit=100`` with ``total`` spans stored."""
    with private_otel(store_capacity=total) as otel:
        store = otel.store
        ids = fill(store, total)
        if store.stats()["spans"].size != total:
            raise RuntimeError("the store did not keep every span")
        rng = random.Random(3)
        picks = [rng.choice(ids) for _ in range(1_000)]

        def lookups(n: int) -> None:
            trace = store.trace
            for i in range(n):
                if not trace(picks[i % 1_000]):
                    raise RuntimeError("a stored trace was not found")

        def listing(n: int) -> None:
            for _ in range(n):
                answer = liveview.handle("GET", "/api/traces", "limit=100", otel)
                if answer is None or answer[0] != 200:
                    raise RuntimeError(f"/api/traces failed: {answer}")

        rounds = settings.rounds
        trace_ms = _median_ms(lookups, settings.scaled(500, 50), rounds)
        list_ms = _median_ms(listing, settings.scaled(10, 2), rounds)
    label = f"{total:,} spans stored"
    return [
        Row(
            "store",
            f"store.trace(id), {label}",
            trace_ms,
            unit="ms",
            target=Target("<=", 0.5, suffix=" ms", absolute=True),
            note="bounded by the trace (10 spans): one index lookup and its tree",
        ),
        Row(
            "store",
            f"GET /api/traces?limit=100, {label}",
            list_ms,
            unit="ms",
            target=Target("<=", 20, suffix=" ms", absolute=True),
            note="bounded by the page: the newest 1-2 blocks of 1,024 spans, 100 rows, JSON",
        ),
    ]


def _spans(tracer: Any, n: int) -> None:
    start = tracer.start_as_current_span
    for _ in range(n):
        with start("op", attributes=ATTRIBUTES):
            pass


def memory_row(settings: Settings) -> Row:
    """Bytes per span retained by the store through the default pipeline (5 attributes)."""
    n = settings.scaled(MEMORY_SPANS, 2_000)
    with private_otel(store_capacity=MEMORY_SPANS) as otel:
        tracer = otel.tracer_provider.get_tracer("bench")
        _spans(tracer, 500)  # warm-up: caches, first-use allocations
        otel.store.clear()
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            _spans(tracer, n)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        if len(otel.store.spans()) != n:
            raise RuntimeError("the store did not keep every span")
    return Row(
        "store",
        "bytes per retained span, 5 attributes (store + trace index)",
        (after - before) / n,
        unit="bytes",
        target=Target("<=", 600, suffix=" B", absolute=True),
        note=f"tracemalloc, {n:,} spans; bounded by the record (13-field tuple, int IDs), "
        "its attribute dict, a ring slot and one index entry per trace",
    )


def store_child(settings: Settings) -> list[Row]:
    """Every store row, in this (fresh) interpreter: memory first, then the queries."""
    rows = [memory_row(settings)]
    for total in (settings.scaled(100_000, 10_000), settings.scaled(1_000_000, 50_000)):
        rows.extend(query_rows(total, settings))
        gc.collect()
    return rows


def store(settings: Settings) -> list[Row]:
    """The store rows, measured in a fresh interpreter."""
    return in_subprocess("store", settings, timeout=1_800.0)


__all__ = ["fill", "memory_row", "query_rows", "store", "store_child"]
