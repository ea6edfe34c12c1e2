"""Sampling beyond the head sampler: a rate limit on root traces and tail sampling.

Sampling
--------
:class:`RateLimitingSampler` puts a token bucket on new root traces (children
follow their parent); :class:`TailSamplingProcessor` buffers ended spans per
trace and keeps or drops each trace whole. See :class:`SamplingOptions`.

Counting
--------
Every sampler and processor here counts **spans**, one unit everywhere: each
span considered is ``accepted``, then ``exported`` (sampled, or forwarded by the
tail sampler) or dropped as ``sampled_out`` -- children dropped because their
root was dropped included -- so ``accepted == exported + dropped`` holds (for
the tail sampler once nothing is buffered). A span lost to an internal failure
is dropped as ``invalid`` with its cause, and the first failure of each cause is
logged once at WARNING.

Imports: the OTel SDK, ``guardrails.options`` and ``support``.

Threading: samplers and ``on_start``/``on_end`` run on the application's threads;
each takes at most one short lock and never raises.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, sampling

from flext_otel.guardrails.options import SamplingOptions
from flext_otel.support.counters import PipelineCounters, PipelineStats
from flext_otel.support.logonce import LogOnce

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span
    from opentelemetry.trace import Link, SpanKind, TraceState
    from opentelemetry.util.types import Attributes


class CountingSampler(sampling.Sampler):
    """``inner``'s decisions, counted: each span considered is accepted, each one not
    sampled is dropped as ``sampled_out`` (never "lost"), the rest pass on as exported.

    Wraps a head sampler that can drop (``traceidratio``, ``always_off``, ...), so the
    pipeline counters say how much head sampling removed.
    """

    def __init__(self, inner: sampling.Sampler, counters: PipelineCounters) -> None:
        self._inner = inner
        self._counters = counters

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        """The inner decision, counted."""
        result = self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is sampling.Decision.RECORD_AND_SAMPLE:
            self._counters.passed()
        else:
            self._counters.accept()
            self._counters.drop("sampled_out")
        return result

    def get_description(self) -> str:
        """E.g. ``Counting{TraceIdRatioBased{0.1}}``."""
        return f"Counting{{{self._inner.get_description()}}}"


class RateLimitingSampler(sampling.Sampler):
    """At most ``per_second`` new root traces per second, on top of ``inner``.

    Spans with a valid parent (local or remote) are decided by ``inner`` alone
    (use a ``ParentBased`` inner sampler so children follow their parent). A
    root that ``inner`` samples takes a token from a bucket holding up to one
    second's worth (at least one); without a token it is dropped. Every span is
    counted: ``exported`` when sampled, ``sampled_out`` when not (a child of a
    dropped root too), so the counts are spans, like the other samplers'.
    """

    def __init__(
        self,
        inner: sampling.Sampler,
        per_second: float,
        counters: PipelineCounters,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not math.isfinite(per_second) or per_second < 0:
            raise ValueError("per_second must be a finite number >= 0")
        self._inner = inner
        self._rate = float(per_second)
        self._capacity = max(self._rate, 1.0) if self._rate > 0 else 0.0
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self._counters = counters

    def _take(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._last, 0.0)
            self._last = now
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        """The inner decision, limited by the token bucket for root spans."""
        result = self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        counters = self._counters
        if result.decision is not sampling.Decision.RECORD_AND_SAMPLE:
            counters.accept()
            counters.drop("sampled_out")
            return result
        parent = trace_api.get_current_span(parent_context).get_span_context()
        if parent.is_valid or self._take():
            counters.passed()
            return result
        counters.accept()
        counters.drop("sampled_out")
        return sampling.SamplingResult(sampling.Decision.DROP, None, result.trace_state)

    def get_description(self) -> str:
        """E.g. ``RateLimiting{10.0/s,ParentBased{...}}``."""
        return f"RateLimiting{{{self._rate}/s,{self._inner.get_description()}}}"


class _PendingTrace:
    __slots__ = ("error", "first_seen", "spans")

    def __init__(self, first_seen: int) -> None:
        self.spans: list[ReadableSpan] = []
        self.first_seen = first_seen
        self.error = False


def _is_local_root(span: ReadableSpan) -> bool:
    parent = span.parent
    return parent is None or parent.is_remote


class TailSamplingProcessor(SpanProcessor):
    """Buffers ended spans per trace and forwards or drops each trace whole.

    A trace is decided when its local root ends, when it has waited
    ``decision_wait_ms`` since its first span ended (checked whenever a span
    ends and on flush), when the buffer would exceed ``max_buffered_spans``
    (oldest trace first), and on ``force_flush``/``shutdown``. It is kept when
    it has an ERROR span (``keep_errors``), when it is slow (root duration, or
    time since its earliest start if the root has not ended, at least
    ``slow_threshold_ms``), or when its trace ID falls in ``background_ratio``
    (deterministic); else its spans are dropped and counted as ``sampled_out``.
    Decisions are remembered (bounded), so spans ending after their trace was
    decided follow it: a trace is never forwarded without its root.

    ``on_end`` runs on the caller's thread: one short lock, no I/O; the kept
    spans are handed to the child processors outside the lock.
    """

    def __init__(
        self,
        options: SamplingOptions,
        counters: PipelineCounters,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._opts = options
        self._children: list[SpanProcessor] = []
        self._counters = counters
        self._clock = clock_ns
        self._wall = wall_ns
        self._lock = threading.Lock()
        self._pending: dict[int, _PendingTrace] = {}
        self._buffered = 0
        self.high_water = 0
        self._decided: OrderedDict[int, bool] = OrderedDict()
        self._memo_size = max(2 * options.max_buffered_spans, 16_384)
        self._wait_ns = options.decision_wait_ms * 1_000_000
        slow = options.slow_threshold_ms
        self._slow_ns = None if slow is None else int(slow * 1_000_000)
        self._ratio_bound = int(options.background_ratio * (1 << 64))
        self._shutdown = False
        self._once = LogOnce("tail sampling")
        counters.depth = self.buffered

    def add_child(self, processor: SpanProcessor) -> None:
        """Forward kept spans to ``processor`` (in the order children were added)."""
        self._children.append(processor)

    def buffered(self) -> int:
        """Spans currently held waiting for their trace's decision."""
        return self._buffered

    def stats(self) -> PipelineStats:
        """Spans accepted, forwarded (``exported``) and ``sampled_out``; buffer depth."""
        return self._counters.snapshot()

    # -- decisions ----------------------------------------------------------
    def _keep(self, trace_id: int, pending: _PendingTrace, root: ReadableSpan | None) -> bool:
        if pending.error and self._opts.keep_errors:
            return True
        slow = self._slow_ns
        if slow is not None:
            if root is not None and root.end_time is not None and root.start_time is not None:
                if root.end_time - root.start_time >= slow:
                    return True
            elif root is None:
                starts = [s.start_time for s in pending.spans if s.start_time is not None]
                if starts and self._wall() - min(starts) >= slow:
                    return True
        return (trace_id & 0xFFFFFFFFFFFFFFFF) < self._ratio_bound

    def _decide(self, trace_id: int, root: ReadableSpan | None, out: list[ReadableSpan]) -> None:
        """Must hold the lock: pop the trace, remember and apply its decision."""
        pending = self._pending.pop(trace_id)
        self._buffered -= len(pending.spans)
        try:
            keep = self._keep(trace_id, pending, root)
        except Exception as exc:  # fail open: a trace that cannot be judged is kept
            keep = True
            self._once.log(
                "decision", "tail sampling could not judge a trace and keeps it: %r", exc
            )
        self._remember(trace_id, keep)
        if keep:
            out.extend(pending.spans)
        else:
            self._counters.drop("sampled_out", len(pending.spans))

    def _remember(self, trace_id: int, keep: bool) -> None:
        decided = self._decided
        decided[trace_id] = keep
        if len(decided) > self._memo_size:
            decided.popitem(last=False)

    def _expire(self, now: int, out: list[ReadableSpan]) -> None:
        pending = self._pending
        wait = self._wait_ns
        while pending:
            oldest_id = next(iter(pending))
            if now - pending[oldest_id].first_seen < wait:
                return
            self._decide(oldest_id, None, out)

    def _forward(self, spans: list[ReadableSpan]) -> None:
        if not spans:
            return
        self._counters.exported(len(spans))
        for span in spans:
            for child in self._children:
                try:
                    child.on_end(span)
                except Exception as exc:  # a child must not break the others; it counts
                    self._child_failed(child, "on_end", exc)

    def _child_failed(self, child: SpanProcessor, hook: str, exc: BaseException) -> None:
        """Log a child processor's failure once per child, hook and exception type."""
        name = type(child).__name__
        self._once.log(
            f"{name}.{hook}:{type(exc).__name__}",
            "tail sampling: child span processor %s failed in %s: %r",
            name,
            hook,
            exc,
        )

    # -- SpanProcessor ------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Forward to the children (they see every started span)."""
        for child in self._children:
            try:
                child.on_start(span, parent_context)
            except Exception as exc:
                self._child_failed(child, "on_start", exc)

    def on_end(self, span: ReadableSpan) -> None:
        """Buffer the span; decide its trace when its local root ended; never raises.

        A span that cannot be placed (an internal failure) is dropped as ``invalid``
        with the exception type as its cause, and the first failure of each type is
        logged.
        """
        out: list[ReadableSpan] = []
        counters = self._counters
        counters.accept()
        placed = False
        try:
            context = span.context
            if context is None or self._shutdown:
                out.append(span)
                placed = True
            else:
                trace_id = context.trace_id
                now = self._clock()
                with self._lock:
                    placed = self._place(span, trace_id, now, out)
                    self._expire(now, out)
        except Exception as exc:  # never raise into span end
            if not placed:
                counters.drop("invalid", cause=type(exc).__name__)
            self._once.failure(exc)
        self._forward(out)

    def _place(self, span: ReadableSpan, trace_id: int, now: int, out: list[ReadableSpan]) -> bool:
        """Must hold the lock: follow a known decision or buffer the span (and decide
        its trace when it is the local root, or evict when the buffer is full)."""
        known = self._decided.get(trace_id)
        if known is not None:
            if known:
                out.append(span)
            else:
                self._counters.drop("sampled_out")
            return True
        pending = self._pending.get(trace_id)
        if pending is None:
            pending = self._pending[trace_id] = _PendingTrace(now)
        error = span.status.status_code is trace_api.StatusCode.ERROR
        root = _is_local_root(span)
        pending.spans.append(span)
        self._buffered += 1
        if error:
            pending.error = True
        if root:
            self._decide(trace_id, span, out)
        while self._buffered > self._opts.max_buffered_spans and self._pending:
            self._decide(next(iter(self._pending)), None, out)
        self.high_water = max(self.high_water, self._buffered)
        return True

    def _decide_all(self) -> None:
        out: list[ReadableSpan] = []
        with self._lock:
            for trace_id in list(self._pending):
                self._decide(trace_id, None, out)
        self._forward(out)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Decide every pending trace, forward what is kept, flush the children."""
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000.0
        self._decide_all()
        ok = True
        for child in self._children:
            remaining = int((deadline - time.monotonic()) * 1000)
            if remaining <= 0:
                return False
            ok = bool(child.force_flush(remaining)) and ok
        return ok

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Decide pending traces, forward them, shut the children down (idempotent)."""
        if self._shutdown:
            return
        self._decide_all()
        self._shutdown = True
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000.0
        for child in self._children:
            remaining = max(int((deadline - time.monotonic()) * 1000), 1)
            try:
                try:
                    child.shutdown(remaining)  # type: ignore[call-arg]
                except TypeError:  # SDK processors take no timeout
                    child.shutdown()
            except Exception as exc:
                self._child_failed(child, "shutdown", exc)


__all__ = ["CountingSampler", "RateLimitingSampler", "SamplingOptions", "TailSamplingProcessor"]
