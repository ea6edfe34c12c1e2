"""Failures of one pipeline that have no processor of their own to count them.

A rejected API call (``flext_otel.metric("bad name", 1)``) or a failure inside the
decorator's own instrumentation never reaches a processor, so no pipeline
counter would see it. :class:`FailureLedger` counts them under pipeline keys of
their own (``"api:metric"``, ``"api:decorator"``, ...) as ``invalid`` drops with
a *cause* (the error code or what failed), and logs the first occurrence of each
cause of each key once at WARNING. ``FlextOtel.stats()`` merges its snapshot, so
the counts appear in ``stats()``, ``/health`` and the ``flext.pipeline.*``
metrics.

Only failures are counted (the success path pays nothing), so a ledger key's
``accepted`` is the number of items it turned away: ``accepted == dropped``,
``exported == 0``. What was recorded is counted by the pipelines that carried it
(``traces:store``, ``logs:store``, ...). A key appears with its first failure.

Imports: the standard library and ``support`` only.

Threading: :meth:`FailureLedger.record` may be called from any thread and never
raises; it takes one short lock (two the first time a key is seen).
"""

from __future__ import annotations

import threading

from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import LogOnce

#: Longest error text quoted in the one log line per cause.
_DETAIL_LIMIT = 200


class FailureLedger:
    """Counts and logs failures by pipeline key and cause (see the module docs)."""

    __slots__ = ("_counters", "_lock", "_once")

    def __init__(self) -> None:
        self._counters: dict[str, PipelineCounters] = {}
        self._lock = threading.Lock()
        self._once = LogOnce("flext-otel")

    def counters(self, key: str) -> PipelineCounters:
        """The live counters of ``key`` (created on first use)."""
        found = self._counters.get(key)
        if found is None:
            with self._lock:
                found = self._counters.setdefault(key, PipelineCounters(key))
        return found

    def record(
        self, key: str, cause: str, detail: str | None = None, *, reason: str = "invalid"
    ) -> None:
        """Count one item of ``key`` dropped for ``reason`` / ``cause``; log the first
        of each cause of each key (with ``detail``, cut to 200 characters)."""
        try:
            counters = self.counters(key)
            counters.accept()
            counters.drop(reason, cause=cause)
            text = f": {detail[:_DETAIL_LIMIT]}" if detail else ""
            self._once.log(
                f"{key}\0{cause}",
                "flext-otel %s: %s%s (further %s failures are only counted: stats()[%r].causes, "
                "/health, flext.pipeline.dropped)",
                key,
                cause,
                text,
                cause,
                key,
            )
        except Exception:  # counting a failure must never become one
            return

    def stats(self) -> dict[str, PipelineStats]:
        """A snapshot of every key that has counted something."""
        with self._lock:
            counters = list(self._counters.values())
        return {c.key: c.snapshot() for c in counters}


__all__ = ["FailureLedger"]
