"""Pipeline loss accounting: live counters and their immutable snapshots.

A pipeline is one destination of one signal (``"traces:otlp"``, ``"logs:store"``).
Its :class:`PipelineCounters` count items accepted, exported and dropped by
reason; :class:`PipelineStats` is a snapshot of them.

Imports: the standard library only.

Threading: every :class:`PipelineCounters` method may be called from any thread;
each takes one short lock and never raises.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: Why an item never reached a destination.
DROP_REASONS = ("queue_full", "export_failed", "shutdown", "sampled_out", "invalid")


class DropCounts(Mapping[str, int]):
    """Dropped items by reason: read-only; every known reason reads as 0 until it happens.

    Iteration, ``len`` and equality cover the reasons that occurred, so
    ``stats.dropped == {}`` means nothing was dropped, while
    ``stats.dropped["queue_full"]`` is always a number.

    >>> counts = DropCounts({"shutdown": 2})
    >>> counts["queue_full"], dict(counts), counts == {"shutdown": 2}
    (0, {'shutdown': 2}, True)
    """

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self._counts = {k: v for k, v in (counts or {}).items() if v}

    def __getitem__(self, reason: str) -> int:
        count = self._counts.get(reason)
        if count is not None:
            return count
        if reason in DROP_REASONS:
            return 0
        raise KeyError(reason)

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return repr(self._counts)


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """A snapshot of one pipeline (``"<signal>:<exporter>"``): items accepted,
    exported, dropped by reason, plus queue depth and the last export outcome."""

    accepted: int
    exported: int
    dropped: Mapping[str, int]
    queue_depth: int = 0
    last_export_ok: bool | None = None
    last_error: str | None = None
    last_export_time_ns: int | None = None
    causes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Items dropped as ``invalid``, by cause: the error code of a rejected API call
    (``INVALID_NAME``) or what failed inside flext (``scrub_failed``, an exception type)."""

    def __post_init__(self) -> None:
        if not isinstance(self.dropped, DropCounts):
            object.__setattr__(self, "dropped", DropCounts(self.dropped))

    @property
    def dropped_total(self) -> int:
        """All dropped items, whatever the reason."""
        return sum(self.dropped.values())

    @property
    def lost(self) -> int:
        """Dropped items that were meant for this destination (sampling excluded)."""
        return sum(n for reason, n in self.dropped.items() if reason != "sampled_out")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "accepted": self.accepted,
            "exported": self.exported,
            "dropped": dict(self.dropped),
            "queue_depth": self.queue_depth,
            "last_export_ok": self.last_export_ok,
            "last_error": self.last_error,
            "last_export_time_ns": self.last_export_time_ns,
            "causes": dict(self.causes),
        }


class PipelineCounters:
    """Live, thread-safe counters of one pipeline.

    ``accepted`` counts items handed to the pipeline, ``exported`` those that
    reached the destination and ``dropped`` those that never will, by reason.
    """

    __slots__ = (
        "_accepted",
        "_causes",
        "_dropped",
        "_exported",
        "_last",
        "_lock",
        "depth",
        "key",
    )

    def __init__(self, key: str, depth: Callable[[], int] | None = None) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._accepted = 0
        self._exported = 0
        self._dropped: dict[str, int] = {}
        self._causes: dict[str, int] = {}
        self._last: tuple[bool | None, str | None, int | None] = (None, None, None)
        self.depth = depth

    def accept(self, n: int = 1) -> None:
        """``n`` items entered the pipeline."""
        with self._lock:
            self._accepted += n

    def passed(self, n: int = 1) -> None:
        """``n`` items entered the pipeline and went through (one lock, not two)."""
        with self._lock:
            self._accepted += n
            self._exported += n

    def exported(self, n: int = 1, *, time_ns: int | None = None) -> None:
        """``n`` items reached the destination."""
        with self._lock:
            self._exported += n
            self._last = (True, None, time_ns)

    def drop(
        self,
        reason: str,
        n: int = 1,
        *,
        error: str | None = None,
        time_ns: int | None = None,
        cause: str | None = None,
    ) -> None:
        """``n`` items will never reach the destination, for ``reason`` (and ``cause``)."""
        if n <= 0:
            return
        with self._lock:
            self._dropped[reason] = self._dropped.get(reason, 0) + n
            if cause is not None:
                self._causes[cause] = self._causes.get(cause, 0) + n
            if error is not None:
                self._last = (False, error, time_ns)

    def failed(self, error: str, *, time_ns: int | None = None) -> None:
        """Record the last export outcome as a failure (no count change)."""
        with self._lock:
            self._last = (False, error, time_ns)

    def snapshot(self) -> PipelineStats:
        """The counters as an immutable :class:`PipelineStats`."""
        depth = 0
        if self.depth is not None:
            try:
                depth = int(self.depth())
            except Exception:  # a depth probe must never break stats
                depth = 0
        with self._lock:
            ok, error, when = self._last
            return PipelineStats(
                self._accepted,
                self._exported,
                MappingProxyType(dict(self._dropped)),
                depth,
                ok,
                error,
                when,
                MappingProxyType(dict(self._causes)),
            )
