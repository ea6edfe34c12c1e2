"""The call wrappers of ``flext_monitor_function``: sync, coroutine, generator, async generator.

Each wrapper resolves the current pipeline's tracer and instruments (cached per
pipeline generation, see :func:`current_pipeline`), starts the span, runs the
function and hands the outcome to the function's :class:`~flext_otel.instrument.plan.Plan`.
Generators and async generators keep their span current only while their body
runs (attached and detached around each resume step); coroutines keep it
across their ``await`` points.

Imports: ``instrument.plan``, ``pipeline.state``; the OpenTelemetry API.

Threading and errors: wrappers may run on any thread or task; a failure inside
flext's instrumentation is logged once and the function runs (or returns) as if
undecorated.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from time import perf_counter_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import NoOpCounter, NoOpHistogram
from opentelemetry.trace import Span, set_span_in_context

from flext_otel.instrument.plan import (
    CALLS_METRIC,
    DURATION_BUCKETS,
    DURATION_METRIC,
    SCOPE_NAME,
    Options,
    Pipeline,
    Plan,
)
from flext_otel.instrument.plan import instrumentation_failed as _instrumentation_failed
from flext_otel.pipeline import state as providers

_STATE = providers._state  # read-only: its generation changes with the current pipeline

_pipeline = Pipeline(
    -1, trace_api.NoOpTracer(), NoOpHistogram(DURATION_METRIC), NoOpCounter(CALLS_METRIC)
)


def _resolve() -> Pipeline:
    """Build (and cache) the tracer and instruments of the current pipeline."""
    global _pipeline
    while True:
        generation = _STATE.generation
        otel = providers.current()
        if _STATE.generation == generation:  # nothing switched meanwhile
            break
    version = providers.PACKAGE_VERSION
    tracer = otel.tracer_provider.get_tracer(SCOPE_NAME, version)
    meter = otel.meter_provider.get_meter(SCOPE_NAME, version)
    duration = meter.create_histogram(
        DURATION_METRIC,
        unit="s",
        description="Duration of calls to functions decorated with flext_monitor_function.",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    calls = meter.create_counter(
        CALLS_METRIC,
        unit="1",
        description="Calls to functions decorated with flext_monitor_function, by outcome.",
    )
    reader = getattr(otel, "metric_reader", None)
    resolved = Pipeline(generation, tracer, duration, calls, reader)
    _pipeline = resolved
    return resolved


def current_pipeline() -> Pipeline:
    resolved = _pipeline
    if resolved.generation != _STATE.generation:
        resolved = _resolve()
    return resolved


# -- wrappers ---------------------------------------------------------------------


def _wrap_sync(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    name = plan.name
    span_attributes = plan.span_attributes
    fast = plan.arg_recorder is None and not plan.new_trace and not plan.record_return
    metrics = plan.metrics
    if fast and not metrics:
        return _wrap_sync_span_only(func, plan)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            pipeline = _pipeline
            if pipeline.generation != _STATE.generation:
                pipeline = _resolve()
            if fast:
                started = pipeline.tracer.start_span(name, attributes=span_attributes)
            else:
                started = plan.start(pipeline, args, kwargs)
            context = set_span_in_context(started)
            token = attach(context)
        except Exception as exc:
            _instrumentation_failed(exc)
            return func(*args, **kwargs)
        start = perf_counter_ns()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            elapsed = perf_counter_ns() - start
            detach(token)
            plan.finish(pipeline, started, context, elapsed, exc)
            raise
        end = perf_counter_ns()
        detach(token)
        if not fast:
            plan.finish(pipeline, started, context, end - start, None, result)
            return result
        try:
            started.end()
            if metrics:
                cells = plan.success_cells
                if cells is not None and cells.ready and cells.generation == pipeline.generation:
                    cells.duration.record((end - start) / 1e9, end, context, started)  # type: ignore[union-attr]
                    cells.calls.add_one()  # type: ignore[union-attr]
                else:
                    plan.record_metrics(pipeline, end - start, context, started, False)
        except Exception as exc:
            _instrumentation_failed(exc)
        return result

    return wrapper


def _wrap_sync_span_only(func: Callable[..., Any], plan: Plan) -> Callable[..., Any]:
    """``_wrap_sync`` for ``metrics=False`` with no per-call options: no clock reads."""
    name = plan.name
    span_attributes = plan.span_attributes

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            pipeline = _pipeline
            if pipeline.generation != _STATE.generation:
                pipeline = _resolve()
            started = pipeline.tracer.start_span(name, attributes=span_attributes)
            context = set_span_in_context(started)
            token = attach(context)
        except Exception as exc:
            _instrumentation_failed(exc)
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            detach(token)
            plan.finish(pipeline, started, context, 0, exc)
            raise
        detach(token)
        try:
            started.end()
        except Exception as exc:
            _instrumentation_failed(exc)
        return result

    return wrapper


def _detach_if_current(token: object, started: Span) -> None:
    """Detach unless the context has moved on (a coroutine closed from elsewhere)."""
    if trace_api.get_current_span() is started:
        detach(token)  # type: ignore[arg-type]


def _wrap_coroutine(func: Callable[..., Coroutine[Any, Any, Any]], plan: Plan) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            pipeline = current_pipeline()
            started = plan.start(pipeline, args, kwargs)
            context = set_span_in_context(started)
            token = attach(context)
        except Exception as exc:
            _instrumentation_failed(exc)
            return await func(*args, **kwargs)
        start = perf_counter_ns()
        try:
            result = await func(*args, **kwargs)
        except GeneratorExit:
            elapsed = perf_counter_ns() - start
            _detach_if_current(token, started)
            plan.finish(pipeline, started, context, elapsed, None)
            raise
        except BaseException as exc:
            elapsed = perf_counter_ns() - start
            detach(token)
            plan.finish(pipeline, started, context, elapsed, exc)
            raise
        elapsed = perf_counter_ns() - start
        detach(token)
        plan.finish(pipeline, started, context, elapsed, None, result)
        return result

    return wrapper


def _in_context(context: Context, step: Callable[[Any], Any], value: Any) -> Any:
    """Run one resume step of a generator with ``context`` attached, then detach."""
    token = attach(context)
    try:
        return step(value)
    finally:
        detach(token)


async def _in_context_async(
    context: Context, step: Callable[[Any], Coroutine[Any, Any, Any]], value: Any
) -> Any:
    """Await one resume step of an async generator with ``context`` attached."""
    token = attach(context)
    try:
        return await step(value)
    finally:
        detach(token)


def _wrap_generator(func: Callable[..., Generator[Any, Any, Any]], plan: Plan) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        try:
            pipeline = current_pipeline()
            started = plan.start(pipeline, args, kwargs)
            context = set_span_in_context(started)
        except Exception as exc:
            _instrumentation_failed(exc)
            return (yield from func(*args, **kwargs))
        start = perf_counter_ns()
        try:
            inner = func(*args, **kwargs)
            item = _in_context(context, inner.send, None)
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    _in_context(context, _close, inner)
                    raise
                except BaseException as thrown:
                    item = _in_context(context, inner.throw, thrown)
                else:
                    item = _in_context(context, inner.send, sent)
        except StopIteration as stop:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, None, stop.value)
            return stop.value
        except GeneratorExit:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, None)
            raise
        except BaseException as exc:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, exc)
            raise

    return wrapper


def _close(generator: Generator[Any, Any, Any]) -> None:
    generator.close()


def _aclose(generator: AsyncGenerator[Any, Any]) -> Coroutine[Any, Any, None]:
    return generator.aclose()


def _wrap_async_generator(func: Callable[..., AsyncGenerator[Any, Any]], plan: Plan) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        try:
            pipeline = current_pipeline()
            started = plan.start(pipeline, args, kwargs)
            context = set_span_in_context(started)
        except Exception as exc:
            _instrumentation_failed(exc)
            async for value in func(*args, **kwargs):
                yield value
            return
        start = perf_counter_ns()
        try:
            inner = func(*args, **kwargs)
            item = await _in_context_async(context, inner.asend, None)
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    await _in_context_async(context, _aclose, inner)
                    raise
                except BaseException as thrown:
                    item = await _in_context_async(context, inner.athrow, thrown)
                else:
                    item = await _in_context_async(context, inner.asend, sent)
        except StopAsyncIteration:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, None)
        except GeneratorExit:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, None)
            raise
        except BaseException as exc:
            plan.finish(pipeline, started, context, perf_counter_ns() - start, exc)
            raise

    return wrapper


def _callable_kind(func: Callable[..., Any]) -> str:
    """``"async_generator"``, ``"coroutine"``, ``"generator"`` or ``"sync"``."""
    candidates: list[object] = [func]
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        candidates.append(type(func).__call__)  # a callable instance
    for candidate in candidates:
        if inspect.isasyncgenfunction(candidate):
            return "async_generator"
        if inspect.iscoroutinefunction(candidate):
            return "coroutine"
        if inspect.isgeneratorfunction(candidate):
            return "generator"
    return "sync"


def wrap(target: Any, options: Options) -> Any:
    if isinstance(target, (staticmethod, classmethod)):
        return type(target)(wrap(target.__func__, options))
    if isinstance(target, type):
        raise TypeError(
            f"flext_monitor_function decorates functions and methods, not classes "
            f"(got class {target.__qualname__!r}); decorate its methods instead"
        )
    if not callable(target):
        raise TypeError(
            f"flext_monitor_function decorates a function or method, "
            f"not {type(target).__name__} {target!r}"
        )
    plan = Plan(target, *options)
    kind = _callable_kind(target)
    if kind == "async_generator":
        return _wrap_async_generator(target, plan)
    if kind == "coroutine":
        return _wrap_coroutine(target, plan)
    if kind == "generator":
        return _wrap_generator(target, plan)
    return _wrap_sync(target, plan)


__all__ = ["current_pipeline", "wrap"]
