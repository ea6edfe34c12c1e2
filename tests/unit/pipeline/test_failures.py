"""Failures nobody used to see: each is a counted, reasoned drop in stats() and /health,
logged once per cause; a failed FlextOtel construction leaks nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from flext_otel.guardrails.scrubbing import SpanGuard
from flext_otel.instrument.decorators import flext_monitor_function
from flext_otel.pipeline import metrics as pipeline_metrics
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.support.failures import FailureLedger
from flext_otel.support.logonce import MAX_REASONS, LogOnce
from flext_otel.testing import Captured, capture


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> Callable[[str], list[str]]:
    """The flext_otel WARNING lines containing a text."""
    caplog.set_level(logging.WARNING, logger="flext_otel")

    def lines(text: str) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and text in r.getMessage()
        ]

    return lines


def balanced(cap: Captured) -> dict[str, Any]:
    """Keys whose accepted != exported + dropped (should be none)."""
    return {k: s for k, s in cap.otel.stats().items() if s.accepted != s.exported + s.dropped_total}


# -- the one log-once helper ------------------------------------------------------


def test_log_once_logs_each_reason_once_until_reset(
    warnings: Callable[[str], list[str]],
) -> None:
    """One line per reason; reset() lets the next occurrence log again."""
    once = LogOnce("doc")
    for _ in range(3):
        once.log("a", "reason a happened")
        once.log("b", "reason b happened")
    assert len(warnings("reason a")) == 1
    assert len(warnings("reason b")) == 1
    assert once.reset("a")
    once.log("a", "reason a happened")
    assert len(warnings("reason a")) == 2


def test_log_once_is_bounded(warnings: Callable[[str], list[str]]) -> None:
    """Beyond MAX_REASONS distinct reasons new ones are counted elsewhere, not logged."""
    once = LogOnce("bounded")
    logged = sum(once.log(str(i), "distinct %s", i) for i in range(MAX_REASONS + 50))
    assert logged == MAX_REASONS
    assert len(warnings("distinct failure reasons")) == 1


def test_log_once_is_safe_across_threads(warnings: Callable[[str], list[str]]) -> None:
    """Many threads hitting the same reason log it exactly once."""
    once = LogOnce("threads")
    start = threading.Barrier(8)

    def hit() -> None:
        start.wait(timeout=10)
        for _ in range(200):
            once.log("same", "threaded reason")

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(warnings("threaded reason")) == 1


def test_failure_ledger_counts_by_key_and_cause() -> None:
    """record() counts an invalid drop per key with its cause; stats() shows only used keys."""
    ledger = FailureLedger()
    assert ledger.stats() == {}
    ledger.record("api:metric", "INVALID_NAME", "bad")
    ledger.record("api:metric", "INVALID_NAME", "bad")
    ledger.record("api:metric", "INVALID_VALUE")
    (key, stats), *rest = ledger.stats().items()
    assert rest == []
    assert key == "api:metric"
    assert (stats.accepted, stats.exported, dict(stats.dropped)) == (3, 0, {"invalid": 3})
    assert dict(stats.causes) == {"INVALID_NAME": 2, "INVALID_VALUE": 1}


# -- the decorator -----------------------------------------------------------------


class _BrokenProvider(trace.NoOpTracerProvider):
    """Its tracers raise ``exc`` (which may change) on every span start."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        provider = self

        class BrokenTracer(trace.NoOpTracer):
            def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
                raise provider.exc

        return BrokenTracer()


@flext_monitor_function
def _work(value: int) -> int:
    return value * 2


def test_decorator_failures_are_counted_and_logged_once_per_cause(
    warnings: Callable[[str], list[str]],
) -> None:
    """Every instrumentation failure counts under api:decorator; each exception type of
    each pipeline is logged once, whatever failed before in the process."""
    for _ in range(2):  # a second pipeline logs its own first failures again
        with capture() as cap:
            broken = _BrokenProvider(RuntimeError("tracer broken"))
            cap.otel.tracer_provider = broken
            assert [_work(i) for i in range(3)] == [0, 2, 4]
            broken.exc = KeyError("other")
            assert _work(5) == 10
            stats = cap.otel.stats()["api:decorator"]
            assert stats.dropped == {"invalid": 4}
            assert dict(stats.causes) == {"RuntimeError": 3, "KeyError": 1}
            assert cap.otel.health()["pipelines"]["api:decorator"]["causes"] == {
                "RuntimeError": 3,
                "KeyError": 1,
            }
    assert len(warnings("tracer broken")) == 2
    assert len(warnings("api:decorator: KeyError")) == 2


# -- the console exporter ----------------------------------------------------------


def _failing_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the guardrails' span check raise (the one pass that feeds store and exporters)."""

    def broken(self: SpanGuard, *args: object) -> Any:
        raise ValueError("cannot scrub")

    monkeypatch.setattr(SpanGuard, "check", broken)


def test_a_span_the_guardrails_fail_on_reaches_no_destination_and_is_counted(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    warnings: Callable[[str], list[str]],
) -> None:
    """A span the scrubber fails on reaches neither the store nor the console: an
    invalid drop under traces:store with its cause, logged once at WARNING."""
    _failing_guard(monkeypatch)
    with capture(traces_exporter="console") as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        for _ in range(3):
            with tracer.start_as_current_span("secretive", attributes={"password": "hunter2"}):
                pass
        stats = cap.otel.stats()["traces:store"]
        assert (stats.accepted, stats.exported) == (3, 0)
        assert stats.dropped == {"invalid": 3}
        assert dict(stats.causes) == {"ValueError": 3}
        assert cap.otel.health()["pipelines"]["traces:store"]["dropped"] == {"invalid": 3}
        assert cap.spans("secretive") == []
        assert cap.otel.stats()["traces:console"].accepted == 0
    assert "secretive" not in capsys.readouterr().out
    assert len(warnings("failed internally and drops the item")) == 1


def test_console_exporter_counts_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """With scrubbing working, traces:console counts every span as exported."""
    with capture(traces_exporter="console") as cap:
        with cap.otel.tracer_provider.get_tracer("t").start_as_current_span("shown"):
            pass
        stats = cap.otel.stats()["traces:console"]
    assert (stats.accepted, stats.exported, dict(stats.dropped)) == (1, 1, {})
    assert "shown" in capsys.readouterr().out


# -- metric collection -------------------------------------------------------------


def test_a_failing_metric_collection_is_counted_not_hidden(
    monkeypatch: pytest.MonkeyPatch, warnings: Callable[[str], list[str]]
) -> None:
    """store.metrics() still answers (empty) when collection fails, but the failure is
    counted under metrics:store with the exception type and logged once."""

    def broken_points(reader: Any) -> Callable[[], list[Any]]:
        def read() -> list[Any]:
            raise OSError("collection broke")

        return read

    monkeypatch.setattr(pipeline_metrics, "metric_points", broken_points)
    with capture() as cap:
        assert cap.metrics() == []
        assert cap.metrics() == []
        stats = cap.otel.stats()["metrics:store"]
        assert stats.dropped == {"invalid": 2}
        assert dict(stats.causes) == {"OSError": 2}
        assert cap.otel.health()["pipelines"]["metrics:store"]["causes"] == {"OSError": 2}
    assert len(warnings("collection broke")) == 1


# -- every key balances ----------------------------------------------------------


def test_every_key_balances_with_failures_of_every_kind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """accepted == exported + dropped for every stats() key, failure keys included."""
    import flext_otel

    _failing_guard(monkeypatch)
    with capture(traces_exporter="console") as cap:
        with cap.otel.tracer_provider.get_tracer("t").start_as_current_span(
            "dropped", attributes={"password": "hunter2"}
        ):
            pass
        flext_otel.metric("bad name", 1)
        flext_otel.log("m", "loud")
        with cap.otel.tracer_provider.get_tracer("t").start_as_current_span("ok"):
            flext_otel.metric("fine_total", 1)
        cap.otel.tracer_provider = _BrokenProvider(RuntimeError("x"))
        _work(1)
        assert {"api:metric", "api:log", "api:decorator", "traces:console"} <= set(cap.otel.stats())
        assert balanced(cap) == {}
    capsys.readouterr()


# -- construction ------------------------------------------------------------------


class _Spy(SpanProcessor):
    def __init__(self) -> None:
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_a_failing_builder_releases_what_was_already_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When a later builder raises, the providers and readers built so far are shut down
    (no metric reader thread left running) and the error reaches the caller."""
    spies: list[_Spy] = []
    build_traces = FlextOtel._build_traces

    def traces(self: FlextOtel) -> TracerProvider:
        provider = build_traces(self)
        spy = _Spy()
        provider.add_span_processor(spy)
        spies.append(spy)
        return provider

    def observe(self: FlextOtel) -> None:
        raise RuntimeError("observer setup failed")

    monkeypatch.setattr(FlextOtel, "_build_traces", traces)
    monkeypatch.setattr(FlextOtel, "_observe_pipelines", observe)
    before = set(threading.enumerate())
    options = resolve_options(
        environ={}, install_globals=False, metrics_exporter="console", traces_exporter="console"
    )
    with pytest.raises(RuntimeError, match="observer setup failed"):
        FlextOtel(options)
    leaked = [
        t for t in threading.enumerate() if t not in before and t.is_alive() and "Metric" in t.name
    ]
    assert leaked == []
    assert [spy.shutdowns >= 1 for spy in spies] == [True]


def test_a_failing_meter_provider_stops_the_readers_it_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A MeterProvider that cannot be built leaves no periodic reader thread behind."""

    def broken_provider(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("bad view")

    monkeypatch.setattr(pipeline_metrics, "MeterProvider", broken_provider)
    before = set(threading.enumerate())
    options = resolve_options(environ={}, install_globals=False, metrics_exporter="console")
    with pytest.raises(ValueError, match="bad view"):
        FlextOtel(options)
    leaked = [
        t for t in threading.enumerate() if t not in before and t.is_alive() and "Metric" in t.name
    ]
    assert leaked == []


def test_library_code_has_no_assert_statements() -> None:
    """No `assert` in flext_otel: python -O strips them, so they cannot guard anything."""
    import ast
    from pathlib import Path

    import flext_otel

    package = Path(flext_otel.__file__).parent
    found = [
        f"{path.relative_to(package)}:{node.lineno}"
        for path in sorted(package.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def test_rejected_calls_are_reported_apart_from_losses() -> None:
    """A call the API refused is told to its caller: the shutdown report counts it as
    rejected, not lost, and stays ok."""
    import flext_otel

    with capture() as cap:
        assert flext_otel.metric("bad name", 1).is_failure
        assert flext_otel.log("fine").is_success
    report = cap.report
    assert report is not None
    assert (report.lost, report.rejected, report.ok) == (0, 1, True)
    assert str(report) == "nothing lost; 1 invalid calls rejected"
    assert report.pipelines["api:metric"].dropped == {"invalid": 1}
