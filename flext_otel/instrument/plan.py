"""The decoration-time plan of ``flext_monitor_function`` and its per-call recording.

:class:`Plan` holds everything about a decorated function that does not change
per call (names, attribute dicts, the argument binding for ``record_args``), and
records each call's span outcome and metrics. The two metrics go to pre-bound
SDK aggregations (:mod:`flext_otel.instrument.bound`) once an attribute set has
been recorded through the public instruments, so a call costs two additions
instead of two trips through the SDK's measurement pipeline; the exported data
is the SDK's own.

Imports: ``instrument.bound``, ``pipeline.state``, ``support``; the OpenTelemetry API.

Threading and errors: a plan is shared by every thread calling the function;
its cached bindings are replaced whole (a race binds twice, harmlessly). A
failure inside the instrumentation is logged once and never reaches the caller.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from time import perf_counter_ns
from types import MappingProxyType
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.trace import Link, Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from flext_otel.instrument.bound import BoundHistogram, BoundSum, bind_histogram, bind_sum
from flext_otel.pipeline import state as providers
from flext_otel.support.logonce import LogOnce

_logger = logging.getLogger("flext_otel")

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

_PRIMITIVES = (str, bool, int, float)
_ROOT_CONTEXT = Context()

_ArgRecorder = Callable[[Span, tuple[Any, ...], dict[str, Any]], None]
Options = tuple[str | None, Mapping[str, AttributeValue], tuple[str, ...], bool, bool, bool]


# -- per-pipeline tracer and instruments --------------------------------------


class Pipeline:
    """Tracer and instruments of one pipeline generation (immutable once built)."""

    __slots__ = ("calls", "duration", "generation", "reader", "tracer")

    def __init__(
        self,
        generation: int,
        tracer: trace_api.Tracer,
        duration: Histogram,
        calls: Counter,
        reader: Any = None,
    ) -> None:
        self.generation = generation
        self.tracer = tracer
        self.duration = duration
        self.calls = calls
        self.reader = reader  # the pipeline's shared metric reader (binding), or None


_failures = LogOnce("flext_monitor_function instrumentation")


def instrumentation_failed(exc: BaseException) -> None:
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


def is_attribute_value(value: object) -> bool:
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
    if isinstance(value, (list, tuple)) and is_attribute_value(value):
        return tuple(value)
    return _short_repr(value)


# -- decoration-time plan ---------------------------------------------------------


class Plan:
    """Everything about a decorated function that does not change per call."""

    __slots__ = (
        "arg_recorder",
        "error_attributes",
        "error_cells",
        "metrics",
        "name",
        "new_trace",
        "record_return",
        "span_attributes",
        "success_attributes",
        "success_cells",
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
        self.arg_recorder = arg_recorder(func, record_args) if record_args else None
        self.record_return = record_return
        self.new_trace = new_trace
        self.metrics = metrics
        self.success_cells: _Cells | None = None
        self.error_cells: _Cells | None = None

    def start(self, pipeline: Pipeline, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
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
        pipeline: Pipeline,
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
                self.record_metrics(pipeline, elapsed_ns, context, started, failed)
        except Exception as exc:
            instrumentation_failed(exc)

    def record_metrics(
        self, pipeline: Pipeline, elapsed_ns: int, context: Context, started: Span, failed: bool
    ) -> None:
        """Record ``flext.function.duration`` and ``flext.function.calls`` for one call."""
        cells = self.error_cells if failed else self.success_cells
        current = cells is not None and cells.generation == pipeline.generation
        if current and cells is not None and cells.ready:
            cells.record(elapsed_ns, perf_counter_ns(), context, started)
            return
        outcome = self.error_attributes if failed else self.success_attributes
        pipeline.duration.record(elapsed_ns / 1e9, outcome, context)
        pipeline.calls.add(1, outcome)
        if not current:  # bind once per pipeline generation
            bound = _Cells(
                pipeline.generation,
                bind_histogram(pipeline.duration, pipeline.reader, outcome),
                bind_sum(pipeline.calls, pipeline.reader, outcome),
            )
            if failed:
                self.error_cells = bound
            else:
                self.success_cells = bound


class _Cells:
    """The bound duration and calls aggregations of one outcome on one pipeline
    generation; ``ready`` is False when either could not be bound."""

    __slots__ = ("calls", "duration", "generation", "ready")

    def __init__(
        self, generation: int, duration: BoundHistogram | None, calls: BoundSum | None
    ) -> None:
        self.generation = generation
        self.duration = duration
        self.calls = calls
        self.ready = duration is not None and calls is not None

    def record(self, elapsed_ns: int, now_ns: int, context: Context, started: Span) -> None:
        """One call: its duration and one more call (only when ``ready``)."""
        self.duration.record(elapsed_ns / 1e9, now_ns, context, started)  # type: ignore[union-attr]
        self.calls.add_one()  # type: ignore[union-attr]


def arg_recorder(func: Callable[..., Any], names: tuple[str, ...]) -> _ArgRecorder:
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


__all__ = [
    "CALLS_METRIC",
    "DURATION_BUCKETS",
    "DURATION_METRIC",
    "REPR_LIMIT",
    "SCOPE_NAME",
    "Options",
    "Pipeline",
    "Plan",
    "arg_recorder",
    "instrumentation_failed",
    "is_attribute_value",
]
