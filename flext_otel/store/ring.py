"""A bounded, thread-safe ring buffer that keeps the newest items and counts the rest.

Used by the store for log records, alerts and health results (spans use the
indexed ring of :mod:`flext_otel.store.index`). Imports: ``store.records`` only.
Every method takes the buffer's one lock for O(1) work (``snapshot`` copies
references); nothing here raises except on a bad capacity at construction.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from flext_otel.store.records import SignalStats

T = TypeVar("T")


def check_capacity(capacity: object) -> int:
    """``capacity`` when it is a positive int, else :class:`ValueError`."""
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise ValueError(f"capacity must be a positive int, got {capacity!r}")
    return capacity


class RingBuffer(Generic[T]):
    """A thread-safe ring buffer that keeps the newest ``capacity`` items."""

    __slots__ = ("_accepted", "_cleared", "_items", "_lock", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        self._items: deque[T] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._accepted = 0
        self._cleared = 0  # every accepted item is held, evicted or cleared

    def append(self, item: T) -> None:
        """Add ``item``; the oldest item is evicted (and counted) when full."""
        with self._lock:
            self._items.append(item)
            self._accepted += 1

    def snapshot(self) -> list[T]:
        """The items, oldest first."""
        with self._lock:
            return list(self._items)

    def stats(self) -> SignalStats:
        """Accepted and evicted counts, capacity and current size."""
        with self._lock:
            size = len(self._items)
            evicted = self._accepted - self._cleared - size
            return SignalStats(self._accepted, evicted, self.capacity, size)

    def clear(self) -> None:
        """Drop every item (counters are kept)."""
        with self._lock:
            self._cleared += len(self._items)
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


__all__ = ["RingBuffer", "check_capacity"]
