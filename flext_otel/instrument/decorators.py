"""``flext_monitor_function`` and ``span()``: instrument application code in one line.

Both record through the *current* pipeline (``flext_otel.pipeline.state.current()``):
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
the function runs (or returns) as if undecorated. The two metrics go to
pre-bound SDK aggregations after the first call of each outcome (see
:mod:`flext_otel.instrument.bound`): the exported data is exactly the SDK's.

The parts: :mod:`~flext_otel.instrument.plan` (the per-function plan and its
recording), :mod:`~flext_otel.instrument.wrappers` (one wrapper per kind of
callable), :mod:`~flext_otel.instrument.spanscope` (``span()``); this module
checks the options and is the public entry point.

Imports: the modules above.

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from opentelemetry.util.types import AttributeValue

from flext_otel.instrument.plan import (
    CALLS_METRIC,
    DURATION_BUCKETS,
    DURATION_METRIC,
    REPR_LIMIT,
    SCOPE_NAME,
    Options,
    is_attribute_value,
)
from flext_otel.instrument.spanscope import span
from flext_otel.instrument.wrappers import wrap

__all__ = [
    "CALLS_METRIC",
    "DURATION_BUCKETS",
    "DURATION_METRIC",
    "REPR_LIMIT",
    "SCOPE_NAME",
    "flext_monitor_function",
    "span",
]


_OPTION_NAMES = (
    "name",
    "attributes",
    "record_args",
    "record_return",
    "new_trace",
    "metrics",
)
F = TypeVar("F", bound=Callable[..., Any])


# -- public decorator -------------------------------------------------------------


def _check_options(
    name: str | None,
    attributes: Mapping[str, AttributeValue] | None,
    record_args: Sequence[str],
    record_return: bool,
    new_trace: bool,
    metrics: bool,
    unknown: Mapping[str, object],
) -> Options:
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
            if not is_attribute_value(value):
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
        return functools.partial(wrap, options=options)
    options = _check_options(
        name, attributes, record_args, record_return, new_trace, metrics, unknown
    )
    return wrap(target, options)
