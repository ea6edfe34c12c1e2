"""Railway-oriented results: a value or an error message, never an exception.

``FlextResult[T]`` is what the domain layer and the simple API return. A
success carries ``value``; a failure carries ``error`` (a sentence a person can
act on) and an optional machine-readable ``error_code``.

>>> FlextResult.ok(2).map(lambda v: v * 21).value
42
>>> r = FlextResult.ok(1).map(lambda v: v / 0)
>>> r.is_failure, r.error_code
(True, 'EXCEPTION')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")

_MISSING: Any = object()


class UnwrapError(RuntimeError):
    """Raised by :meth:`FlextResult.unwrap` on a failed result."""

    def __init__(self, error: str, error_code: str | None) -> None:
        super().__init__(error if error_code is None else f"[{error_code}] {error}")
        self.error = error
        self.error_code = error_code


class FlextResult(Generic[T]):
    """A success holding a value of type ``T`` or a failure holding an error.

    Build one with :meth:`ok` or :meth:`fail`; chain with :meth:`map`,
    :meth:`flat_map` (alias :meth:`bind`), :meth:`tap` and :meth:`recover`.
    ``map`` and ``flat_map`` turn an exception raised by the callback into a
    failure with ``error_code="EXCEPTION"``.

    >>> FlextResult.fail("no such order", error_code="NOT_FOUND").unwrap_or(0)
    0
    """

    __slots__ = ("_error", "_error_code", "_value")

    def __init__(
        self, value: T = _MISSING, error: str | None = None, error_code: str | None = None
    ) -> None:
        if (value is _MISSING) == (error is None):
            raise ValueError("FlextResult needs exactly one of a value or an error")
        self._value = None if value is _MISSING else value
        self._error = error
        self._error_code = error_code

    # -- construction -----------------------------------------------------
    @classmethod
    def ok(cls, value: T) -> FlextResult[T]:
        """A success holding ``value`` (``None`` is a valid value)."""
        return cls(value=value)

    @classmethod
    def fail(cls, error: str, error_code: str | None = None) -> FlextResult[T]:
        """A failure with a human-readable ``error`` and optional ``error_code``."""
        text = error if isinstance(error, str) else repr(error)
        return cls(error=text or "unknown error", error_code=error_code)

    # -- inspection -------------------------------------------------------
    @property
    def is_success(self) -> bool:
        """True when the result holds a value."""
        return self._error is None

    @property
    def is_failure(self) -> bool:
        """True when the result holds an error."""
        return self._error is not None

    @property
    def value(self) -> T | None:
        """The value on success, ``None`` on failure."""
        return self._value

    @property
    def data(self) -> T | None:
        """Alias of :attr:`value`."""
        return self._value

    @property
    def error(self) -> str | None:
        """The error message on failure, ``None`` on success."""
        return self._error

    @property
    def error_code(self) -> str | None:
        """The machine-readable error code on failure, if one was given."""
        return self._error_code

    def unwrap(self) -> T:
        """The value; raises :class:`UnwrapError` on a failure."""
        if self._error is not None:
            self._raise()
        return cast("T", self._value)

    def unwrap_or(self, default: T) -> T:
        """The value on success, ``default`` on failure."""
        if self._error is not None:
            return default
        return cast("T", self._value)

    def _raise(self) -> NoReturn:
        raise UnwrapError(cast("str", self._error), self._error_code)

    # -- chaining ---------------------------------------------------------
    def map(self, func: Callable[[T], U]) -> FlextResult[U]:
        """Apply ``func`` to the value; an exception becomes a failure."""
        if self._error is not None:
            return cast("FlextResult[U]", self)
        try:
            return FlextResult.ok(func(cast("T", self._value)))
        except Exception as exc:
            return FlextResult.fail(_describe(exc), error_code="EXCEPTION")

    def flat_map(self, func: Callable[[T], FlextResult[U]]) -> FlextResult[U]:
        """Chain a result-returning ``func``; an exception becomes a failure."""
        if self._error is not None:
            return cast("FlextResult[U]", self)
        try:
            result = func(cast("T", self._value))
        except Exception as exc:
            return FlextResult.fail(_describe(exc), error_code="EXCEPTION")
        if not isinstance(result, FlextResult):
            return FlextResult.fail(
                f"flat_map callback returned {type(result).__name__}, not FlextResult",
                error_code="TYPE_ERROR",
            )
        return result

    bind = flat_map

    def tap(self, func: Callable[[T], object]) -> FlextResult[T]:
        """Call ``func`` with the value for its side effect; returns ``self``.

        An exception in ``func`` becomes a failure, like in :meth:`map`.
        """
        if self._error is not None:
            return self
        try:
            func(cast("T", self._value))
        except Exception as exc:
            return FlextResult.fail(_describe(exc), error_code="EXCEPTION")
        return self

    def recover(self, func: Callable[[str], T]) -> FlextResult[T]:
        """Turn a failure into a success with ``func(error)``; successes pass."""
        if self._error is None:
            return self
        try:
            return FlextResult.ok(func(self._error))
        except Exception as exc:
            return FlextResult.fail(_describe(exc), error_code="EXCEPTION")

    @staticmethod
    def combine(*results: FlextResult[Any]) -> FlextResult[list[Any]]:
        """All values as a list, or the first failure."""
        values: list[Any] = []
        for result in results:
            if not isinstance(result, FlextResult):
                return FlextResult.fail(
                    f"combine expects FlextResult, got {type(result).__name__}",
                    error_code="TYPE_ERROR",
                )
            if result.is_failure:
                return cast("FlextResult[list[Any]]", result)
            values.append(result.value)
        return FlextResult.ok(values)

    # -- dunder -----------------------------------------------------------
    def __bool__(self) -> bool:
        return self._error is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlextResult):
            return NotImplemented
        return (self._value, self._error, self._error_code) == (
            other._value,
            other._error,
            other._error_code,
        )

    def __hash__(self) -> int:
        return hash((self._error, self._error_code))

    def __repr__(self) -> str:
        if self._error is None:
            return f"FlextResult.ok({self._value!r})"
        return f"FlextResult.fail({self._error!r}, error_code={self._error_code!r})"

    @classmethod
    def from_callable(cls, func: Callable[[], U], error_code: str = "EXCEPTION") -> FlextResult[U]:
        """Run ``func``; its return value is the success, an exception the failure."""
        try:
            return FlextResult.ok(func())
        except Exception as exc:
            return FlextResult.fail(_describe(exc), error_code=error_code)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def wrong_type(value: object, expected: type[Any]) -> FlextResult[Any]:
    """A failed result for a value of the wrong type."""
    return FlextResult.fail(
        f"expected a {expected.__name__}, got {type(value).__name__}", error_code="INVALID_TYPE"
    )


def record_failed(what: str, exc: BaseException) -> FlextResult[Any]:
    """A failed result for a recording that raised ``exc``."""
    return FlextResult.fail(f"recording the {what} failed: {exc!r}"[:1_000], "RECORD_FAILED")
