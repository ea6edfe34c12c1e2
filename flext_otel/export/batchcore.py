"""The engine of the batch processors: a bounded queue, a lazy worker, bounded exports.

:class:`_BatchCore` implements the guarantees stated in :mod:`flext_otel.export.batch`
(accounting, deadlines, backoff, fork safety) for items of any kind; the span
and log-record processors there give it a ``prepare`` step (unpack, transform)
and an exporter. (The class is longer than 250 lines on purpose: its state and
its one lock are shared by every method, and splitting it would spread the
locking rules over several classes.)

Imports: ``export.bounded``, ``support``. Threading: ``offer``/``reject`` run on
application threads (one short lock, O(1)); the worker thread prepares and
exports; ``force_flush``/``shutdown`` may run on any thread. Nothing here raises
into a caller except on invalid construction arguments.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from opentelemetry.context import detach

from flext_otel.export.bounded import (
    _describe,
    _Exporter,
    _Outage,
    _seconds,
    _stop_exporter,
    _weak_hook,
    suppressed,
)
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import LogOnce

_logger = logging.getLogger("flext_otel.export.batch")

T = TypeVar("T")

_INF = float("inf")
_SHUTDOWN_SLACK_S = 0.25
"""Extra time granted past a deadline for threads that were told to stop."""
_FORK_QUIESCE_S = 1.0
"""How long a fork waits for a running export to finish."""


class _Flight:
    """A batch taken from the queue: its export call's outcome (``done``, ``ok``,
    ``error``, set by the export thread) and whether it was counted (exactly once)."""

    __slots__ = ("done", "error", "ok", "settled", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.settled = self.done = self.ok = False
        self.error: str | None = None


class _BatchCore(Generic[T]):
    """Bounded queue + lazily started worker + deadline-bounded exports.

    Locking: ``_lock`` guards every field below; the ``_work`` condition wakes the
    worker, ``_settled`` wakes callers of :meth:`force_flush`. Counter updates that
    settle a batch happen under ``_lock`` so a batch is counted exactly once even
    when shutdown and the worker race for it.
    """

    def __init__(
        self,
        key: str,
        exporter: _Exporter,
        counters: PipelineCounters,
        *,
        max_queue_size: int,
        schedule_delay_ms: float,
        max_export_batch_size: int,
        export_timeout_ms: float,
        prepare: Callable[[list[T]], tuple[list[Any], int]],
        success: object,
        exporter_factory: Callable[[], _Exporter] | None,
        backoff: tuple[float, float] = (0.5, 5.0),
    ) -> None:
        for name, value in (
            ("max_queue_size", max_queue_size),
            ("max_export_batch_size", max_export_batch_size),
            ("schedule_delay_ms", schedule_delay_ms),
            ("export_timeout_ms", export_timeout_ms),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self._key = key
        self._exporter: _Exporter | None = exporter
        self._factory = exporter_factory
        self._counters = counters
        self._max_queue = int(max_queue_size)
        self._batch_size = min(int(max_export_batch_size), self._max_queue)
        self._delay_s = schedule_delay_ms / 1000.0
        self._export_timeout_s = export_timeout_ms / 1000.0
        self._prepare = prepare
        self._success = success
        self._backoff_range = backoff
        self._internal = LogOnce(f"{key} batch worker")
        self._outage = _Outage(key)
        self._init_state()
        counters.depth = self._depth_probe
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_weak_hook(self._before_fork),
                after_in_parent=_weak_hook(self._after_fork_in_parent),
                after_in_child=_weak_hook(self._after_fork_in_child),
            )

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[T] = deque()
        self._unreported = 0  # accepted items not yet added to the counters
        self._enqueued = 0  # items ever appended to the queue
        self._taken = 0  # items ever taken from the queue
        self._settled_n = 0  # items taken and counted (exported or dropped)
        self._failed_n = 0  # of those, items lost to a failed or cut-off export
        self._flush_target = 0
        self._flight: _Flight | None = None
        self._stuck: _Flight | None = None  # an abandoned export still running
        self._closing = False
        self._stop = False
        self._deadline = _INF  # the shutdown deadline, once shutdown began
        self._worker: threading.Thread | None = None
        self._forking = False  # no export starts while the process forks
        self._backoff = 0.0  # seconds to wait after a failed export, 0 when healthy
        self._retry_at = 0.0  # monotonic time before which no export is attempted
        self._full_episode = False  # the queue was full since it last drained
        self._full_alert = False  # a queue-full episode began and is not logged yet

    # -- application thread ----------------------------------------------
    def offer(self, item: T) -> None:
        """Queue ``item`` for export, or drop and count it; O(1), never blocks on I/O."""
        with self._lock:
            self._unreported += 1
            if self._closing:
                reason = "shutdown"
            else:
                queue = self._queue
                depth = len(queue)
                if depth < self._max_queue:
                    queue.append(item)
                    self._enqueued += 1
                    if depth + 1 == self._batch_size:
                        self._work.notify()
                    if self._worker is None:
                        self._start_worker()
                    return
                reason = "queue_full"
                if not self._full_episode:  # the worker logs it, off this thread
                    self._full_episode = self._full_alert = True
                    self._work.notify()
        self._report_accepted()
        self._counters.drop(reason)

    def reject(self, reason: str) -> None:
        """Count an item that was handed over but cannot be queued."""
        with self._lock:
            self._unreported += 1
        self._report_accepted()
        self._counters.drop(reason)

    def _start_worker(self) -> None:
        """Start the worker (called under the lock)."""
        worker = threading.Thread(target=self._run, name=f"flext-otel-batch[{self._key}]")
        worker.daemon = True
        try:
            worker.start()
        except RuntimeError:  # interpreter shutting down: items wait for shutdown()
            return
        self._worker = worker

    def _report_accepted(self) -> None:
        """Add the pending accepted count to the counters (before any outcome of
        those items is counted, so ``accepted`` never lags behind)."""
        with self._lock:
            if self._unreported:
                self._counters.accept(self._unreported)
                self._unreported = 0

    def _depth_probe(self) -> int:
        """Installed as the counters' depth probe: flushes the accepted count too."""
        self._report_accepted()
        return self.queue_depth()

    def queue_depth(self) -> int:
        """Items accepted but not yet exported or dropped (queued or in flight)."""
        with self._lock:
            flight = self._flight
            return len(self._queue) + (flight.size if flight is not None else 0)

    def stats(self) -> PipelineStats:
        """An exact snapshot of the counters, with the current queue depth."""
        self._report_accepted()
        return self._counters.snapshot()

    # -- worker -----------------------------------------------------------
    def _run(self) -> None:
        while True:
            taken = self._next_batch()
            self._log_queue_full()
            if taken is None:
                return
            items, flight = taken
            if flight is None:
                continue
            try:
                self._export(items, flight)
            except Exception as exc:  # a bug here must not kill the pipeline
                self._internal.failure(exc)
                self._settle(flight, 0, len(items), "export_failed", _describe(exc))

    def _next_batch(self) -> tuple[list[T], _Flight | None] | None:
        """The next batch to export; ``None`` to exit; no flight when only woken to log."""
        with self._lock:
            idle_until = time.monotonic() + self._delay_s
            while True:
                now = time.monotonic()
                if self._stop or (self._closing and now >= self._deadline):
                    return None
                if self._full_alert:
                    return [], None
                stuck = self._stuck
                if stuck is not None and stuck.done:
                    self._stuck = stuck = None
                queue = self._queue
                if stuck is None and queue and not self._forking:
                    due = len(queue) >= self._batch_size or now >= idle_until
                    if (
                        self._closing
                        or self._taken < self._flush_target
                        or (due and now >= self._retry_at)
                    ):
                        n = min(len(queue), self._batch_size)
                        items = [queue.popleft() for _ in range(n)]
                        self._taken += n
                        flight = self._flight = _Flight(n)
                        if not queue:
                            self._full_episode = False
                        break
                elif self._closing and not queue:
                    return None
                if now >= idle_until:
                    idle_until = now + self._delay_s
                wait = max(idle_until, self._retry_at) - now
                if self._closing:
                    wait = min(wait, self._deadline - now)
                self._work.wait(max(wait, 0.001))
        self._report_accepted()
        return items, flight

    def _log_queue_full(self) -> None:
        """Log the start of a queue-full episode (outside the lock: a logging handler
        may feed this very pipeline)."""
        with self._lock:
            alert = self._full_alert
            self._full_alert = False
        if alert:
            _logger.warning(
                "%s: export queue full (%d items); new items are dropped and counted as "
                "queue_full until it drains",
                self._key,
                self._max_queue,
            )

    def _export(self, items: list[T], flight: _Flight) -> None:
        kept, invalid = self._prepare(items)
        if not kept:
            self._settle(flight, 0, 0, "", None, invalid)
            return
        job = flight
        try:
            exporter = self._current_exporter()
            thread = threading.Thread(
                target=self._call_export,
                args=(exporter, kept, job),
                name=f"flext-otel-export[{self._key}]",
                daemon=True,
            )
            thread.start()
        except Exception as exc:
            self._settle(flight, 0, len(kept), "export_failed", _describe(exc), invalid)
            return
        give_up = time.monotonic() + self._export_timeout_s
        while True:
            with self._lock:
                while not job.done and not self._full_alert:
                    remaining = min(give_up, self._deadline) - time.monotonic()
                    if remaining <= 0:
                        break
                    self._work.wait(remaining)
                finished = job.done
                expired = not finished and time.monotonic() >= min(give_up, self._deadline)
                if expired:
                    self._stuck = job
            self._log_queue_full()
            if finished or expired:
                break
        if finished:
            thread.join()
            if job.ok:
                self._settle(flight, len(kept), 0, "", None, invalid)
            else:
                self._settle(flight, 0, len(kept), "export_failed", job.error, invalid)
        elif time.monotonic() >= self._deadline:
            error = "export cut off by shutdown deadline"
            self._settle(flight, 0, len(kept), "shutdown", error, invalid)
        else:
            error = f"export timed out after {self._export_timeout_s * 1000:.0f} ms"
            self._settle(flight, 0, len(kept), "export_failed", error, invalid)

    def _current_exporter(self) -> _Exporter:
        exporter = self._exporter
        if exporter is None:
            if self._factory is None:
                raise RuntimeError("no exporter")
            exporter = self._exporter = self._factory()
        return exporter

    def _call_export(self, exporter: _Exporter, batch: list[Any], job: _Flight) -> None:
        token = suppressed()
        ok, error = False, None
        try:
            result = exporter.export(batch)
            ok = result == self._success
            if not ok:
                error = f"exporter returned {getattr(result, 'name', result)}"
        except Exception as exc:  # the exporter's failure is counted, never raised
            error = _describe(exc)
        finally:
            detach(token)
        with self._lock:
            job.ok, job.error, job.done = ok, error, True
            self._work.notify_all()
            self._settled.notify_all()

    def _settle(
        self,
        flight: _Flight,
        exported: int,
        lost: int,
        reason: str,
        error: str | None,
        invalid: int = 0,
    ) -> None:
        """Count a batch once: ``exported`` delivered, ``lost`` dropped for ``reason``,
        ``invalid`` rejected by a transform."""
        now = time.time_ns()
        outcome: bool | None = None
        with self._lock:
            if flight.settled:
                return
            flight.settled = True
            if invalid:
                self._counters.drop("invalid", invalid, cause="scrub_failed")
            if exported:
                self._counters.exported(exported, time_ns=now)
                outcome = True
                self._backoff = self._retry_at = 0.0
            if lost:
                self._counters.drop(reason, lost, error=error, time_ns=now)
                self._failed_n += lost
                outcome = False
                low, high = self._backoff_range
                self._backoff = min(max(self._backoff * 2, low), high)
                self._retry_at = time.monotonic() + self._backoff
            if self._flight is flight:
                self._flight = None
            self._settled_n += flight.size
            self._settled.notify_all()
        if outcome is True:
            self._outage.success()
        elif outcome is False and reason != "shutdown":
            self._outage.failure(error)

    # -- lifecycle ----------------------------------------------------------
    def force_flush(self, timeout_millis: float | None) -> bool:
        """Export everything queued before the call; False on deadline or failure."""
        deadline = time.monotonic() + _seconds(timeout_millis)
        with self._lock:
            if self._closing:
                return False
            target = self._enqueued
            failed_before = self._failed_n
            if self._settled_n >= target:
                return True
            self._flush_target = max(self._flush_target, target)
            self._work.notify_all()
            while self._settled_n < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._settled.wait(remaining)
            return self._failed_n == failed_before

    def shutdown(self, timeout_millis: float | None) -> None:
        """Drain within the deadline, count what is left as ``shutdown``, stop."""
        deadline = time.monotonic() + _seconds(timeout_millis)
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._deadline = deadline
            worker = self._worker
            self._work.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(deadline - time.monotonic(), 0.0) + _SHUTDOWN_SLACK_S)
        self._report_accepted()
        with self._lock:
            self._stop = True
            self._work.notify_all()
            leftover = len(self._queue)
            if leftover:
                self._queue.clear()
                self._counters.drop("shutdown", leftover)
                self._settled_n += leftover
                self._failed_n += leftover
                self._settled.notify_all()
            flight = self._flight
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(_SHUTDOWN_SLACK_S)
        if flight is not None:  # the worker is stuck outside an export (e.g. a transform)
            self._settle(flight, 0, flight.size, "shutdown", "cut off by shutdown deadline")
        if self._exporter is not None:
            _stop_exporter(self._exporter, deadline - time.monotonic(), self._key)

    # -- fork ----------------------------------------------------------------
    def _before_fork(self) -> None:
        """Let a running export finish (bounded) and start no new one until the fork
        is done, so no thread of ours is inside the exporter's network library
        (gRPC skips its own fork handlers while a call is in progress)."""
        current = threading.current_thread()
        with self._lock:
            self._forking = True
            if current is self._worker:
                return
            give_up = time.monotonic() + _FORK_QUIESCE_S
            while self._flight is not None or (self._stuck is not None and not self._stuck.done):
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    return
                self._settled.wait(remaining)

    def _after_fork_in_parent(self) -> None:
        with self._lock:
            self._forking = False
            self._work.notify_all()

    def _after_fork_in_child(self) -> None:
        """Fresh locks, empty queue, zeroed counters; the worker restarts lazily."""
        closing = self._closing
        self._init_state()
        self._closing = closing
        self._stop = closing
        self._outage = _Outage(self._key)
        # The parent's counter lock may have been held at fork time; re-running the
        # constructor gives the child a fresh lock and counts of its own work only.
        counters = self._counters
        PipelineCounters.__init__(counters, counters.key, self._depth_probe)
        if self._factory is not None:
            self._exporter = None  # built on first export, in the child


__all__: list[str] = []
