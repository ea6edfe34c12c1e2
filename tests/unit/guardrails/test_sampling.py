"""Sampling: head sampler counts, the root-trace rate limit and tail sampling, all in spans."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from flext_otel.guardrails.facade import RateLimitingSampler, TailSamplingProcessor
from flext_otel.guardrails.options import SamplingOptions
from flext_otel.pipeline.options import resolve_options
from flext_otel.support.counters import PipelineCounters
from flext_otel.support.errors import ConfigError
from flext_otel.testing import capture

# -- head sampling and rate limit -------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rate_limited(per_second: float) -> tuple[TracerProvider, InMemorySpanExporter, Any, Any]:
    clock = _Clock()
    counters = PipelineCounters("traces:sampler")
    sampler = RateLimitingSampler(
        sampling.ParentBased(sampling.ALWAYS_ON), per_second, counters, clock
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter, clock, counters


def test_rate_limit_caps_root_traces_per_second_and_children_follow() -> None:
    """At most N roots per second are sampled; their children too; every span is counted."""
    provider, exporter, clock, counters = _rate_limited(2)
    tracer = provider.get_tracer("t")
    for _ in range(5):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    assert [s.name for s in exporter.get_finished_spans()].count("root") == 2
    assert [s.name for s in exporter.get_finished_spans()].count("child") == 2
    stats = counters.snapshot()
    assert (stats.accepted, stats.exported, stats.dropped["sampled_out"]) == (10, 4, 6)
    clock.now += 1.0
    with tracer.start_as_current_span("root"):
        pass
    assert [s.name for s in exporter.get_finished_spans()].count("root") == 4 - 1


def test_rate_limit_zero_drops_every_root() -> None:
    """A rate of zero samples no new trace."""
    provider, exporter, _, counters = _rate_limited(0)
    with provider.get_tracer("t").start_as_current_span("root"):
        pass
    assert exporter.get_finished_spans() == ()
    assert counters.snapshot().dropped["sampled_out"] == 1


def test_rate_limit_is_wired_and_reported_in_stats() -> None:
    """configure(sampling=...) installs the limiter; stats() shows traces:sampler."""
    with capture(sampling=SamplingOptions(max_traces_per_second=1)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        for _ in range(10):
            with tracer.start_as_current_span("root"):
                pass
        stored = len(cap.spans())
        stats = cap.otel.stats()["traces:sampler"]
        assert 1 <= stored <= 2
        assert stats.dropped["sampled_out"] == 10 - stored
        assert stats.lost == 0


@pytest.mark.parametrize(
    ("fields", "option"),
    [
        ({"max_traces_per_second": -1}, "sampling.max_traces_per_second"),
        ({"max_traces_per_second": float("nan")}, "sampling.max_traces_per_second"),
        ({"background_ratio": 1.5}, "sampling.background_ratio"),
        ({"background_ratio": -0.1}, "sampling.background_ratio"),
        ({"max_buffered_spans": -5}, "sampling.max_buffered_spans"),
        ({"max_buffered_spans": 0}, "sampling.max_buffered_spans"),
        ({"decision_wait_ms": -1}, "sampling.decision_wait_ms"),
        ({"slow_threshold_ms": -3}, "sampling.slow_threshold_ms"),
        ({"tail": "yes"}, "sampling.tail"),
    ],
)
def test_bad_sampling_options_raise_config_error_naming_the_option(
    fields: dict[str, Any], option: str
) -> None:
    """Negative rates or capacities and ratios outside [0, 1] name the option."""
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        SamplingOptions(**fields)
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        resolve_options(environ={}, sampling=fields)


def test_unknown_sampler_name_raises_config_error() -> None:
    """An unknown OTEL_TRACES_SAMPLER names the variable (or the option)."""
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER"):
        resolve_options(environ={"OTEL_TRACES_SAMPLER": "sometimes"})
    with pytest.raises(ConfigError, match="sampler"):
        resolve_options(environ={}, sampler="sometimes")


def test_sampling_cannot_come_from_the_environment_but_accepts_a_mapping() -> None:
    """`sampling` is an argument (object or mapping of its fields)."""
    opts = resolve_options(environ={}, sampling={"max_traces_per_second": 5})
    assert opts.sampling == SamplingOptions(max_traces_per_second=5)


# -- tail sampling ---------------------------------------------------------------


class _Recorder(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.lock = threading.Lock()
        self.flushed = 0
        self.stopped = 0

    def on_end(self, span: ReadableSpan) -> None:
        with self.lock:
            self.spans.append(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flushed += 1
        return True

    def shutdown(self) -> None:
        self.stopped += 1


class _NsClock:
    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        return self.now


def _tail(**fields: Any) -> tuple[TracerProvider, TailSamplingProcessor, _Recorder, _NsClock]:
    clock = _NsClock()
    tail = TailSamplingProcessor(
        SamplingOptions(tail=True, **fields), PipelineCounters("traces:tail"), clock_ns=clock
    )
    recorder = _Recorder()
    tail.add_child(recorder)
    provider = TracerProvider()
    provider.add_span_processor(tail)
    return provider, tail, recorder, clock


def _trace(tracer: trace_api.Tracer, children: int = 3, *, error: bool = False, ms: int = 1) -> int:
    start = 1_000_000_000
    with tracer.start_as_current_span("root", start_time=start, end_on_exit=False) as root:
        for i in range(children):
            with tracer.start_as_current_span(f"child{i}") as child:
                if error and i == children - 1:
                    child.set_status(Status(StatusCode.ERROR, "failed"))
    root.end(end_time=start + ms * 1_000_000)
    return root.get_span_context().trace_id


def test_tail_keeps_error_traces_whole() -> None:
    """A trace with an ERROR span is kept with every span; an ok fast one is dropped whole."""
    provider, tail, recorder, _ = _tail()
    tracer = provider.get_tracer("t")
    kept = _trace(tracer, error=True)
    dropped = _trace(tracer)
    ids = [s.context.trace_id for s in recorder.spans if s.context is not None]
    assert ids.count(kept) == 4
    assert dropped not in ids
    assert tail.stats().dropped["sampled_out"] == 4
    assert tail.buffered() == 0


def test_tail_keeps_slow_traces_whole() -> None:
    """A root lasting at least slow_threshold_ms keeps the whole trace."""
    provider, _, recorder, _ = _tail(slow_threshold_ms=100)
    tracer = provider.get_tracer("t")
    slow = _trace(tracer, ms=150)
    fast = _trace(tracer, ms=5)
    ids = [s.context.trace_id for s in recorder.spans if s.context is not None]
    assert ids.count(slow) == 4
    assert fast not in ids


def test_tail_background_ratio_is_deterministic_by_trace_id() -> None:
    """Ratio 1.0 keeps every trace; with 0.5 the decision follows the trace ID."""
    provider, _, recorder, _ = _tail(background_ratio=1.0)
    _trace(provider.get_tracer("t"))
    assert len(recorder.spans) == 4
    provider, _tail_processor, recorder, _ = _tail(background_ratio=0.5)
    tracer = provider.get_tracer("t")
    ids = [_trace(tracer, children=1) for _ in range(200)]
    expected = {t for t in ids if (t & 0xFFFFFFFFFFFFFFFF) < (1 << 63)}
    kept = {s.context.trace_id for s in recorder.spans if s.context is not None}
    assert kept == expected
    assert 40 < len(kept) < 160


def test_tail_late_children_follow_the_decision() -> None:
    """A span ending after its trace was decided is kept or dropped with it."""
    provider, tail, recorder, _ = _tail(keep_errors=True)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    ctx = trace_api.set_span_in_context(root)
    late = tracer.start_span("late", context=ctx)
    root.set_status(Status(StatusCode.ERROR))
    root.end()
    late.end()
    assert [s.name for s in recorder.spans] == ["root", "late"]
    root2 = tracer.start_span("root2")
    late2 = tracer.start_span("late2", context=trace_api.set_span_in_context(root2))
    root2.end()
    late2.end()
    assert "late2" not in [s.name for s in recorder.spans]
    assert tail.stats().dropped["sampled_out"] == 2


def test_tail_decides_after_the_wait_and_on_flush() -> None:
    """A trace whose root never ends is decided after decision_wait_ms or on force_flush."""
    provider, tail, recorder, clock = _tail(decision_wait_ms=1000, background_ratio=1.0)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("open-root")
    with tracer.start_as_current_span("child", context=trace_api.set_span_in_context(root)):
        pass
    assert tail.buffered() == 1
    assert recorder.spans == []
    clock.now += 2_000_000_000
    with tracer.start_as_current_span("other-root"):
        pass
    assert sorted(s.name for s in recorder.spans) == ["child", "other-root"]
    root.end()
    assert "open-root" in [s.name for s in recorder.spans]  # follows the remembered keep
    pending = tracer.start_span("pending-root")
    with tracer.start_as_current_span("c2", context=trace_api.set_span_in_context(pending)):
        pass
    assert tail.force_flush(1000)
    assert "c2" in [s.name for s in recorder.spans]
    assert recorder.flushed == 1
    tail.shutdown()
    tail.shutdown()
    assert recorder.stopped == 1


def test_tail_buffer_stays_bounded_under_100x_load() -> None:
    """100x more open-trace spans than the bound: the buffer never exceeds it; evictions counted."""
    bound = 200
    provider, tail, recorder, _ = _tail(max_buffered_spans=bound, background_ratio=0.5)
    tracer = provider.get_tracer("t")
    roots = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(bound * 100 // 8 // 4):
                root = tracer.start_span("root")
                roots.append(root)
                ctx = trace_api.set_span_in_context(root)
                for _ in range(4):
                    tracer.start_span("child", context=ctx).end()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tail.high_water <= bound
    assert tail.buffered() <= bound
    during = tail.stats()
    assert during.exported + during.dropped["sampled_out"] >= bound * 100 - bound
    assert during.dropped["sampled_out"] > bound  # evictions of dropped traces are counted
    for root in roots:
        root.end()
    stats = tail.stats()
    assert stats.accepted == bound * 100 + len(roots)
    assert stats.exported + stats.dropped["sampled_out"] + tail.buffered() == stats.accepted
    forwarded = {s.context.trace_id for s in recorder.spans if s.context is not None}
    with_root = {s.context.trace_id for s in recorder.spans if s.context and s.parent is None}
    assert forwarded
    assert forwarded == with_root
    assert len(recorder.spans) == 5 * len(forwarded)  # kept traces are whole


def test_tail_sampling_wired_into_the_pipeline() -> None:
    """With tail sampling on, the store sees only kept traces; stats show sampled_out."""
    with capture(sampling=SamplingOptions(tail=True)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        kept = _trace(tracer, error=True)
        _trace(tracer)
        stored = {s.trace_id for s in cap.spans()}
        assert stored == {format(kept, "032x")}
        assert len(cap.spans()) == 4
        stats = cap.otel.stats()
        assert stats["traces:tail_sampler"].dropped["sampled_out"] == 4
        assert cap.otel.health()["guardrails"]["sampled_out"] == 4
    assert cap.report is not None
    assert cap.report.lost == 0


def test_head_sampler_drops_are_counted_as_sampled_out() -> None:
    """A head sampler that drops spans is counted under traces:sampler; nothing is lost."""
    import flext_otel

    with capture(sampler="traceidratio", sampler_arg=0.1) as cap:
        for _ in range(300):
            with flext_otel.span("x"):
                pass
        stats = cap.otel.stats()["traces:sampler"]
        kept = len(cap.spans())
    assert stats.accepted == 300
    assert stats.exported == kept
    assert stats.dropped == {"sampled_out": 300 - kept}
    assert cap.report is not None
    assert cap.report.ok


def test_always_on_head_sampler_is_not_wrapped() -> None:
    """The default sampler keeps every span, so no sampler counters are added."""
    with capture() as cap:
        assert "traces:sampler" not in cap.otel.stats()


# -- one unit: spans ------------------------------------------------------------


def _balanced(stats: Any) -> bool:
    return bool(stats.accepted == stats.exported + stats.dropped_total)


def test_rate_limit_counts_dropped_children_as_spans() -> None:
    """400 two-span traces at 20 traces/s: sampled_out counts every dropped span, children too."""
    with capture(sampling=SamplingOptions(max_traces_per_second=20)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        for _ in range(400):
            with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
                pass
        stored = len(cap.spans())
        stats = cap.otel.stats()["traces:sampler"]
    assert stored % 2 == 0
    assert 40 <= stored < 800
    assert stats.accepted == 800
    assert stats.exported == stored
    assert stats.dropped == {"sampled_out": 800 - stored}


def test_a_dropped_remote_parent_drops_the_child_counted() -> None:
    """A child of an unsampled remote parent is dropped and counted as sampled_out."""
    provider, exporter, _, counters = _rate_limited(5)
    remote = trace_api.SpanContext(
        0xABC, 0xDEF, is_remote=True, trace_flags=trace_api.TraceFlags(0)
    )
    ctx = trace_api.set_span_in_context(trace_api.NonRecordingSpan(remote))
    with provider.get_tracer("t").start_as_current_span("child", context=ctx):
        pass
    assert exporter.get_finished_spans() == ()
    assert counters.snapshot().dropped == {"sampled_out": 1}
    assert counters.snapshot().accepted == 1


def test_every_pipeline_key_balances_with_rate_limit_and_tail_sampling() -> None:
    """accepted == exported + dropped for every stats() key once the pipeline is flushed."""
    options = SamplingOptions(max_traces_per_second=5, tail=True, background_ratio=0.5)
    with capture(sampling=options) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        for i in range(60):
            with tracer.start_as_current_span("root") as root:
                with tracer.start_as_current_span("child"):
                    pass
                if i % 7 == 0:
                    root.set_status(Status(StatusCode.ERROR))
        assert cap.otel.force_flush(5_000)
        stats = cap.otel.stats()
    assert {"traces:sampler", "traces:tail_sampler", "traces:store"} <= set(stats)
    unbalanced = {key: s for key, s in stats.items() if not _balanced(s)}
    assert unbalanced == {}
    assert stats["traces:tail_sampler"].accepted == stats["traces:sampler"].exported
    assert stats["traces:store"].accepted == stats["traces:tail_sampler"].exported


# -- tail sampler failures --------------------------------------------------------


class _BrokenSpan:
    """A span whose status cannot be read: the tail sampler cannot place it."""

    def __init__(self, context: trace_api.SpanContext) -> None:
        self.context = context
        self.parent = None

    @property
    def status(self) -> Status:
        raise RuntimeError("no status")


def test_tail_sampler_counts_a_span_it_cannot_place_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An internal failure drops the span as invalid (cause: the exception type), logged once."""
    _, tail, recorder, _ = _tail()
    caplog.set_level(logging.WARNING, logger="flext_otel")
    for trace_id in (1, 2, 3):
        context = trace_api.SpanContext(trace_id, 7, is_remote=False)
        tail.on_end(_BrokenSpan(context))  # type: ignore[arg-type]
    stats = tail.stats()
    assert stats.accepted == 3
    assert stats.dropped == {"invalid": 3}
    assert dict(stats.causes) == {"RuntimeError": 3}
    assert recorder.spans == []
    lines = [r for r in caplog.records if "tail sampling" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING


class _FailingChild(_Recorder):
    def on_end(self, span: ReadableSpan) -> None:
        raise ValueError("child broke")


def test_tail_sampler_logs_a_failing_child_at_warning_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A child processor that raises is logged once at WARNING; the other children still run."""
    tail = TailSamplingProcessor(
        SamplingOptions(tail=True, background_ratio=1.0), PipelineCounters("traces:tail")
    )
    recorder = _Recorder()
    tail.add_child(_FailingChild())
    tail.add_child(recorder)
    provider = TracerProvider()
    provider.add_span_processor(tail)
    caplog.set_level(logging.WARNING, logger="flext_otel")
    tracer = provider.get_tracer("t")
    for _ in range(3):
        _trace(tracer, children=1)
    assert len(recorder.spans) == 6
    lines = [r for r in caplog.records if "child broke" in r.getMessage()]
    assert [r.levelno for r in lines] == [logging.WARNING]


def test_tail_sampler_after_shutdown_still_balances() -> None:
    """Spans ending after shutdown are accepted and forwarded, never exported unaccepted."""
    provider, tail, _, _ = _tail(background_ratio=1.0)
    tail.shutdown()
    with provider.get_tracer("t").start_as_current_span("late"):
        pass
    stats = tail.stats()
    assert (stats.accepted, stats.exported) == (1, 1)
