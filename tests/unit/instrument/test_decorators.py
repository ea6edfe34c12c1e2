"""flext_monitor_function and span(): spans, metrics, context handling and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import gc
import inspect
import logging
import threading
import traceback
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flext_otel.instrument.decorators import (
    CALLS_METRIC,
    DURATION_BUCKETS,
    DURATION_METRIC,
    REPR_LIMIT,
    flext_monitor_function,
    span,
)
from flext_otel.store.telemetry import MetricPoint, SpanRecord
from flext_otel.testing import Captured, capture

MODULE = __name__


class Boom(Exception):
    """The error the tests raise."""


ContextErrors = Callable[[], list[str]]


@pytest.fixture
def context_errors(caplog: pytest.LogCaptureFixture) -> ContextErrors:
    """Messages logged so far by ``opentelemetry.context`` ("Failed to detach context")."""
    caplog.set_level(logging.DEBUG, logger="opentelemetry.context")

    def read() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "opentelemetry.context"]

    return read


def only(spans: list[SpanRecord]) -> SpanRecord:
    assert len(spans) == 1, spans
    return spans[0]


def point(cap: Captured, name: str, function: str, outcome: str) -> MetricPoint | None:
    found = [
        p
        for p in cap.metrics(name)
        if p.attributes.get("function") == function and p.attributes.get("outcome") == outcome
    ]
    assert len(found) <= 1
    return found[0] if found else None


def calls(cap: Captured, function: str, outcome: str) -> float:
    found = point(cap, CALLS_METRIC, function, outcome)
    return 0 if found is None else (found.value or 0)


def duration(cap: Captured, function: str, outcome: str) -> MetricPoint:
    found = point(cap, DURATION_METRIC, function, outcome)
    assert found is not None, f"no duration point for {function} {outcome}"
    return found


# -- decorated functions used across tests -------------------------------------------


@flext_monitor_function
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@flext_monitor_function("checkout.price", attributes={"team": "payments", "tier": 2})
def price(order_id: int, *, discount: float = 0.0) -> float:
    return 100.0 - discount


def _fail(error: Exception) -> None:
    raise error


@flext_monitor_function
def explode(error: Exception) -> None:
    _fail(error)


@flext_monitor_function
async def fetch(value: int) -> int:
    """Fetch a value asynchronously."""
    await asyncio.sleep(0)
    return value * 2


@flext_monitor_function
async def fetch_fail(error: Exception) -> None:
    await asyncio.sleep(0)
    raise error


@flext_monitor_function
def count_to(n: int) -> Generator[int, None, None]:
    """Yield 0..n-1, each inside a child span."""
    for i in range(n):
        with span(f"item-{i}"):
            pass
        yield i


@flext_monitor_function
async def acount_to(n: int) -> AsyncGenerator[int, None]:
    """Yield 0..n-1 asynchronously, each inside a child span."""
    for i in range(n):
        await asyncio.sleep(0)
        with span(f"aitem-{i}"):
            pass
        yield i


# -- sync functions ------------------------------------------------------------------


def test_sync_call_records_span_named_after_qualname_with_code_attributes(cap: Captured) -> None:
    """A bare-decorated function records one span named by qualname with code.* attributes."""
    assert add(2, 3) == 5
    record = only(cap.spans())
    assert record.name == "add"
    assert record.attributes["code.function"] == "add"
    assert record.attributes["code.namespace"] == MODULE
    assert record.status == "unset"
    assert record.parent_span_id is None


def test_named_decorator_uses_name_and_static_attributes(cap: Captured) -> None:
    """A name and static attributes given at decoration appear on every call's span."""
    price(1)
    price(2, discount=5.0)
    records = cap.spans("checkout.price")
    assert len(records) == 2
    for record in records:
        assert record.attributes["team"] == "payments"
        assert record.attributes["tier"] == 2
        assert record.attributes["code.function"] == "price"
    assert calls(cap, f"{MODULE}.price", "success") == 2


def test_name_keyword_is_accepted(cap: Captured) -> None:
    """``name=`` works like the positional span name."""

    @flext_monitor_function(name="by.keyword")
    def work() -> int:
        return 1

    assert work() == 1
    assert only(cap.spans()).name == "by.keyword"


def test_empty_parentheses_work_like_bare(cap: Captured) -> None:
    """``@flext_monitor_function()`` with no options behaves like the bare form."""

    @flext_monitor_function()
    def work() -> str:
        return "done"

    assert work() == "done"
    assert only(cap.spans()).name.endswith("work")


def test_sync_success_records_exact_metric_points(cap: Captured) -> None:
    """Calls add one per call to the counter and one histogram sample with outcome success."""
    for i in range(3):
        add(i, i)
    function = f"{MODULE}.add"
    assert calls(cap, function, "success") == 3
    assert calls(cap, function, "error") == 0
    hist = duration(cap, function, "success")
    assert hist.count == 3
    assert hist.unit == "s"
    assert hist.sum is not None
    assert 0 <= hist.sum < 5.0
    assert [bound for bound, _ in hist.buckets][:-1] == [float(b) for b in DURATION_BUCKETS]
    counter = point(cap, CALLS_METRIC, function, "success")
    assert counter is not None
    assert counter.unit == "1"
    assert dict(counter.attributes) == {"function": function, "outcome": "success"}


def test_sync_duration_reflects_the_call(cap: Captured) -> None:
    """The histogram sum covers the time spent in the function."""
    gate = threading.Event()

    @flext_monitor_function
    def wait() -> None:
        gate.wait(0.05)  # never set: waits the full 50 ms

    wait()
    hist = duration(cap, f"{MODULE}.{wait.__qualname__}", "success")
    assert hist.sum is not None
    assert 0.045 <= hist.sum < 5.0
    record = only(cap.spans())
    assert record.duration_ms >= 45


def test_exception_is_reraised_unchanged_and_recorded(cap: Captured) -> None:
    """The same exception object propagates with its traceback; span ERROR, event, outcome."""
    error = Boom("card declined")
    with pytest.raises(Boom) as info:
        explode(error)
    assert info.value is error
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "_fail"
    assert "explode" in frames
    record = only(cap.spans())
    assert record.status == "error"
    assert record.status_description == "Boom: card declined"
    assert [event[0] for event in record.events] == ["exception"]
    assert record.events[0][2]["exception.type"].endswith("Boom")
    assert record.events[0][2]["exception.message"] == "card declined"
    function = f"{MODULE}.explode"
    assert calls(cap, function, "error") == 1
    assert calls(cap, function, "success") == 0
    assert duration(cap, function, "error").count == 1


def test_mixed_outcomes_are_counted_separately(cap: Captured) -> None:
    """Successes and errors of one function land on two attribute sets."""

    @flext_monitor_function
    def maybe(fail: bool) -> str:
        if fail:
            raise Boom("no")
        return "yes"

    for fail in (False, True, False, True, True):
        with contextlib.suppress(Boom):
            maybe(fail)
    function = f"{MODULE}.{maybe.__qualname__}"
    assert calls(cap, function, "success") == 2
    assert calls(cap, function, "error") == 3
    assert duration(cap, function, "success").count == 2
    assert duration(cap, function, "error").count == 3
    assert [s.status for s in cap.spans()] == ["unset", "error", "unset", "error", "error"]


def test_child_spans_have_decorated_span_as_parent(cap: Captured) -> None:
    """Spans started inside the function are children of its span (same trace)."""
    tracer = cap.otel.tracer_provider.get_tracer("test")

    @flext_monitor_function
    def outer() -> trace.SpanContext:
        with tracer.start_as_current_span("inner") as inner:
            return inner.get_span_context()

    inner_context = outer()
    inner_record = only(cap.spans("inner"))
    outer_record = only(cap.spans(outer.__qualname__))
    assert inner_record.parent_span_id == outer_record.span_id
    assert inner_record.trace_id == outer_record.trace_id
    assert inner_record.span_id == f"{inner_context.span_id:016x}"


def test_decorated_span_is_child_of_caller_span(cap: Captured) -> None:
    """A call inside an OTel span makes the decorated span its child."""
    tracer = cap.otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request"):
        add(1, 1)
    request = only(cap.spans("request"))
    call = only(cap.spans("add"))
    assert call.parent_span_id == request.span_id
    assert call.trace_id == request.trace_id


def test_current_span_is_restored_after_call(cap: Captured) -> None:
    """After the call (and after a failing call) the caller's current span is back."""
    tracer = cap.otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as request:
        add(1, 2)
        assert trace.get_current_span() is request
        with pytest.raises(Boom):
            explode(Boom("x"))
        assert trace.get_current_span() is request
    assert trace.get_current_span() is trace.INVALID_SPAN


# -- options ---------------------------------------------------------------------------


def test_record_args_binds_positional_keyword_default_and_kwonly(cap: Captured) -> None:
    """record_args records positional, keyword, defaulted and keyword-only arguments."""

    @flext_monitor_function(record_args=("order_id", "region", "express", "note"))
    def ship(order_id: int, region: str = "eu", *, express: bool = False, note: str) -> None:
        return None

    ship(7, note="fragile")
    ship(order_id=8, region="us", express=True, note="x")
    first, second = cap.spans()
    assert (
        first.attributes.items()
        >= {
            "code.arg.order_id": 7,
            "code.arg.region": "eu",
            "code.arg.express": False,
            "code.arg.note": "fragile",
        }.items()
    )
    assert (
        second.attributes.items()
        >= {
            "code.arg.order_id": 8,
            "code.arg.region": "us",
            "code.arg.express": True,
            "code.arg.note": "x",
        }.items()
    )


def test_record_args_renders_other_values_with_truncated_repr(cap: Captured) -> None:
    """Values OTel cannot carry are recorded as repr, cut to REPR_LIMIT characters."""

    class Order:
        def __repr__(self) -> str:
            return "Order(" + "x" * 1000 + ")"

    @flext_monitor_function(record_args=("order", "tags", "mixed", "empty"))
    def handle(order: Order, tags: list[str], mixed: list[object], empty: object) -> None:
        return None

    handle(Order(), ["a", "b"], [1, "two"], None)
    attributes = only(cap.spans()).attributes
    text = attributes["code.arg.order"]
    assert isinstance(text, str)
    assert text.startswith("Order(xxx")
    assert len(text) == REPR_LIMIT
    assert text.endswith("...")
    assert tuple(attributes["code.arg.tags"]) == ("a", "b")
    assert attributes["code.arg.mixed"] == "[1, 'two']"
    assert attributes["code.arg.empty"] == "None"


def test_record_args_on_var_positional_and_var_keyword(cap: Captured) -> None:
    """*args and **kwargs parameters are recorded as the extra values."""

    @flext_monitor_function(record_args=("first", "rest", "options"))
    def collect(first: int, *rest: int, **options: str) -> None:
        return None

    collect(1, 2, 3, mode="fast")
    attributes = only(cap.spans()).attributes
    assert attributes["code.arg.first"] == 1
    assert tuple(attributes["code.arg.rest"]) == (2, 3)
    assert attributes["code.arg.options"] == "{'mode': 'fast'}"


def test_record_return_records_value_and_repr(cap: Captured) -> None:
    """record_return stores the return value as code.return (repr when needed)."""

    @flext_monitor_function(record_return=True)
    def number() -> int:
        return 42

    @flext_monitor_function(record_return=True)
    def mapping() -> dict[str, int]:
        return {"a": 1}

    assert number() == 42
    assert mapping() == {"a": 1}
    assert only(cap.spans(number.__qualname__)).attributes["code.return"] == 42
    assert only(cap.spans(mapping.__qualname__)).attributes["code.return"] == "{'a': 1}"


def test_record_return_is_absent_on_error(cap: Captured) -> None:
    """A failed call has no code.return attribute."""

    @flext_monitor_function(record_return=True)
    def broken() -> int:
        raise Boom("no value")

    with pytest.raises(Boom):
        broken()
    assert "code.return" not in only(cap.spans()).attributes


def test_new_trace_starts_root_linked_to_current_span(cap: Captured) -> None:
    """new_trace=True starts a new trace whose span links to the caller's span."""
    exporter = InMemorySpanExporter()
    provider = cap.otel.tracer_provider
    assert hasattr(provider, "add_span_processor")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    @flext_monitor_function("batch.job", new_trace=True)
    def job() -> None:
        return None

    with tracer.start_as_current_span("request") as request:
        job()
    request_context = request.get_span_context()
    record = only(cap.spans("batch.job"))
    assert record.parent_span_id is None
    assert record.trace_id != f"{request_context.trace_id:032x}"
    (exported,) = [s for s in exporter.get_finished_spans() if s.name == "batch.job"]
    assert len(exported.links) == 1
    assert exported.links[0].context.span_id == request_context.span_id
    assert exported.links[0].context.trace_id == request_context.trace_id


def test_new_trace_without_current_span_has_no_link(cap: Captured) -> None:
    """new_trace=True outside any span starts a root span with no links."""
    exporter = InMemorySpanExporter()
    provider = cap.otel.tracer_provider
    assert hasattr(provider, "add_span_processor")
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @flext_monitor_function(new_trace=True)
    def job() -> None:
        return None

    job()
    (exported,) = exporter.get_finished_spans()
    assert exported.parent is None
    assert list(exported.links) == []


def test_metrics_false_records_span_only(cap: Captured) -> None:
    """metrics=False records the span and no function metrics."""

    @flext_monitor_function(metrics=False)
    def quiet() -> int:
        return 1

    quiet()
    with pytest.raises(Boom):
        flext_monitor_function(metrics=False)(_fail)(Boom("x"))
    assert len(cap.spans()) == 2
    assert cap.metrics(CALLS_METRIC) == []
    assert cap.metrics(DURATION_METRIC) == []


# -- metadata and methods -------------------------------------------------------------


def test_metadata_and_signature_are_preserved() -> None:
    """functools.wraps metadata, signature and function kinds survive decoration."""
    assert add.__name__ == "add"
    assert add.__qualname__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert add.__module__ == MODULE
    assert str(inspect.signature(add)) == "(a: 'int', b: 'int') -> 'int'"
    assert str(inspect.signature(price)) == (
        "(order_id: 'int', *, discount: 'float' = 0.0) -> 'float'"
    )
    assert inspect.iscoroutinefunction(fetch)
    assert not inspect.iscoroutinefunction(add)
    assert inspect.isgeneratorfunction(count_to)
    assert inspect.isasyncgenfunction(acount_to)
    assert not inspect.isgeneratorfunction(add)
    assert fetch.__doc__ == "Fetch a value asynchronously."
    assert callable(getattr(add, "__wrapped__", None))


def test_methods_static_and_class_methods(cap: Captured) -> None:
    """Instance, static and class methods work in either decorator order."""

    class Cart:
        factor = 3

        def __init__(self) -> None:
            self.items = 2

        @flext_monitor_function(record_args=("extra",))
        def total(self, extra: int) -> int:
            return self.items + extra

        @flext_monitor_function
        @staticmethod
        def tax(amount: int) -> int:
            return amount // 10

        @flext_monitor_function
        @classmethod
        def scaled(cls, amount: int) -> int:
            return amount * cls.factor

        @staticmethod
        @flext_monitor_function
        def inner_static(amount: int) -> int:
            return amount + 1

        @classmethod
        @flext_monitor_function
        def inner_class(cls, amount: int) -> int:
            return amount - cls.factor

    cart = Cart()
    assert cart.total(5) == 7
    assert Cart.tax(100) == 10
    assert cart.tax(50) == 5
    assert Cart.scaled(2) == 6
    assert Cart.inner_static(1) == 2
    assert Cart.inner_class(10) == 7
    names = [record.name.rsplit(".", 2)[-2:] for record in cap.spans()]
    assert names == [
        ["Cart", "total"],
        ["Cart", "tax"],
        ["Cart", "tax"],
        ["Cart", "scaled"],
        ["Cart", "inner_static"],
        ["Cart", "inner_class"],
    ]
    total = cap.spans()[0]
    assert total.attributes["code.arg.extra"] == 5
    assert str(total.attributes["code.function"]).endswith("Cart.total")
    assert isinstance(Cart.__dict__["tax"], staticmethod)
    assert isinstance(Cart.__dict__["scaled"], classmethod)


def test_callable_instance_and_partial_are_wrapped(cap: Captured) -> None:
    """Callable objects and functools.partial objects are decorated like functions."""

    class Doubler:
        def __call__(self, value: int) -> int:
            return value * 2

    doubled = flext_monitor_function("doubler")(Doubler())
    plus_ten = flext_monitor_function("plus_ten")(functools.partial(add.__wrapped__, 10))  # type: ignore[attr-defined]
    assert doubled(4) == 8
    assert plus_ten(5) == 15
    assert [record.name for record in cap.spans()] == ["doubler", "plus_ten"]


# -- coroutines ------------------------------------------------------------------------


def test_async_function_records_span_and_metrics(cap: Captured) -> None:
    """An async def is awaited inside its span; metrics count the call."""
    assert asyncio.run(fetch(21)) == 42
    record = only(cap.spans())
    assert record.name == "fetch"
    assert record.attributes["code.function"] == "fetch"
    assert calls(cap, f"{MODULE}.fetch", "success") == 1
    assert duration(cap, f"{MODULE}.fetch", "success").count == 1


def test_async_exception_is_same_object_and_error_outcome(cap: Captured) -> None:
    """A failing coroutine re-raises its exception object and records outcome error."""
    error = Boom("async failure")

    async def main() -> None:
        await fetch_fail(error)

    with pytest.raises(Boom) as info:
        asyncio.run(main())
    assert info.value is error
    record = only(cap.spans())
    assert record.status == "error"
    assert record.status_description == "Boom: async failure"
    assert calls(cap, f"{MODULE}.fetch_fail", "error") == 1


def test_cancelled_coroutine_is_not_an_error(cap: Captured) -> None:
    """Cancellation propagates unchanged and, as in OTel, does not mark the span ERROR."""
    started = asyncio.Event()

    @flext_monitor_function
    async def slow() -> None:
        started.set()
        await asyncio.Event().wait()

    async def main() -> None:
        task = asyncio.create_task(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    record = only(cap.spans())
    assert record.status == "unset"
    assert record.end_time_ns > record.start_time_ns
    assert calls(cap, f"{MODULE}.{slow.__qualname__}", "success") == 1
    assert calls(cap, f"{MODULE}.{slow.__qualname__}", "error") == 0


def test_concurrent_coroutines_keep_their_own_parent(cap: Captured) -> None:
    """Each concurrently running call parents only its own child spans."""
    tracer = cap.otel.tracer_provider.get_tracer("test")

    @flext_monitor_function
    async def step(i: int) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        with tracer.start_as_current_span(f"child-{i}"):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(step(i) for i in range(50)))

    asyncio.run(main())
    parents = {r.span_id: r for r in cap.spans(step.__qualname__)}
    assert len(parents) == 50
    for i in range(50):
        child = only(cap.spans(f"child-{i}"))
        assert child.parent_span_id in parents
        assert parents[child.parent_span_id].trace_id == child.trace_id
    assert len({r.trace_id for r in parents.values()}) == 50


def test_coroutine_closed_without_awaiting_completion_ends_span(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """A coroutine closed mid-await ends its span as success, without detach errors."""

    class Suspend:
        def __await__(self) -> Generator[None, None, None]:
            yield None

    @flext_monitor_function
    async def waits() -> None:
        await Suspend()

    coroutine = waits()
    coroutine.send(None)
    assert trace.get_current_span() is not trace.INVALID_SPAN  # attached across the await
    coroutine.close()
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert only(cap.spans()).status == "unset"
    assert calls(cap, f"{MODULE}.{waits.__qualname__}", "success") == 1
    assert context_errors() == []


# -- generators ------------------------------------------------------------------------


def test_generator_span_covers_whole_iteration(cap: Captured) -> None:
    """A generator's span starts at the first next() and ends at exhaustion."""
    gen = count_to(3)
    assert cap.spans() == []  # nothing runs before iteration
    assert list(gen) == [0, 1, 2]
    record = only(cap.spans("count_to"))
    children = [only(cap.spans(f"item-{i}")) for i in range(3)]
    for child in children:
        assert child.parent_span_id == record.span_id
        assert child.trace_id == record.trace_id
        assert child.start_time_ns >= record.start_time_ns
        assert child.end_time_ns <= record.end_time_ns
    assert calls(cap, f"{MODULE}.count_to", "success") == 1
    assert duration(cap, f"{MODULE}.count_to", "success").count == 1


def test_generator_span_is_not_current_between_yields(cap: Captured) -> None:
    """Between yields the caller's context is current, not the generator's span."""
    tracer = cap.otel.tracer_provider.get_tracer("test")
    seen: list[int] = []
    with tracer.start_as_current_span("caller") as caller:
        for i in count_to(2):
            assert trace.get_current_span() is caller
            seen.append(i)
    assert seen == [0, 1]
    assert only(cap.spans("count_to")).parent_span_id == only(cap.spans("caller")).span_id


def test_detach_error_detector_sees_plain_otel_generator_closed_elsewhere(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """The detector works: a plain OTel span kept across a yield fails to detach."""
    tracer = cap.otel.tracer_provider.get_tracer("test")

    def plain() -> Generator[int, None, None]:
        with tracer.start_as_current_span("plain"):
            yield 1
            yield 2

    gen = plain()
    scratch = contextvars.copy_context()  # the failed detach leaks the span into it only
    assert scratch.run(next, gen) == 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(gen.close).result()
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert any("Failed to detach context" in message for message in context_errors())


def test_generator_early_close_is_success_without_detach_error(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """gen.close() after one item ends the span cleanly as a success."""
    closed = threading.Event()

    @flext_monitor_function
    def numbers() -> Generator[int, None, None]:
        try:
            yield from range(100)
        finally:
            closed.set()

    gen = numbers()
    assert next(gen) == 0
    gen.close()
    assert closed.is_set()
    record = only(cap.spans())
    assert record.status == "unset"
    assert calls(cap, f"{MODULE}.{numbers.__qualname__}", "success") == 1
    assert calls(cap, f"{MODULE}.{numbers.__qualname__}", "error") == 0
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert context_errors() == []


def test_generator_garbage_collected_ends_span(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """A partially consumed generator that is garbage-collected ends its span."""
    gen = count_to(10)
    next(gen)
    next(gen)
    del gen
    gc.collect()
    record = only(cap.spans("count_to"))
    assert record.status == "unset"
    assert len(cap.spans("item-0")) == 1
    assert len(cap.spans("item-1")) == 1
    assert context_errors() == []


def test_generator_finished_in_another_thread(cap: Captured, context_errors: ContextErrors) -> None:
    """A generator started in one thread and finished or closed in another ends cleanly."""
    finished = count_to(3)
    closed = count_to(3)
    assert next(finished) == 0
    assert next(closed) == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(list, finished).result() == [1, 2]
        assert pool.submit(next, closed).result() == 1
        pool.submit(closed.close).result()
    records = cap.spans("count_to")
    assert len(records) == 2
    for record in records:
        assert record.status == "unset"
    assert calls(cap, f"{MODULE}.count_to", "success") == 2
    assert context_errors() == []


def test_generator_body_exception_is_error(cap: Captured) -> None:
    """An exception raised by the generator body propagates unchanged with outcome error."""
    error = Boom("bad row")

    @flext_monitor_function
    def rows() -> Iterator[int]:
        yield 1
        raise error

    gen = rows()
    assert next(gen) == 1
    with pytest.raises(Boom) as info:
        next(gen)
    assert info.value is error
    record = only(cap.spans())
    assert record.status == "error"
    assert record.events[0][0] == "exception"
    assert calls(cap, f"{MODULE}.{rows.__qualname__}", "error") == 1


def test_generator_send_throw_and_return_value(cap: Captured) -> None:
    """send() values and thrown exceptions reach the body; the return value is kept."""

    @flext_monitor_function(record_return=True)
    def accumulate() -> Generator[int, int | None, int]:
        total = 0
        while True:
            try:
                value = yield total
            except Boom:
                total = -1
                continue
            if value is None:
                return total
            total += value

    gen = accumulate()
    assert next(gen) == 0
    assert gen.send(5) == 5
    assert gen.throw(Boom("reset")) == -1
    assert gen.send(2) == 1
    with pytest.raises(StopIteration) as info:
        gen.send(None)
    assert info.value.value == 1
    record = only(cap.spans())
    assert record.attributes["code.return"] == 1
    assert record.status == "unset"


def test_generator_thrown_exception_not_handled_is_error(cap: Captured) -> None:
    """An exception thrown into the generator and not handled is its error outcome."""
    gen = count_to(5)
    next(gen)
    error = Boom("thrown")
    with pytest.raises(Boom) as info:
        gen.throw(error)
    assert info.value is error
    assert only(cap.spans("count_to")).status == "error"
    assert calls(cap, f"{MODULE}.count_to", "error") == 1


# -- async generators -----------------------------------------------------------------


def test_async_generator_span_covers_iteration(cap: Captured) -> None:
    """An async generator records one span over the whole iteration with child spans."""

    async def main() -> list[int]:
        return [i async for i in acount_to(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    record = only(cap.spans("acount_to"))
    for i in range(3):
        child = only(cap.spans(f"aitem-{i}"))
        assert child.parent_span_id == record.span_id
    assert calls(cap, f"{MODULE}.acount_to", "success") == 1


def test_async_generator_early_close_and_error(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """aclose() after one item is a success; a body error is an error outcome."""
    error = Boom("stream broke")

    @flext_monitor_function
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise error

    async def main() -> None:
        agen = acount_to(10)
        assert await agen.__anext__() == 0
        await agen.aclose()
        failing = broken()
        assert await failing.__anext__() == 1
        with pytest.raises(Boom) as info:
            await failing.__anext__()
        assert info.value is error

    asyncio.run(main())
    assert only(cap.spans("acount_to")).status == "unset"
    assert only(cap.spans(broken.__qualname__)).status == "error"
    assert calls(cap, f"{MODULE}.acount_to", "success") == 1
    assert calls(cap, f"{MODULE}.{broken.__qualname__}", "error") == 1
    assert context_errors() == []


def test_async_generator_iterated_across_tasks(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """An async generator started in one task and finished in another ends cleanly."""

    async def main() -> list[int]:
        agen = acount_to(3)

        async def first_item() -> int:
            return await agen.__anext__()

        first = await asyncio.create_task(first_item())

        async def rest() -> list[int]:
            return [i async for i in agen]

        return [first, *await asyncio.create_task(rest())]

    assert asyncio.run(main()) == [0, 1, 2]
    assert only(cap.spans("acount_to")).status == "unset"
    assert context_errors() == []


def test_async_generator_abandoned_is_finalized_by_loop(
    cap: Captured, context_errors: ContextErrors
) -> None:
    """An abandoned async generator is closed by the event loop and ends its span."""

    async def main() -> None:
        agen = acount_to(10)
        assert await agen.__anext__() == 0
        del agen
        gc.collect()

    asyncio.run(main())  # shutdown_asyncgens finalizes anything left
    assert only(cap.spans("acount_to")).status == "unset"
    assert context_errors() == []


# -- span() ----------------------------------------------------------------------------


def test_span_yields_otel_span_with_attributes(cap: Captured) -> None:
    """span() yields the OTel span, current inside the block, with the given attributes."""
    with span("load", rows=3, source="db") as current:
        assert isinstance(current, trace.Span)
        assert trace.get_current_span() is current
        current.set_attribute("cache", "hit")
    record = only(cap.spans())
    assert record.name == "load"
    assert record.attributes.items() >= {"rows": 3, "source": "db", "cache": "hit"}.items()
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_span_exception_sets_error_and_propagates(cap: Captured) -> None:
    """An exception inside span() sets ERROR, adds an event and propagates unchanged."""
    error = Boom("query failed")
    with pytest.raises(Boom) as info, span("query"):
        raise error
    assert info.value is error
    record = only(cap.spans())
    assert record.status == "error"
    assert record.status_description == "Boom: query failed"
    assert [event[0] for event in record.events] == ["exception"]


def test_span_nests_with_otel_tracer_both_ways(cap: Captured) -> None:
    """span() inside an OTel span and an OTel span inside span() get correct parents."""
    tracer = cap.otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("otel-outer"), span("flext-middle"):
        with tracer.start_as_current_span("otel-inner") as inner:
            inner_id = inner.get_span_context().span_id
        add(1, 1)
    outer = only(cap.spans("otel-outer"))
    middle = only(cap.spans("flext-middle"))
    innermost = only(cap.spans("otel-inner"))
    call = only(cap.spans("add"))
    assert middle.parent_span_id == outer.span_id
    assert innermost.parent_span_id == middle.span_id
    assert call.parent_span_id == middle.span_id
    assert innermost.span_id == f"{inner_id:016x}"
    assert len({outer.trace_id, middle.trace_id, innermost.trace_id, call.trace_id}) == 1


def test_span_with_a_bad_name_still_runs_the_block_and_warns_once(
    cap: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    """span() never raises on a bad name: the block runs in a span named by the value's
    text, and the mistake is logged once."""
    from flext_otel.instrument import spanscope

    spanscope._failures.reset("span-name")
    with caplog.at_level(logging.WARNING, logger="flext_otel"):
        with span(""):
            ran = ["empty"]
        with span(42):  # type: ignore[arg-type]
            ran.append("int")
        with span(None):  # type: ignore[arg-type]
            ran.append("none")
    assert ran == ["empty", "int", "none"]
    assert [s.name for s in cap.spans()] == ["unnamed", "42", "None"]
    assert len([r for r in caplog.records if "span(): name" in r.getMessage()]) == 1


# -- reconfiguration and robustness -----------------------------------------------


def test_decorator_follows_the_current_pipeline() -> None:
    """A function decorated at import records into whichever capture is active."""
    with capture() as first:
        add(1, 1)
    with capture() as second:
        add(2, 2)
        add(3, 3)
    assert len(first.spans("add")) == 1
    assert len(second.spans("add")) == 2
    assert calls(second, f"{MODULE}.add", "success") == 2
    with capture() as outer:
        add(0, 0)
        with capture() as inner:
            add(0, 0)
        add(0, 0)
    assert len(inner.spans("add")) == 1
    assert len(outer.spans("add")) == 2


def test_span_follows_the_current_pipeline() -> None:
    """span() records into the capture active when it is entered."""
    with capture() as first, span("one"):
        pass
    with capture() as second, span("two"):
        pass
    assert [r.name for r in first.spans()] == ["one"]
    assert [r.name for r in second.spans()] == ["two"]


def test_instrumentation_failure_does_not_break_the_function(
    cap: Captured, caplog: pytest.LogCaptureFixture
) -> None:
    """When the tracer cannot start spans the function still runs and returns."""

    class BrokenTracer(trace.NoOpTracer):
        def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
            raise RuntimeError("tracer broken")

    class BrokenProvider(trace.NoOpTracerProvider):
        def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
            return BrokenTracer()

    calls_made: list[int] = []

    @flext_monitor_function
    def work(value: int) -> int:
        calls_made.append(value)
        return value + 1

    with capture() as broken:
        broken.otel.tracer_provider = BrokenProvider()
        assert work(1) == 2
        with span("block") as fallback:
            assert not fallback.is_recording()
        assert asyncio.run(flext_monitor_function(fetch.__wrapped__)(4)) == 8  # type: ignore[attr-defined]
        assert list(flext_monitor_function(count_to.__wrapped__)(2)) == [0, 1]  # type: ignore[attr-defined]
        with pytest.raises(Boom):
            explode(Boom("still raised"))
    assert calls_made == [1]
    assert broken.spans() == []
    work(5)  # back on the test's capture
    assert only(cap.spans()).name == work.__qualname__


def test_threads_share_one_decorated_function(cap: Captured) -> None:
    """Calls from many threads are all recorded, each with its own span."""
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait()
        for i in range(100):
            add(i, 1)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = cap.spans("add")
    assert len(records) == 800
    assert len({r.span_id for r in records}) == 800
    assert calls(cap, f"{MODULE}.add", "success") == 800
    assert duration(cap, f"{MODULE}.add", "success").count == 800


# -- bad input ---------------------------------------------------------------------------


def test_decorating_a_class_raises_type_error() -> None:
    """Classes are rejected at decoration time with a clear message."""
    with pytest.raises(TypeError, match="not classes"):

        @flext_monitor_function
        class Service:
            pass

    with pytest.raises(TypeError, match="not classes"):
        flext_monitor_function("named")(dict)


@pytest.mark.parametrize("target", [42, 3.5, None.__class__, object()])
def test_decorating_non_callables_raises_type_error(target: Any) -> None:
    """Non-callables (and classes) are rejected at decoration time."""
    with pytest.raises(TypeError, match="flext_monitor_function"):
        flext_monitor_function(target)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nmae": "typo"}, "unknown option"),
        ({"record_args": "order_id"}, "tuple of parameter names"),
        ({"record_args": ("1bad",)}, "not a name"),
        ({"record_return": "yes"}, "record_return must be a bool"),
        ({"new_trace": 1}, "new_trace must be a bool"),
        ({"metrics": None}, "metrics must be a bool"),
        ({"name": ""}, "non-empty str"),
        ({"name": 7}, "non-empty str"),
        ({"attributes": ["a"]}, "attributes must be a mapping"),
        ({"attributes": {"k": {"nested": 1}}}, "attribute 'k'"),
        ({"attributes": {"k": [1, "x"]}}, "homogeneous"),
        ({"attributes": {1: "v"}}, "attribute keys"),
    ],
)
def test_bad_options_raise_type_error(options: dict[str, Any], message: str) -> None:
    """Unknown or ill-typed options raise TypeError before any function is wrapped."""
    with pytest.raises(TypeError, match=message):
        flext_monitor_function(**options)


def test_record_args_naming_missing_parameter_raises() -> None:
    """record_args naming a parameter the function lacks fails at decoration time."""
    decorate = flext_monitor_function(record_args=("missing",))
    with pytest.raises(TypeError, match="'missing', which is not a parameter"):
        decorate(add.__wrapped__)  # type: ignore[attr-defined]


def test_name_given_twice_raises() -> None:
    """A positional span name and name= together are rejected."""
    with pytest.raises(TypeError, match="not both"):
        flext_monitor_function("a", name="b")


def test_list_attributes_are_frozen_at_decoration(cap: Captured) -> None:
    """A list attribute value is copied at decoration; later mutation does not leak."""
    tags = ["a", "b"]

    @flext_monitor_function(attributes={"tags": tags})
    def tagged() -> None:
        return None

    tags.append("c")
    tagged()
    assert tuple(only(cap.spans()).attributes["tags"]) == ("a", "b")
