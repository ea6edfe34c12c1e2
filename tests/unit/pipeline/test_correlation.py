"""Correlation IDs: scopes, validation, baggage, carriers, threads and isolation under load."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import uuid
from collections.abc import AsyncGenerator, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flext_otel.instrument.logbridge import FlextLoggingHandler
from flext_otel.pipeline.correlation import (
    BAGGAGE_KEY,
    ContextPreservingExecutor,
    attach_extracted,
    correlation_scope,
    extract,
    get_correlation_id,
    inject,
    propagate_context,
    set_correlation_id,
    validate_correlation_id,
)
from flext_otel.support.keys import CORRELATION_ATTRIBUTE


class StampCorrelation(SpanProcessor):
    """Test-local processor: stamps the current correlation ID on every span start."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        cid = get_correlation_id()
        if cid is not None:
            span.set_attribute(CORRELATION_ATTRIBUTE, cid)

    def on_end(self, span: ReadableSpan) -> None:
        return None


@pytest.fixture
def spans() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(StampCorrelation())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


@pytest.fixture
def no_detach_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="opentelemetry.context")
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    failures = [r for r in records if "detach" in r.getMessage().lower()]
    assert failures == []


# -- scopes ---------------------------------------------------------------------------
def test_scope_generates_uuid4_hex_and_restores_none() -> None:
    """A scope without an ID generates a uuid4 hex and restores the absence on exit."""
    assert get_correlation_id() is None
    with correlation_scope() as cid:
        assert uuid.UUID(hex=cid).version == 4
        assert cid == uuid.UUID(hex=cid).hex
        assert get_correlation_id() == cid
        assert baggage.get_baggage(BAGGAGE_KEY) == cid
    assert get_correlation_id() is None
    assert baggage.get_baggage(BAGGAGE_KEY) is None


def test_scopes_generate_distinct_ids() -> None:
    """Two generated scopes get different IDs."""
    with correlation_scope() as first, correlation_scope() as second:
        assert first != second


def test_nested_scopes_restore_the_outer_id() -> None:
    """An inner scope shadows the outer one and gives it back on exit."""
    with correlation_scope("outer") as outer:
        assert outer == "outer"
        with correlation_scope("inner"):
            assert get_correlation_id() == "inner"
        assert get_correlation_id() == "outer"
        assert baggage.get_baggage(BAGGAGE_KEY) == "outer"
    assert get_correlation_id() is None


def test_scope_restores_after_an_exception() -> None:
    """Leaving a scope through an exception still restores the previous ID."""
    with pytest.raises(RuntimeError, match="boom"), correlation_scope("req-1"):
        raise RuntimeError("boom")
    assert get_correlation_id() is None


def test_scope_keeps_the_current_span(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    """Entering a scope inside a span keeps that span current."""
    tracer, _ = spans
    with tracer.start_as_current_span("outer") as span, correlation_scope("req-2"):
        assert trace.get_current_span() is span


def test_scope_object_exposes_its_id() -> None:
    """The scope object knows its ID before it is entered."""
    scope = correlation_scope("req-3")
    assert scope.correlation_id == "req-3"
    assert get_correlation_id() is None


def test_async_with_scope() -> None:
    """``async with`` works like ``with``."""

    async def main() -> tuple[str | None, str | None]:
        async with correlation_scope("async-1") as cid:
            await asyncio.sleep(0)
            inside = get_correlation_id()
        assert cid == "async-1"
        return inside, get_correlation_id()

    assert asyncio.run(main()) == ("async-1", None)


def test_set_and_get_in_a_copied_context_do_not_leak() -> None:
    """set_correlation_id affects the current context only, not its parent."""

    def child() -> str | None:
        set_correlation_id("child-1")
        return get_correlation_id()

    with correlation_scope("parent"):
        assert contextvars.copy_context().run(child) == "child-1"
        assert get_correlation_id() == "parent"


def test_set_correlation_id_sets_baggage_too() -> None:
    """set_correlation_id puts the ID in the OTel baggage as well."""

    def child() -> tuple[str | None, object]:
        set_correlation_id("req-4")
        return get_correlation_id(), baggage.get_baggage(BAGGAGE_KEY)

    assert contextvars.copy_context().run(child) == ("req-4", "req-4")


# -- validation ----------------------------------------------------------------------------
INVALID_IDS = [
    pytest.param(123, "must be a string, got int", id="int"),
    pytest.param(None, "must be a string, got NoneType", id="none"),
    pytest.param(b"abc", "must be a string, got bytes", id="bytes"),
    pytest.param("", "must not be empty", id="empty"),
    pytest.param("x" * 257, "at most 256 characters, got 257", id="too-long"),
    pytest.param("a b", "' ' at position 1", id="space"),
    pytest.param('a"b', "position 1", id="quote"),
    pytest.param("a,b", "',' at position 1", id="comma"),
    pytest.param("a;b", "';' at position 1", id="semicolon"),
    pytest.param("a\\b", "position 1", id="backslash"),
    pytest.param("ab\n", "'\\n' at position 2", id="newline"),
    pytest.param("café", "'é' at position 3", id="non-ascii"),
    pytest.param("\x7f", "position 0", id="delete"),
]


@pytest.mark.parametrize(("cid", "message"), INVALID_IDS)
def test_set_correlation_id_rejects_invalid_ids(cid: object, message: str) -> None:
    """Each kind of invalid ID raises ValueError with a sentence naming the problem."""
    with pytest.raises(ValueError, match="correlation ID") as info:
        contextvars.copy_context().run(set_correlation_id, cid)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize(("cid", "message"), INVALID_IDS)
def test_validate_returns_failed_result(cid: object, message: str) -> None:
    """validate_correlation_id turns each invalid ID into a failed FlextResult."""
    result = validate_correlation_id(cid)
    assert result.is_failure
    assert result.error_code == "VALIDATION_ERROR"
    assert message in (result.error or "")


@pytest.mark.parametrize(("cid", "message"), [p for p in INVALID_IDS if p.values[0] is not None])
def test_scope_rejects_invalid_ids_before_entering(cid: object, message: str) -> None:
    """correlation_scope raises ValueError at call time and changes nothing."""
    with pytest.raises(ValueError, match="correlation ID"):
        correlation_scope(cid)  # type: ignore[arg-type]
    assert get_correlation_id() is None


@pytest.mark.parametrize(
    "cid", ["a", "x" * 256, "req-7f3a", "A!#$%&'*+-./:<=>?@[]^_`{|}~9", "00-ab_cd.ef"]
)
def test_valid_ids_are_accepted(cid: str) -> None:
    """IDs made of baggage-safe printable ASCII, up to 256 characters, are accepted."""
    assert validate_correlation_id(cid).value == cid
    with correlation_scope(cid) as current:
        assert current == get_correlation_id() == cid


# -- baggage and carriers ------------------------------------------------------------------------
def test_id_extracted_by_a_plain_otel_propagator_is_seen() -> None:
    """An ID attached as baggage by plain OTel code (e.g. a middleware) is returned."""

    def request() -> str | None:
        ctx = W3CBaggagePropagator().extract({"baggage": "correlation_id=abc"})
        token = otel_context.attach(ctx)
        try:
            return get_correlation_id()
        finally:
            otel_context.detach(token)

    assert contextvars.copy_context().run(request) == "abc"


def test_attach_extracted_makes_the_baggage_id_current() -> None:
    """Inside attach_extracted the request's baggage ID is the correlation ID."""
    with correlation_scope("outer"):
        with attach_extracted({"baggage": "correlation_id=abc,other=1"}) as ctx:
            assert get_correlation_id() == "abc"
            assert baggage.get_baggage("other", ctx) == "1"
        assert get_correlation_id() == "outer"


def test_attach_extracted_matches_header_names_case_insensitively() -> None:
    """Capitalised header names (as some frameworks deliver them) are understood."""
    with attach_extracted({"Baggage": "correlation_id=abc"}):
        assert get_correlation_id() == "abc"


def test_attach_extracted_without_an_id_hides_the_outer_one() -> None:
    """A request without a correlation ID does not inherit the surrounding one."""
    with correlation_scope("outer"):
        with attach_extracted({}):
            assert get_correlation_id() is None
        assert get_correlation_id() == "outer"


def test_invalid_id_in_baggage_is_ignored() -> None:
    """A baggage value that is not a valid ID (here a space) is not returned."""
    with attach_extracted({"baggage": "correlation_id=a%20b"}):
        assert baggage.get_baggage(BAGGAGE_KEY) == "a b"
        assert get_correlation_id() is None


def test_inject_writes_traceparent_and_baggage(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    """inject() fills a new dict with traceparent and the correlation baggage."""
    tracer, _ = spans
    with tracer.start_as_current_span("client") as span, correlation_scope("req-5"):
        headers = inject()
        ids = span.get_span_context()
    assert headers["baggage"] == "correlation_id=req-5"
    flags = int(ids.trace_flags)
    assert headers["traceparent"] == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{flags:02x}"


def test_inject_into_a_given_carrier_returns_it() -> None:
    """inject(carrier) writes into and returns the same carrier."""
    carrier = {"x-other": "1"}
    with correlation_scope("req-6"):
        assert inject(carrier) is carrier
    assert carrier == {"x-other": "1", "baggage": "correlation_id=req-6"}


def test_inject_outside_any_scope_adds_nothing() -> None:
    """Without span or correlation ID there is nothing to propagate."""
    assert inject() == {}


def test_inject_includes_the_id_even_when_baggage_was_replaced() -> None:
    """The current ID is propagated even if a bare OTel context was attached on top."""
    with correlation_scope("req-7"):
        token = otel_context.attach(Context())
        try:
            headers = inject()
        finally:
            otel_context.detach(token)
    assert headers == {"baggage": "correlation_id=req-7"}


def test_inject_extract_round_trip_across_a_process_hop(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    """traceparent and correlation ID survive a dict carrier into a fresh context."""
    tracer, exporter = spans
    with tracer.start_as_current_span("client") as client, correlation_scope("req-8"):
        wire = dict(inject())
    client_ids = client.get_span_context()

    def server() -> str | None:
        # a new process: nothing of the client's context exists here
        assert get_correlation_id() is None
        with attach_extracted(wire), tracer.start_as_current_span("server"):
            return get_correlation_id()

    assert contextvars.Context().run(server) == "req-8"
    server_span = next(s for s in exporter.get_finished_spans() if s.name == "server")
    assert server_span.context.trace_id == client_ids.trace_id
    assert server_span.parent is not None
    assert server_span.parent.span_id == client_ids.span_id
    assert server_span.parent.is_remote
    assert server_span.attributes is not None
    assert server_span.attributes[CORRELATION_ATTRIBUTE] == "req-8"


def test_extract_builds_on_an_empty_context_by_default() -> None:
    """extract() does not mix the current context's baggage into the request."""
    with correlation_scope("local"):
        ctx = extract({"baggage": "other=1"})
    assert baggage.get_baggage(BAGGAGE_KEY, ctx) is None
    assert baggage.get_baggage("other", ctx) == "1"


def test_extract_ignores_malformed_headers() -> None:
    """Garbage traceparent and baggage headers give an empty context, no exception."""
    ctx = extract({"traceparent": "nonsense", "baggage": ";;=,="})
    assert not trace.get_current_span(ctx).get_span_context().is_valid
    assert baggage.get_all(ctx) == {}


# -- threads -------------------------------------------------------------------------------------
def _current_ids() -> tuple[str | None, int]:
    return get_correlation_id(), trace.get_current_span().get_span_context().span_id


def test_propagate_context_carries_trace_parent_and_id_into_a_pool(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    """A wrapped callable sees the submitter's span and ID; a bare one does not."""
    tracer, _ = spans
    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        tracer.start_as_current_span("submit") as span,
        correlation_scope("job-1"),
    ):
        wrapped = pool.submit(propagate_context(_current_ids)).result()
        bare = pool.submit(_current_ids).result()
    assert wrapped == ("job-1", span.get_span_context().span_id)
    assert bare == (None, 0)


def test_propagate_context_captures_at_wrap_time_and_allows_concurrent_calls() -> None:
    """The wrapper keeps the context of wrap time, and many calls may run at once."""
    with correlation_scope("wrap-time"):
        wrapped = propagate_context(get_correlation_id)
    barrier = threading.Barrier(4)

    def call() -> str | None:
        barrier.wait(timeout=5)
        return wrapped()

    with correlation_scope("call-time"), ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result() for f in [pool.submit(call) for _ in range(4)]]
    assert results == ["wrap-time"] * 4


def test_propagate_context_preserves_metadata_and_rejects_coroutines() -> None:
    """functools.wraps metadata is kept; coroutine functions are refused with TypeError."""

    def work() -> None:
        """Docstring of work."""

    async def coro() -> None:
        return None

    assert propagate_context(work).__doc__ == "Docstring of work."
    assert propagate_context(work).__name__ == "work"
    with pytest.raises(TypeError, match="asyncio tasks already copy"):
        propagate_context(coro)


def test_context_preserving_executor_keeps_parent_and_isolates_changes(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    """Tasks run in the submitter's context; their own changes stay in the task."""
    tracer, exporter = spans

    def task(n: int) -> str | None:
        with tracer.start_as_current_span(f"worker-{n}"):
            seen = get_correlation_id()
        set_correlation_id(f"changed-{n}")
        return seen

    with (
        ContextPreservingExecutor(max_workers=4) as pool,
        tracer.start_as_current_span("parent") as parent,
        correlation_scope("batch-1"),
    ):
        results = list(pool.map(task, range(8)))
        assert get_correlation_id() == "batch-1"
    assert results == ["batch-1"] * 8
    workers = [s for s in exporter.get_finished_spans() if s.name.startswith("worker-")]
    assert len(workers) == 8
    for span in workers:
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.attributes is not None
        assert span.attributes[CORRELATION_ATTRIBUTE] == "batch-1"


# -- leaving scopes in odd places ---------------------------------------------------------------
def test_generator_closed_early_in_same_context_restores(no_detach_errors: None) -> None:
    """Closing a generator that holds a scope restores the caller's ID."""

    def numbers() -> Generator[str | None, None, None]:
        with correlation_scope("gen"):
            yield get_correlation_id()
            yield get_correlation_id()

    with correlation_scope("caller"):
        gen = numbers()
        assert next(gen) == "gen"
        gen.close()
        assert get_correlation_id() == "caller"


def test_generator_closed_in_another_context_does_not_raise(no_detach_errors: None) -> None:
    """A generator whose scope is exited from a different context closes quietly."""

    def numbers() -> Generator[str | None, None, None]:
        with correlation_scope("gen"):
            yield get_correlation_id()

    gen = numbers()
    first = contextvars.copy_context().run(next, gen)
    assert first == "gen"
    contextvars.copy_context().run(gen.close)
    assert get_correlation_id() is None


def test_scope_exited_in_another_context_leaves_that_context_alone(
    no_detach_errors: None,
) -> None:
    """__exit__ from a foreign context neither raises nor changes that context."""
    scope = correlation_scope("handed-over")
    contextvars.copy_context().run(scope.__enter__)

    def other() -> str | None:
        set_correlation_id("other")
        scope.__exit__(None, None, None)
        return get_correlation_id()

    assert contextvars.copy_context().run(other) == "other"
    scope.__exit__(None, None, None)  # already exited: a no-op
    assert get_correlation_id() is None


async def _stream() -> AsyncGenerator[str | None, None]:
    async with correlation_scope("agen"):
        yield get_correlation_id()
        yield get_correlation_id()


def test_async_generator_closed_early_in_same_task_restores(no_detach_errors: None) -> None:
    """aclose() from the consuming task ends the generator's scope and restores."""

    async def main() -> tuple[str | None, str | None]:
        agen = _stream()
        first = await anext(agen)
        await agen.aclose()
        return first, get_correlation_id()

    assert asyncio.run(main()) == ("agen", None)


def test_async_generator_closed_in_another_task_does_not_raise(no_detach_errors: None) -> None:
    """An async generator finalised by another task closes without detach errors."""

    async def main() -> str | None:
        agen = _stream()
        first = await anext(agen)
        await asyncio.create_task(agen.aclose())
        return first

    assert asyncio.run(main()) == "agen"


# -- isolation under load --------------------------------------------------------------------------
@pytest.fixture
def isolation_logger() -> Iterator[tuple[logging.Logger, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # SDK lacks hints
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger(f"flext.test.isolation.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = FlextLoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    yield logger, exporter
    logger.removeHandler(handler)
    provider.shutdown()


def test_isolation_under_load(
    spans: tuple[trace.Tracer, InMemorySpanExporter],
    isolation_logger: tuple[logging.Logger, InMemoryLogRecordExporter],
) -> None:
    """1,000 tasks and 16 threads each see only their own ID in spans and logs."""
    tracer, span_exporter = spans
    logger, log_exporter = isolation_logger
    thread_count, rounds = 16, 25
    barrier = threading.Barrier(thread_count)

    def unit_of_work(expected: str) -> None:
        with tracer.start_as_current_span("work", attributes={"expected": expected}):
            logger.info("working", extra={"expected": expected})

    async def one_task(n: int) -> bool:
        with correlation_scope(f"task-{n}") as cid:
            await asyncio.sleep(0)
            unit_of_work(cid)
            await asyncio.sleep(0)
            with correlation_scope(f"task-{n}-nested"):
                await asyncio.sleep(0)
            return get_correlation_id() == cid

    async def all_tasks() -> list[bool]:
        return await asyncio.gather(*(one_task(n) for n in range(1000)))

    def one_thread(n: int) -> bool:
        barrier.wait(timeout=10)
        kept = True
        for r in range(rounds):
            with correlation_scope(f"thread-{n}-{r}") as cid:
                unit_of_work(cid)
                kept = kept and get_correlation_id() == cid
        return kept

    with correlation_scope("parent"), ThreadPoolExecutor(max_workers=thread_count) as pool:
        futures = [pool.submit(one_thread, n) for n in range(thread_count)]
        task_results = asyncio.run(all_tasks())
        thread_results = [f.result(timeout=30) for f in futures]
        assert get_correlation_id() == "parent"
        assert baggage.get_baggage(BAGGAGE_KEY) == "parent"

    assert all(task_results)
    assert all(thread_results)
    expected_total = 1000 + thread_count * rounds
    finished = span_exporter.get_finished_spans()
    assert len(finished) == expected_total
    span_leaks = [
        s
        for s in finished
        if s.attributes is None
        or s.attributes.get(CORRELATION_ATTRIBUTE) != s.attributes.get("expected")
    ]
    assert span_leaks == []
    span_by_id = {s.context.span_id: s for s in finished}
    records = [r.log_record for r in log_exporter.get_finished_logs()]
    assert len(records) == expected_total
    log_leaks = [
        r
        for r in records
        if r.attributes is None
        or r.attributes.get(CORRELATION_ATTRIBUTE) != r.attributes.get("expected")
        or r.span_id not in span_by_id
        or (span_by_id[r.span_id].attributes or {}).get("expected") != r.attributes.get("expected")
    ]
    assert log_leaks == []
    assert len({s.attributes.get("expected") for s in finished if s.attributes}) == expected_total
