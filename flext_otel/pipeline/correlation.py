"""Correlation IDs and context propagation.

A correlation ID names one unit of work (a request, a job) across threads, tasks
and processes. It lives in two places at once:

* a :class:`contextvars.ContextVar`, read first because it is the cheapest
  lookup (span processors read it on every span start), and
* the OpenTelemetry W3C baggage of the current context under the key
  :data:`BAGGAGE_KEY`, so it crosses process boundaries with the standard
  ``baggage`` header and an ID extracted by *any* OTel propagator (for example
  the contrib WSGI/ASGI middlewares) is seen by :func:`get_correlation_id`.

>>> with correlation_scope("req-7f3a") as cid:
...     get_correlation_id()
'req-7f3a'
>>> get_correlation_id() is None
True

Accepted IDs are 1 to 256 characters of printable ASCII without space, ``"``,
``,``, ``;`` or ``\\``: the characters a W3C baggage value may carry without
percent-encoding, so an ID survives every hop unchanged.

Helpers for crossing boundaries: :func:`inject` / :func:`extract` /
:func:`attach_extracted` for carriers such as HTTP headers (W3C TraceContext and
W3C Baggage, independent of the globally configured propagator), and
:func:`propagate_context` / :class:`ContextPreservingExecutor` for thread pools.

Imports: ``domain`` and ``support``; the OpenTelemetry API (context, baggage, propagators).

Threading: the ID lives in the caller's context, so threads and asyncio tasks see
only their own (copied at task creation, never shared); every function here may be
called from any thread and never blocks.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar, overload

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flext_otel.domain.result import FlextResult
from flext_otel.support.keys import CORRELATION_ATTRIBUTE

__all__ = [
    "BAGGAGE_KEY",
    "CORRELATION_ATTRIBUTE",
    "MAX_CORRELATION_ID_LENGTH",
    "ContextPreservingExecutor",
    "CorrelationScope",
    "ExtractedScope",
    "attach_extracted",
    "correlation_scope",
    "extract",
    "get_correlation_id",
    "inject",
    "propagate_context",
    "set_correlation_id",
    "validate_correlation_id",
    "with_correlation",
]

P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E")
C = TypeVar("C", bound=MutableMapping[str, str])

#: W3C baggage key that carries the correlation ID across processes.
BAGGAGE_KEY = "correlation_id"
#: Longest accepted correlation ID, in characters.
MAX_CORRELATION_ID_LENGTH = 256

# W3C baggage-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E, i.e. printable
# ASCII without space, '"', ',', ';' and '\'.
_BAGGAGE_OCTETS = r"\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e"
_VALID_ID = re.compile(rf"[{_BAGGAGE_OCTETS}]{{1,{MAX_CORRELATION_ID_LENGTH}}}")
_ILLEGAL_CHAR = re.compile(rf"[^{_BAGGAGE_OCTETS}]")

_CURRENT: ContextVar[str | None] = ContextVar("flext_otel_correlation_id", default=None)

_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


# -- validation ----------------------------------------------------------------
def _problem(cid: object) -> str:
    """The sentence describing why ``cid`` (known to be invalid) is rejected."""
    if not isinstance(cid, str):
        return f"correlation ID must be a string, got {type(cid).__name__}"
    if not cid:
        return "correlation ID must not be empty"
    if len(cid) > MAX_CORRELATION_ID_LENGTH:
        return (
            f"correlation ID must be at most {MAX_CORRELATION_ID_LENGTH} characters, got {len(cid)}"
        )
    bad = _ILLEGAL_CHAR.search(cid)
    position = bad.start() if bad else 0
    return (
        f"correlation ID contains {cid[position]!r} at position {position}; only printable "
        "ASCII without space, '\"', ',', ';' and '\\' is allowed (W3C baggage value)"
    )


def validate_correlation_id(cid: object) -> FlextResult[str]:
    """Check ``cid`` without raising: the ID itself, or a failure explaining the problem.

    The failure's ``error_code`` is ``"VALIDATION_ERROR"``.

    >>> validate_correlation_id("abc").value
    'abc'
    >>> validate_correlation_id("").error
    'correlation ID must not be empty'
    """
    if isinstance(cid, str) and _VALID_ID.fullmatch(cid) is not None:
        return FlextResult.ok(cid)
    return FlextResult.fail(_problem(cid), error_code="VALIDATION_ERROR")


def _checked(cid: object) -> str:
    if isinstance(cid, str) and _VALID_ID.fullmatch(cid) is not None:
        return cid
    raise ValueError(_problem(cid))


# -- reading and setting ---------------------------------------------------------
def get_correlation_id() -> str | None:
    """The correlation ID of the current context, or None.

    The value set through this module wins; otherwise the ``correlation_id``
    entry of the current OTel context's baggage is used (when it is a valid ID),
    so an ID extracted by any OTel propagator is seen as well. Cheap enough for
    per-span hot paths: one ContextVar lookup when an ID is set here.
    """
    cid = _CURRENT.get()
    if cid is not None:
        return cid
    value = baggage.get_baggage(BAGGAGE_KEY)
    if isinstance(value, str) and _VALID_ID.fullmatch(value) is not None:
        return value
    return None


def set_correlation_id(cid: str) -> None:
    """Make ``cid`` the correlation ID of the current context, until it is changed.

    Sets the ContextVar and attaches an OTel context whose baggage carries the
    ID. Prefer :func:`correlation_scope`, which also restores the previous value.

    Raises:
        ValueError: ``cid`` is not a string, is empty, is longer than 256
            characters or holds a character illegal in a W3C baggage value.
    """
    value = _checked(cid)
    _CURRENT.set(value)
    otel_context.attach(baggage.set_baggage(BAGGAGE_KEY, value))


# -- scopes ------------------------------------------------------------------------
_Tokens = tuple["Token[str | None]", "Token[Context]"]


def _activate(cid: str | None, ctx: Context) -> _Tokens:
    return _CURRENT.set(cid), otel_context.attach(ctx)


def _deactivate(tokens: _Tokens) -> None:
    """Restore what :func:`_activate` replaced, when still in the same context.

    Both tokens were created in the same :class:`contextvars.Context`. When the
    scope is left from another context (a generator closed elsewhere, a scope
    handed to another task), resetting the ContextVar raises ``ValueError``; the
    context that entered the scope is then unreachable and the current one must
    not be touched, so nothing is done, and OTel's detach (which would log
    "Failed to detach context") is never attempted.
    """
    var_token, otel_token = tokens
    try:
        _CURRENT.reset(var_token)
    except (ValueError, RuntimeError):
        return
    otel_context.detach(otel_token)


class _Scope(Generic[E]):
    """Base for the context managers below: restore on exit, sync or async."""

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        self._tokens: list[_Tokens] = []

    def __enter__(self) -> E:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            _deactivate(self._tokens.pop())

    async def __aenter__(self) -> E:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class CorrelationScope(_Scope[str]):
    """Context manager returned by :func:`correlation_scope`; yields the ID.

    Usable with ``with`` and ``async with``. Enter one scope object per block
    (nesting the same object is fine; sharing one between tasks is not).
    """

    __slots__ = ("_cid",)

    def __init__(self, cid: str) -> None:
        super().__init__()
        self._cid = cid

    @property
    def correlation_id(self) -> str:
        """The ID this scope makes current."""
        return self._cid

    def __enter__(self) -> str:
        ctx = baggage.set_baggage(BAGGAGE_KEY, self._cid)
        self._tokens.append(_activate(self._cid, ctx))
        return self._cid

    def __repr__(self) -> str:
        return f"CorrelationScope({self._cid!r})"


def correlation_scope(cid: str | None = None) -> CorrelationScope:
    """A context manager that makes ``cid`` (or a new uuid4 hex) the correlation ID.

    Inside the block the ID is in the ContextVar and in the baggage of the
    current OTel context (the trace context is kept); on exit the previous
    values come back. Child threads and tasks that copy the context inherit the
    ID; setting another ID there never changes the parent's.

    >>> with correlation_scope() as cid:
    ...     len(cid) == 32 and get_correlation_id() == cid
    True

    Raises:
        ValueError: ``cid`` is given and invalid (see :func:`set_correlation_id`).
    """
    return CorrelationScope(uuid.uuid4().hex if cid is None else _checked(cid))


# -- carriers (HTTP headers and the like) -------------------------------------------
class _HeaderGetter(Getter[Mapping[str, object]]):
    """Reads a mapping carrier, falling back to a case-insensitive key match."""

    def get(self, carrier: Mapping[str, object], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            lowered = key.lower()
            for name, candidate in carrier.items():
                if isinstance(name, str) and name.lower() == lowered:
                    value = candidate
                    break
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return [str(item) for item in value]
        return [str(value)]

    def keys(self, carrier: Mapping[str, object]) -> list[str]:
        return [str(key) for key in carrier]


_GETTER = _HeaderGetter()


@overload
def inject(carrier: None = None, context: Context | None = None) -> dict[str, str]: ...
@overload
def inject(carrier: C, context: Context | None = None) -> C: ...
def inject(
    carrier: MutableMapping[str, str] | None = None, context: Context | None = None
) -> MutableMapping[str, str]:
    """Write ``traceparent``/``tracestate`` and ``baggage`` headers into ``carrier``.

    Uses W3C TraceContext and W3C Baggage directly (the globally configured
    propagator is not consulted). Without ``context`` the current one is used,
    and the current correlation ID is included even if it is not in its
    baggage. Returns the carrier (a new dict when none is given).

    >>> with correlation_scope("abc"):
    ...     inject()["baggage"]
    'correlation_id=abc'
    """
    headers: MutableMapping[str, str] = {} if carrier is None else carrier
    ctx = context
    if ctx is None:
        ctx = otel_context.get_current()
        cid = get_correlation_id()
        if cid is not None and baggage.get_baggage(BAGGAGE_KEY, ctx) != cid:
            ctx = baggage.set_baggage(BAGGAGE_KEY, cid, ctx)
    _PROPAGATOR.inject(headers, context=ctx)
    return headers


def extract(carrier: Mapping[str, object], context: Context | None = None) -> Context:
    """Read trace parent and baggage from ``carrier`` into an OTel :class:`Context`.

    The result builds on ``context`` (an empty context by default, so nothing of
    the current context leaks into an incoming request). Header names are
    matched case-insensitively. Malformed headers are ignored.
    """
    return _PROPAGATOR.extract(
        carrier, context=Context() if context is None else context, getter=_GETTER
    )


class ExtractedScope(_Scope[Context]):
    """Context manager returned by :func:`attach_extracted`; yields the extracted context."""

    __slots__ = ("_cid", "_ctx")

    def __init__(self, ctx: Context, cid: str | None) -> None:
        super().__init__()
        self._ctx = ctx
        self._cid = cid

    def __enter__(self) -> Context:
        self._tokens.append(_activate(self._cid, self._ctx))
        return self._ctx


def attach_extracted(carrier: Mapping[str, object]) -> ExtractedScope:
    """Context manager making an incoming request's trace parent and correlation ID current.

    Yields the extracted context. Inside it, spans started without an explicit
    parent continue the remote trace and :func:`get_correlation_id` returns the
    ``correlation_id`` baggage entry of the request (None when the request has
    none or an invalid one). The previous context is restored on exit.

    >>> with attach_extracted({"baggage": "correlation_id=abc"}):
    ...     get_correlation_id()
    'abc'
    """
    ctx = extract(carrier)
    value = baggage.get_baggage(BAGGAGE_KEY, ctx)
    cid = value if isinstance(value, str) and _VALID_ID.fullmatch(value) is not None else None
    return ExtractedScope(ctx, cid)


# -- threads ------------------------------------------------------------------------
def propagate_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in the context current *now* (at wrap time).

    Hand the wrapper to a thread pool, a callback registry or a thread: it sees
    the submitter's trace parent, correlation ID and every other ContextVar.
    Each call runs in its own copy of the captured context, so concurrent calls
    are allowed and changes made inside never leak out.

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with correlation_scope("job-1"), ThreadPoolExecutor(1) as pool:
    ...     pool.submit(propagate_context(get_correlation_id)).result()
    'job-1'

    Raises:
        TypeError: ``fn`` is a coroutine function (asyncio tasks already copy
            the context when they are created) or not callable.
    """
    if inspect.iscoroutinefunction(fn):
        raise TypeError(
            "propagate_context wraps plain callables; asyncio tasks already copy the "
            "current context when created"
        )
    if not callable(fn):
        raise TypeError(f"propagate_context needs a callable, got {type(fn).__name__}")
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_captured_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run_in_captured_context


class ContextPreservingExecutor(ThreadPoolExecutor):
    """A :class:`ThreadPoolExecutor` whose tasks run in their submitter's context.

    ``submit`` (and therefore ``map``) captures the caller's context per task,
    so trace parent and correlation ID follow the work into the worker thread.
    """

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` to run in a copy of the current context."""
        run_in_context: Callable[..., R] = contextvars.copy_context().run
        return super().submit(run_in_context, fn, *args, **kwargs)


def with_correlation(attributes: Mapping[str, Any]) -> Mapping[str, Any]:
    """``attributes`` plus ``flext.correlation_id`` when one is set (no copy otherwise)."""
    cid = get_correlation_id()
    if cid is None:
        return attributes
    merged = dict(attributes)
    merged[CORRELATION_ATTRIBUTE] = cid
    return merged
