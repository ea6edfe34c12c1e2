"""``flext_monitor_function`` and ``span()``: instrument application code in one line.

Both record through the *current* pipeline (``flext_otel.providers.current()``):
the configured one, or a test's ``capture()`` while it is active. Functions
decorated before a reconfiguration follow it.

Per call, ``@flext_monitor_function`` records

* a span named ``func.__qualname__`` (or the given name) with ``code.function``
  (the qualified name), ``code.namespace`` (the module) and the static attributes;
* histogram ``flext.function.duration`` (seconds) and counter
  ``flext.function.calls``, both with attributes ``function``
  (``"<module>.<qualname>"``) and ``outcome`` (``"success"`` or ``"error"``).

A call is an ``error`` when the function raises an :class:`Exception`: the span
status is set to ERROR with ``"<Type>: <message>"``, an exception event is
added, and the same exception object is re-raised with its traceback. As in
OTel's own ``use_span``, the ``BaseException`` subclasses that are not errors --
``GeneratorExit`` (a generator or coroutine closed before it finished: the
consumer's choice), ``asyncio.CancelledError``, ``KeyboardInterrupt``,
``SystemExit`` -- propagate unchanged and end the span normally, as a
``success``.

Generators and async generators are measured over the whole iteration, from the
first ``next()`` to exhaustion, early close or failure. Their span is current
only while the generator body runs: the context is attached and detached around
each resume step, never across a ``yield``, so a generator may be resumed,
closed or garbage-collected from any thread or task. Coroutines keep the span
current across their ``await`` points, like OTel's own ``start_as_current_span``.

Everything that does not depend on the call (names, attribute dicts, the
argument binding for ``record_args``) is computed once at decoration time; the
tracer and instruments are resolved once per pipeline. A failure inside flext's
own instrumentation never breaks the decorated function: it is logged once and
the function runs (or returns) as if undecorated.

>>> from flext_otel.testing import capture
>>> @flext_monitor_function
... def add(a, b):
...     return a + b
>>> with capture() as cap:
...     add(1, 2)
3
>>> [s.name for s in cap.spans()]
['add']
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from time import perf_counter_ns
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import trace as trace_api
from opentelemetry.context import Context, attach, detach
from opentelemetry.metrics import Counter, Histogram, NoOpCounter, NoOpHistogram
from opentelemetry.trace import Link, Span, Status, StatusCode, set_span_in_context
from opentelemetry.util.types import AttributeValue

from flext_otel.pipeline import state as providers
from flext_otel.support.logonce import LogOnce

__all__ = [
    "CALLS_METRIC",
    "DURATION_BUCKETS",
    "DURATION_METRIC",
    "REPR_LIMIT",
    "SCOPE_NAME",
    "flext_monitor_function",
    "span",
]

_logger = logging.getLogger("flext_otel")
_failures = LogOnce("flext_monitor_function instrumentation")

SCOPE_NAME = "flext_otel"
"""Instrumentation scope of the decorator's tracer and meter."""

DURATION_METRIC = "flext.function.duration"
CALLS_METRIC = "flext.function.calls"
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
"""Advisory histogram bucket boundaries (seconds) for ``flext.function.duration``."""

REPR_LIMIT = 256
"""Recorded arguments and return values that are not OTel attribute values are
rendered with ``repr`` and cut to this many characters."""

_OPTION_NAMES = (
    "name",
    "attributes",
    "record_args",
    "record_return",
    "new_trace",
    "metrics",
)
_PRIMITIVES = (str, bool, int, float)
_ROOT_CONTEXT = Context()
_STATE = providers._state  # read-only: its generation changes with the current pipeline

F = TypeVar("F", bound=Callable[..., Any])
_ArgRecorder = Callable[[Span, tuple[Any, ...], dict[str, Any]], None]
_Options = tuple[str | None, Mapping[str, AttributeValue], tuple[str, ...], bool, bool, bool]


# -- per-pipeline tracer and instruments --------------------------------------


class _Pipeline:
    """Tracer and instruments of one pipeline generation (immutable once built)."""

    __slots__ = ("calls", "duration", "generation", "tracer")

    def __init__(
        self,
        generation: int,
        tracer: trace_api.Tracer,
        duration: Histogram,
        calls: Counter,
    ) -> None:
        self.generation = generation
        self.tracer = tracer
        self.duration = duration
        self.calls = calls


_pipeline = _Pipeline(
    -1, trace_api.NoOpTracer(), NoOpHistogram(DURATION_METRIC), NoOpCounter(CALLS_METRIC)
)


def _resolve() -> _Pipeline:
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
    resolved = _Pipeline(generation, tracer, duration, calls)
    _pipeline = resolved
    return resolved


def _current_pipeline() -> _Pipeline:
    resolved = _pipeline
    if resolved.generation != _STATE.generation:
        resolved = _resolve()
    return resolved


def _instrumentation_failed(exc: BaseException) -> None:
    """Count an internal failure under ``api:decorator`` of the current pipeline (cause:
    the exception type; the first of each is logged); the user's code carries on."""
    try:
        providers.current().failures.record("api:decorator", type(exc).__name__, repr(exc))
    except Exception:  # no pipeline to count in: at least say it once
        _failures.failure(exc)


# -- attribute values -----------------------------------------------------------


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<{type(value).__qualname__} (repr failed: {type(exc).__name__})>"
    if len(text) > REPR_LIMIT:
        text = text[: REPR_LIMIT - 3] + "..."
    return text


def _is_attribute_value(value: object) -> bool:
    if isinstance(value, _PRIMITIVES):
        return True
    if isinstance(value, (list, tuple)):
        kinds = {type(item) for item in value}
        return len(kinds) <= 1 and all(issubclass(kind, _PRIMITIVES) for kind in kinds)
    return False


def _attribute_value(value: object) -> AttributeValue:
    """``value`` itself when OTel accepts it as an attribute, else a short ``repr``."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, (list, tuple)) and _is_attribute_value(value):
        return tuple(value)
    return _short_repr(value)


# -- decoration-time plan ---------------------------------------------------------


class _Plan:
    """Everything about a decorated function that does not change per call."""

    __slots__ = (
        "arg_recorder",
        "error_attributes",
        "metrics",
        "name",
        "new_trace",
        "record_return",
        "span_attributes",
        "success_attributes",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None,
        attributes: Mapping[str, AttributeValue],
        record_args: tuple[str, ...],
        record_return: bool,
        new_trace: bool,
        metrics: bool,
    ) -> None:
        qualname = getattr(func, "__qualname__", None) or type(func).__qualname__
        module = getattr(func, "__module__", None) or type(func).__module__
        self.name: str = name or qualname
        span_attributes: dict[str, AttributeValue] = {
            "code.function": qualname,
            "code.namespace": module,
        }
        span_attributes.update(attributes)
        self.span_attributes = MappingProxyType(span_attributes)
        function = f"{module}.{qualname}"
        self.success_attributes = MappingProxyType({"function": function, "outcome": "success"})
        self.error_attributes = MappingProxyType({"function": function, "outcome": "error"})
        self.arg_recorder = _arg_recorder(func, record_args) if record_args else None
        self.record_return = record_return
        self.new_trace = new_trace
        self.metrics = metrics

    def start(self, pipeline: _Pipeline, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
        """Start this call's span (not yet current)."""
        if self.new_trace:
            parent = trace_api.get_current_span().get_span_context()
            links = (Link(parent),) if parent.is_valid else ()
            started = pipeline.tracer.start_span(
                self.name, _ROOT_CONTEXT, attributes=self.span_attributes, links=links
            )
        else:
            started = pipeline.tracer.start_span(self.name, attributes=self.span_attributes)
        if self.arg_recorder is not None and started.is_recording():
            self.arg_recorder(started, args, kwargs)
        return started

    def finish(
        self,
        pipeline: _Pipeline,
        started: Span,
        context: Context,
        elapsed_ns: int,
        error: BaseException | None,
        result: object = None,
    ) -> None:
        """End the span and record the metrics (the span is no longer current).

        ``error`` is whatever the call raised; only an ``Exception`` makes it an error.
        """
        try:
            failed = False
            if isinstance(error, Exception):
                failed = True
                if started.is_recording():
                    started.record_exception(error)
                    started.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            elif self.record_return and started.is_recording():
                started.set_attribute("code.return", _attribute_value(result))
            started.end()
            if self.metrics:
                outcome = self.error_attributes if failed else self.success_attributes
                pipeline.duration.record(elapsed_ns / 1e9, outcome, context)
                pipeline.calls.add(1, outcome)
        except Exception as exc:
            _instrumentation_failed(exc)


def _arg_recorder(func: Callable[..., Any], names: tuple[str, ...]) -> _ArgRecorder:
    """Bind ``names`` to positions/keywords of ``func``'s signature, once."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"flext_monitor_function: record_args needs the signature of {func!r}: {exc}"
        ) from exc
    parameters = list(signature.parameters.values())
    named = frozenset(p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    specs: list[tuple[str, str, int, inspect._ParameterKind, object]] = []
    for arg in names:
        parameter = signature.parameters.get(arg)
        if parameter is None:
            raise TypeError(
                f"flext_monitor_function: record_args names {arg!r}, which is not a parameter "
                f"of {getattr(func, '__qualname__', func)!r}; parameters are {list(named)}"
            )
        specs.append(
            (
                f"code.arg.{arg}",
                arg,
                parameters.index(parameter),
                parameter.kind,
                parameter.default,
            )
        )
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    empty = inspect.Parameter.empty

    def record(started: Span, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for key, arg, index, kind, default in specs:
            value: object
            if kind is inspect.Parameter.VAR_POSITIONAL:
                value = args[index:]
            elif kind is inspect.Parameter.VAR_KEYWORD:
                value = {k: v for k, v in kwargs.items() if k not in named}
            elif kind in positional and index < len(args):
                value = args[index]
            elif arg in kwargs and kind is not inspect.Parameter.POSITIONAL_ONLY:
                value = kwargs[arg]
            elif default is not empty:
                value = default
            else:
                continue
            started.set_attribute(key, _attribute_value(value))

    return record


# -- wrappers ---------------------------------------------------------------------


def _wrap_sync(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
    name = plan.name
    span_attributes = plan.span_attributes
    success = plan.success_attributes
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
        elapsed = perf_counter_ns() - start
        detach(token)
        if not fast:
            plan.finish(pipeline, started, context, elapsed, None, result)
            return result
        try:
            started.end()
            if metrics:
                pipeline.duration.record(elapsed / 1e9, success, context)
                pipeline.calls.add(1, success)
        except Exception as exc:
            _instrumentation_failed(exc)
        return result

    return wrapper


def _wrap_sync_span_only(func: Callable[..., Any], plan: _Plan) -> Callable[..., Any]:
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


def _wrap_coroutine(func: Callable[..., Coroutine[Any, Any, Any]], plan: _Plan) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            pipeline = _current_pipeline()
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


def _wrap_generator(func: Callable[..., Generator[Any, Any, Any]], plan: _Plan) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        try:
            pipeline = _current_pipeline()
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


def _wrap_async_generator(func: Callable[..., AsyncGenerator[Any, Any]], plan: _Plan) -> Any:
    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        try:
            pipeline = _current_pipeline()
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


def _wrap(target: Any, options: _Options) -> Any:
    if isinstance(target, (staticmethod, classmethod)):
        return type(target)(_wrap(target.__func__, options))
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
    plan = _Plan(target, *options)
    kind = _callable_kind(target)
    if kind == "async_generator":
        return _wrap_async_generator(target, plan)
    if kind == "coroutine":
        return _wrap_coroutine(target, plan)
    if kind == "generator":
        return _wrap_generator(target, plan)
    return _wrap_sync(target, plan)


# -- public decorator -------------------------------------------------------------


def _check_options(
    name: str | None,
    attributes: Mapping[str, AttributeValue] | None,
    record_args: Sequence[str],
    record_return: bool,
    new_trace: bool,
    metrics: bool,
    unknown: Mapping[str, object],
) -> _Options:
    if unknown:
        raise TypeError(
            f"flext_monitor_function got unknown option(s) {sorted(unknown)}; "
            f"valid options are {list(_OPTION_NAMES)}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"flext_monitor_function: name must be a non-empty str, got {name!r}")
    static: dict[str, AttributeValue] = {}
    if attributes is not None:
        if not isinstance(attributes, Mapping):
            raise TypeError(
                "flext_monitor_function: attributes must be a mapping of str to OTel attribute "
                f"values, got {type(attributes).__name__}"
            )
        for key, value in attributes.items():
            if not isinstance(key, str) or not key:
                raise TypeError(
                    f"flext_monitor_function: attribute keys must be non-empty str, got {key!r}"
                )
            if not _is_attribute_value(value):
                raise TypeError(
                    f"flext_monitor_function: attribute {key!r} has value {value!r}; OTel "
                    "accepts str, bool, int, float or a homogeneous sequence of one of them"
                )
            static[key] = tuple(value) if isinstance(value, list) else value
    if isinstance(record_args, str) or not isinstance(record_args, Sequence):
        raise TypeError(
            "flext_monitor_function: record_args must be a tuple of parameter names, "
            f"got {record_args!r}"
        )
    for arg in record_args:
        if not isinstance(arg, str) or not arg.isidentifier():
            raise TypeError(f"flext_monitor_function: record_args entry {arg!r} is not a name")
    for option, flag in (
        ("record_return", record_return),
        ("new_trace", new_trace),
        ("metrics", metrics),
    ):
        if not isinstance(flag, bool):
            raise TypeError(f"flext_monitor_function: {option} must be a bool, got {flag!r}")
    return (name, static, tuple(record_args), record_return, new_trace, metrics)


@overload
def flext_monitor_function(func: F, /) -> F: ...


@overload
def flext_monitor_function(
    span_name: str | None = None,
    /,
    *,
    name: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    record_args: Sequence[str] = (),
    record_return: bool = False,
    new_trace: bool = False,
    metrics: bool = True,
) -> Callable[[F], F]: ...


def flext_monitor_function(
    target: Any = None,
    /,
    *,
    name: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    record_args: Sequence[str] = (),
    record_return: bool = False,
    new_trace: bool = False,
    metrics: bool = True,
    **unknown: Any,
) -> Any:
    """Trace and measure every call of a function, coroutine or (async) generator.

    Bare (``@flext_monitor_function``) or with options
    (``@flext_monitor_function("checkout.price", attributes={"team": "pay"})``):

    * ``name`` (or the first positional argument): the span name; default
      ``func.__qualname__``.
    * ``attributes``: static span attributes added to every call's span.
    * ``record_args``: parameter names whose values become span attributes
      ``code.arg.<name>`` (values OTel cannot carry are recorded as a short
      ``repr``).
    * ``record_return``: record the return value as ``code.return``.
    * ``new_trace``: start a new trace (a root span) linked to the current span.
    * ``metrics``: also record ``flext.function.duration`` and
      ``flext.function.calls`` (default True); False records the span only.

    Also decorates ``staticmethod`` / ``classmethod`` objects (the underlying
    function is wrapped). Raises ``TypeError`` at decoration time for a class,
    a non-callable or an unknown or ill-typed option.
    """
    if target is None or isinstance(target, str):
        if target is not None and name is not None:
            raise TypeError(
                "flext_monitor_function: give the span name either positionally or as name=, "
                "not both"
            )
        options = _check_options(
            name if target is None else target,
            attributes,
            record_args,
            record_return,
            new_trace,
            metrics,
            unknown,
        )
        return functools.partial(_wrap, options=options)
    options = _check_options(
        name, attributes, record_args, record_return, new_trace, metrics, unknown
    )
    return _wrap(target, options)


# -- span() -----------------------------------------------------------------------


class _SpanScope:
    """The context manager returned by :func:`span` (single use)."""

    __slots__ = ("_attributes", "_inner", "_name")

    def __init__(self, name: str, attributes: dict[str, AttributeValue]) -> None:
        self._name = name
        self._attributes = attributes
        self._inner: AbstractContextManager[Span] | None = None

    def __enter__(self) -> Span:
        try:
            inner = _current_pipeline().tracer.start_as_current_span(
                self._name, attributes=self._attributes or None
            )
            started = inner.__enter__()
        except Exception as exc:  # never break the user's block over telemetry
            _instrumentation_failed(exc)
            return trace_api.INVALID_SPAN
        self._inner = inner
        return started

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        inner, self._inner = self._inner, None
        if inner is None:
            return None
        return inner.__exit__(exc_type, exc, tb)


def span(name: str, /, **attributes: AttributeValue) -> AbstractContextManager[Span]:
    """Start a span on the current pipeline's tracer and make it current.

    OTel's ``tracer.start_as_current_span(name, attributes=...)`` underneath: it
    yields the OTel span, an exception sets status ERROR, adds an exception
    event and propagates, and it nests either way with spans started through
    OTel's own API. The tracer is the one of the pipeline current when the block
    is entered. If flext cannot start the span, the block still runs (with a
    non-recording span).

    >>> from flext_otel.testing import capture
    >>> with capture() as cap:
    ...     with span("load", rows=3) as current:
    ...         current.set_attribute("cache", "hit")
    >>> cap.spans()[0].attributes["rows"]
    3
    """
    if not isinstance(name, str) or not name:
        name = _fallback_span_name(name)
    return _SpanScope(name, attributes)


def _fallback_span_name(name: object) -> str:
    """A usable name for a bad one: the caller's block still runs, traced, and the
    mistake is logged once rather than raised on a hot path."""
    _failures.log(
        "span-name", "span(): name must be a non-empty str, got %.80r; using its text", name
    )
    text = name if isinstance(name, str) else repr(name)
    return text or "unnamed"
