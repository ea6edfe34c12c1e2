"""Who reports to the hub: one entry per process (``service.instance.id``).

:class:`Instances` counts, per instance, what it sent (spans, log records, metric
data points), what was refused as invalid, and when it was first and last heard
of. An instance is named by its resource's ``service.instance.id``; a process
whose SDK sets none is named ``<service>/<process.pid>`` (or ``<service>`` alone).

Imports: ``support``. Threading: one lock; safe from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flext_otel.support.resources import identify

__all__ = ["InstanceStats", "Instances", "identify"]


@dataclass(slots=True)
class InstanceStats:
    """What one instance sent (spans, logs, metric points), how much of it was
    refused as invalid and how much stored (or merged), and when it was first and
    last heard of. Evictions and forwarding are counted per signal, hub-wide."""

    service: str
    instance: str
    pid: int | None
    first_seen_ns: int
    last_seen_ns: int
    spans: int = 0
    logs: int = 0
    metric_points: int = 0
    invalid: int = 0
    stored: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The ``/api/instances`` row."""
        return {
            "service": self.service,
            "instance": self.instance,
            "pid": self.pid,
            "first_seen": self.first_seen_ns,
            "last_seen": self.last_seen_ns,
            "spans": self.spans,
            "logs": self.logs,
            "metric_points": self.metric_points,
            "invalid": self.invalid,
            "stored": self.stored,
        }


class Instances:
    """Per-instance counts; ``max_instances`` bounds memory (the oldest silent go)."""

    def __init__(self, max_instances: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, InstanceStats] = {}
        self._max = max_instances

    def count(
        self,
        resource: Mapping[str, Any],
        *,
        spans: int = 0,
        logs: int = 0,
        metric_points: int = 0,
        invalid: int = 0,
        stored: int = 0,
    ) -> tuple[str, str]:
        """Add to the counts of the resource's instance; returns ``(service, instance)``."""
        service, instance, pid = identify(resource)
        now = time.time_ns()
        with self._lock:
            entry = self._by_id.get(instance)
            if entry is None:
                if len(self._by_id) >= self._max:
                    oldest = min(self._by_id.values(), key=lambda e: e.last_seen_ns)
                    del self._by_id[oldest.instance]
                entry = self._by_id[instance] = InstanceStats(service, instance, pid, now, now)
            entry.last_seen_ns = now
            entry.spans += spans
            entry.logs += logs
            entry.metric_points += metric_points
            entry.invalid += invalid
            entry.stored += stored
        return service, instance

    def rows(self, service: str | None = None, instance: str | None = None) -> list[InstanceStats]:
        """Copies of the entries (optionally one service's or one instance's), oldest first."""
        with self._lock:
            entries = list(self._by_id.values())
        return [
            InstanceStats(**{f: getattr(e, f) for f in InstanceStats.__slots__})
            for e in sorted(entries, key=lambda e: e.first_seen_ns)
            if (service is None or e.service == service)
            and (instance is None or e.instance == instance)
        ]

    def totals(self) -> dict[str, int]:
        """Sums over every instance: spans, logs, metric_points, invalid."""
        with self._lock:
            entries = list(self._by_id.values())
        return {
            "spans": sum(e.spans for e in entries),
            "logs": sum(e.logs for e in entries),
            "metric_points": sum(e.metric_points for e in entries),
            "invalid": sum(e.invalid for e in entries),
        }
