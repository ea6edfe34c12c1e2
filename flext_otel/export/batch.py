"""Lossless, non-blocking batch export of spans and log records.

:class:`BatchSpanExportProcessor` and :class:`BatchLogExportProcessor` replace the
SDK's batch processors for network exporters; :class:`CountingMetricExporter`
wraps a push metric exporter. Guarantees:

* **The caller never waits for the network.** ``on_end`` / ``on_emit`` take one
  short lock, append to a bounded queue and return (O(1), never raise).
  Transforms (such as scrubbing) and ``exporter.export`` run in the background.
* **Every item is accounted for.** Each item handed over is ``accepted`` and ends
  up ``exported`` or dropped with a reason: ``queue_full`` (the queue was at its
  bound: the *new* item is refused, queued ones are kept), ``export_failed``
  (the exporter failed, raised, or outlived ``export_timeout_ms``; counted as
  failed even if it completes later), ``shutdown`` (queued or in flight at the
  shutdown deadline, or handed over after shutdown) and ``invalid`` (a
  transform rejected it). At any moment ``accepted == exported + dropped +
  queue_depth``; after :meth:`shutdown` ``queue_depth`` is 0. Unsampled spans
  are skipped without being counted.
* **Deadlines win.** Each export runs on a daemon thread that the worker
  abandons at ``export_timeout_ms`` or at the shutdown deadline, so a stuck call
  or a retry backoff cannot hold up ``force_flush`` or ``shutdown``. While an
  abandoned export still runs no new one starts (threads never pile up). OTLP
  exporters retry on their own: give them a ``timeout`` below
  ``export_timeout_ms``.
* **Outages are quiet and cheap.** The first failure of an outage is logged once
  at WARNING (no traceback), the recovery once at INFO, a full queue once per
  episode. After a failed export the worker waits 0.5 s, doubling up to 5 s,
  before the next attempt (``force_flush`` and ``shutdown`` try at once): new
  items wait in the queue for the collector instead of failing batch after
  batch, and a dead collector costs the application little CPU.
* **Fork safe** (gunicorn/uwsgi pre-fork workers, ``multiprocessing`` with the
  fork start method). Before ``os.fork()`` a running export may finish (at most
  1 s) and none starts until the fork is done, so no thread of ours is inside
  the network library when the process is copied (gRPC skips its fork handlers
  while a call is in progress; a child copied mid-call can hang or crash). The
  child gets fresh locks, forgets the parent's queued items (the parent
  delivers them; the child's counters restart at zero), restarts the worker on
  its next item and, given ``exporter_factory``, builds a fresh exporter
  instead of using the parent's connection. A child that ends with
  ``os._exit`` (as ``multiprocessing`` children do) must shut down itself, e.g.
  through ``multiprocessing.util.Finalize``.

Memory and garbage collection: a queued span is not the SDK span (a dozen
garbage-collected objects, about 2.8 KiB) but a flat tuple of its plain values
referring to its immutable attributes, events and links, rebuilt into an
equivalent ``ReadableSpan`` on the worker: about 0.9 KiB and 4 tracked objects
(CPython 3.11, three attributes). The default bound of 20,480 spans thus holds
at most about 18 MiB, a full garbage collection over 20,000 queued spans takes
about 11 ms (75 ms with SDK span objects), and a burst of 10,000 spans ended
back to back fits without loss. Queued log records are the SDK records (about
0.8 KiB, 4 tracked objects each).

Nothing starts a thread, opens a connection or touches an OTel global at import
or construction time: the worker starts with the first item.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from copy import copy
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

# _SUPPRESS_INSTRUMENTATION_KEY is the SDK's own "do not instrument the exporter's
# network calls" key; without it an instrumented HTTP client would trace every
# export and feed the pipeline with its own spans.
from opentelemetry.context import Context, attach, detach, set_value
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.export.spanpack import Packed, pack_span, unpack_span
from flext_otel.guardrails.transform import LogTransform, SpanTransform
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import _OnceLogger
from flext_otel.support.otel_private import (
    SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_INSTRUMENTATION_KEY,
)
from flext_otel.support.otel_private import (
    LogRecordExporter,
    LogRecordExportResult,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.trace import Span

_logger = logging.getLogger("flext_otel.export.batch")

T = TypeVar("T")

_INF = float("inf")
_EMPTY_RESOURCE = Resource.get_empty()
_EMPTY_CONTEXT = Context()
_DEFAULT_TIMEOUT_S = 30.0
_SHUTDOWN_SLACK_S = 0.25
"""Extra time granted past a deadline for threads that were told to stop."""
_BACKOFF_S = (0.5, 5.0)
"""Wait after a failed export before the next attempt: first, and at most."""
_FORK_QUIESCE_S = 1.0
"""How long a fork waits for a running export to finish."""
_MIN_EXPORTER_SHUTDOWN_S = 0.1
"""Time always granted to ``exporter.shutdown()`` (it interrupts retry backoffs)."""


class _Exporter(Protocol):
    """What the core needs from a span or log-record exporter."""

    def export(self, batch: Sequence[Any], /) -> Any: ...

    def shutdown(self) -> None: ...


def _call_bounded(
    fn: Callable[[], object], timeout_s: float, name: str
) -> tuple[threading.Thread, object, BaseException | None]:
    """Run ``fn`` on a daemon thread (instrumentation suppressed), wait at most
    ``timeout_s``; returns ``(thread, result, exception)``, the thread still alive
    when the call was abandoned."""
    box: list[Any] = [None, None]

    def run() -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            box[0] = fn()
        except Exception as exc:  # reported to the caller, never raised here
            box[1] = exc
        finally:
            detach(token)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(max(timeout_s, 0.0))
    return thread, box[0], box[1]


def _stop_exporter(exporter: Any, timeout_s: float, key: str) -> None:
    """``exporter.shutdown`` within ``timeout_s`` (at least a moment: it interrupts
    retry backoffs), passing the time left to exporters that take ``timeout_millis``."""

    def stop() -> object:
        try:
            return exporter.shutdown(timeout_millis=max(timeout_s, 0.0) * 1000.0)
        except TypeError:  # the SDK's exporter interface takes no timeout
            return exporter.shutdown()

    thread, _, exc = _call_bounded(
        stop, max(timeout_s, _MIN_EXPORTER_SHUTDOWN_S), f"flext-otel-exporter-shutdown[{key}]"
    )
    if exc is not None:
        _logger.warning("%s: exporter shutdown failed: %s", key, _describe(exc))
    elif thread.is_alive():
        _logger.warning("%s: exporter shutdown did not finish in time", key)


class _Outage:
    """Logs the first failure of an outage once (WARNING, no traceback) and the
    first success after it once (INFO); failures in between are only counted."""

    __slots__ = ("_key", "_once")

    def __init__(self, key: str) -> None:
        self._key = key
        self._once = _OnceLogger(key, logger=_logger)

    def success(self) -> None:
        if self._once.reset("outage"):
            _logger.info("%s: export recovered", self._key)

    def failure(self, error: str | None) -> None:
        self._once.log(
            "outage",
            "%s: export failed (%s); items are counted as export_failed and further "
            "failures are not logged until an export succeeds",
            self._key,
            error,
        )


def _seconds(timeout_millis: float | None) -> float:
    """A timeout in seconds; ``None`` means the 30 s default, negatives mean 0."""
    if timeout_millis is None:
        return _DEFAULT_TIMEOUT_S
    return max(float(timeout_millis), 0.0) / 1000.0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _weak_hook(method: Callable[[], None]) -> Callable[[], None]:
    """A fork hook that calls ``method`` while its object is alive (hooks cannot be
    unregistered, so they must not keep processors alive)."""
    ref = weakref.WeakMethod(method)

    def hook() -> None:
        bound = ref()
        if bound is not None:
            try:
                bound()
            except Exception as exc:  # a fork hook must never break os.fork()
                _logger.debug("fork hook failed: %r", exc)

    return hook


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
        self._internal = _OnceLogger(f"{key} batch worker")
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
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
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
                low, high = _BACKOFF_S
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


class _BatchLifecycle:
    """``force_flush``, ``shutdown``, ``stats`` and ``queue_depth`` of both processors."""

    _core: _BatchCore[Any]
    _once: _OnceLogger

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every item queued before the call; False on deadline or failure."""
        try:
            return self._core.force_flush(timeout_millis)
        except Exception as exc:
            self._once.failure(exc)
            return False

    def shutdown(self, timeout_millis: int = 30000) -> None:
        """Drain within ``timeout_millis``, count the rest as lost, shut the exporter down."""
        try:
            self._core.shutdown(timeout_millis)
        except Exception as exc:
            self._once.failure(exc)

    def stats(self) -> PipelineStats:
        """Accepted, exported, dropped by reason, queue depth, last export outcome."""
        return self._core.stats()

    def queue_depth(self) -> int:
        """Items queued or in flight."""
        return self._core.queue_depth()


class BatchSpanExportProcessor(_BatchLifecycle, SpanProcessor):
    """Exports sampled spans in batches from a bounded queue, never blocking the caller.

    ``transform`` (for example scrubbing) runs on the worker; returning ``None``
    drops the span as ``invalid``. ``exporter_factory`` builds the exporter used
    in a forked child. See the module docstring for the accounting and deadlines.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        counters: PipelineCounters,
        *,
        max_queue_size: int = 20480,
        schedule_delay_ms: float = 1000,
        max_export_batch_size: int = 512,
        export_timeout_ms: float = 30000,
        transform: SpanTransform | None = None,
        exporter_factory: Callable[[], SpanExporter] | None = None,
    ) -> None:
        self._transform = transform
        self._once = _OnceLogger("batch span transform")
        self._core = _BatchCore(
            counters.key,
            exporter,
            counters,
            max_queue_size=max_queue_size,
            schedule_delay_ms=schedule_delay_ms,
            max_export_batch_size=max_export_batch_size,
            export_timeout_ms=export_timeout_ms,
            prepare=self._prepare,
            success=SpanExportResult.SUCCESS,
            exporter_factory=exporter_factory,
        )
        self._offer = self._core.offer

    def _prepare(self, packed: list[Packed]) -> tuple[list[Any], int]:
        transform = self._transform
        kept: list[Any] = []
        for item in packed:
            try:
                span: ReadableSpan | None = unpack_span(item)
                if transform is not None and span is not None:
                    span = transform(span)
            except Exception as exc:
                self._once.failure(exc)
                span = None
            if span is not None:
                kept.append(span)
        return kept, len(packed) - len(kept)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do at span start."""

    def reject(self, reason: str) -> None:
        """Count a span that was meant for this exporter but was dropped upstream
        (e.g. its guardrails transform failed) as ``reason``."""
        self._core.reject(reason)

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a sampled span for export (O(1)); never blocks on I/O, never raises."""
        try:
            context = span.context
            if context is None or not context.trace_flags.sampled:
                return
            packed = pack_span(span)
        except Exception as exc:  # never raise into span end
            self._core.reject("invalid")
            self._once.failure(exc)
            return
        try:
            self._offer(packed)
        except Exception as exc:  # never raise into span end
            self._once.failure(exc)


class BatchLogExportProcessor(_BatchLifecycle, LogRecordProcessor):
    """Exports log records in batches from a bounded queue, never blocking the caller.

    ``transforms`` run on the worker against a private copy of each record (the
    caller's record is never mutated); one returning False drops the record as
    ``invalid``. Records must not be changed after they are emitted.
    """

    def __init__(
        self,
        exporter: LogRecordExporter,
        counters: PipelineCounters,
        *,
        max_queue_size: int = 20480,
        schedule_delay_ms: float = 1000,
        max_export_batch_size: int = 512,
        export_timeout_ms: float = 30000,
        transforms: Sequence[LogTransform] = (),
        exporter_factory: Callable[[], LogRecordExporter] | None = None,
    ) -> None:
        self._transforms = tuple(transforms)
        self._once = _OnceLogger("batch log transform")
        self._core = _BatchCore(
            counters.key,
            exporter,
            counters,
            max_queue_size=max_queue_size,
            schedule_delay_ms=schedule_delay_ms,
            max_export_batch_size=max_export_batch_size,
            export_timeout_ms=export_timeout_ms,
            prepare=self._prepare,
            success=LogRecordExportResult.SUCCESS,
            exporter_factory=exporter_factory,
        )
        self._offer = self._core.offer

    def _prepare(self, records: list[ReadWriteLogRecord]) -> tuple[list[Any], int]:
        kept: list[Any] = []
        transforms = self._transforms
        for record in records:
            try:
                api_record = copy(record.log_record)
                api_record.context = _EMPTY_CONTEXT  # do not keep the caller's context alive
                if transforms:
                    writable = ReadWriteLogRecord(
                        api_record, record.resource, record.instrumentation_scope, record.limits
                    )
                    if not all(transform(writable) for transform in transforms):
                        continue
                    api_record = writable.log_record
                resource = record.resource
                kept.append(
                    ReadableLogRecord(
                        log_record=api_record,
                        resource=resource if resource is not None else _EMPTY_RESOURCE,
                        instrumentation_scope=record.instrumentation_scope,
                        limits=record.limits,
                    )
                )
            except Exception as exc:
                self._once.failure(exc)
        return kept, len(records) - len(kept)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue the record for export (O(1)); never blocks on I/O, never raises."""
        try:
            self._offer(log_record)
        except Exception as exc:  # never raise into logging
            self._once.failure(exc)


def _count_points(metrics_data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in metrics_data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


class CountingMetricExporter(MetricExporter):
    """Wraps a metric exporter: counts data points, bounds each call, never raises.

    Every exported point is ``accepted`` and then ``exported`` or dropped as
    ``export_failed`` (failure result, exception, or no answer within the
    reader's ``timeout_millis``). A call that outlives its deadline is abandoned
    on its daemon thread; while it is still running, further exports fail fast
    instead of piling up threads. Keeps the inner exporter's preferred
    temporality and aggregation.
    """

    def __init__(self, inner: MetricExporter, counters: PipelineCounters) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner
        self._counters = counters
        self._key = counters.key
        self._lock = threading.Lock()
        self._busy: threading.Thread | None = None
        self._outage = _Outage(counters.key)
        self._shutdown = False
        self._pid = os.getpid()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Export through the inner exporter within ``timeout_millis``; never raises."""
        if os.getpid() != self._pid:  # a forked copy: the parent exports its own data
            return MetricExportResult.SUCCESS
        try:
            return self._export(metrics_data, timeout_millis, kwargs)
        except Exception as exc:
            _logger.debug("%s: metric export wrapper failed: %r", self._key, exc)
            return MetricExportResult.FAILURE

    def _export(
        self, metrics_data: MetricsData, timeout_millis: float, kwargs: dict[str, Any]
    ) -> MetricExportResult:
        points = _count_points(metrics_data)
        self._counters.accept(points)
        with self._lock:
            if self._shutdown:
                return self._lost(points, "shutdown", "exporter is shut down")
            if self._busy is not None and self._busy.is_alive():
                return self._lost(points, "export_failed", "previous export still running")
        inner = self._inner
        thread, result, exc = _call_bounded(
            lambda: inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
            _seconds(timeout_millis),
            f"flext-otel-export[{self._key}]",
        )
        if thread.is_alive():
            with self._lock:
                self._busy = thread
            error = f"export timed out after {timeout_millis:.0f} ms"
            return self._lost(points, "export_failed", error)
        if exc is None and result == MetricExportResult.SUCCESS:
            self._counters.exported(points, time_ns=time.time_ns())
            self._outage.success()
            return MetricExportResult.SUCCESS
        error = _describe(exc) if exc else f"exporter returned {getattr(result, 'name', result)}"
        return self._lost(points, "export_failed", error)

    def _lost(self, points: int, reason: str, error: str) -> MetricExportResult:
        now = time.time_ns()
        if points:
            self._counters.drop(reason, points, error=error, time_ns=now)
        else:
            self._counters.failed(error, time_ns=now)
        if reason == "export_failed":
            self._outage.failure(error)
        return MetricExportResult.FAILURE

    def stats(self) -> PipelineStats:
        """Data points accepted, exported and dropped by reason."""
        return self._counters.snapshot()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Forward to the inner exporter within ``timeout_millis``; never raises."""
        thread, result, exc = _call_bounded(
            lambda: self._inner.force_flush(timeout_millis=timeout_millis),
            _seconds(timeout_millis),
            f"flext-otel-flush[{self._key}]",
        )
        return not thread.is_alive() and exc is None and result is not False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Shut the inner exporter down within the deadline (idempotent); never raises.

        Also accepts ``timeout=`` (milliseconds), as the SDK's periodic reader passes it.
        """
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        timeout = kwargs.get("timeout")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
            timeout_millis = timeout
        _stop_exporter(self._inner, _seconds(timeout_millis), self._key)


__all__ = ["BatchLogExportProcessor", "BatchSpanExportProcessor", "CountingMetricExporter"]
