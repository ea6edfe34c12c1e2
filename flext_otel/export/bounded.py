"""Deadline-bounded calls into exporters, and the "outage" log discipline they share.

Exporters block (network, retries with backoff); the batch processors and the
metric exporter wrapper never let one hold up a caller past a deadline: each
call runs on a daemon thread (instrumentation suppressed) that is abandoned at
its deadline. :class:`_Outage` logs the first failure of an outage once and the
recovery once.

Imports: the OpenTelemetry API's context (for the SDK's suppress-instrumentation
key). Threading: every function here may be called from any thread; none raises
(exporter failures are returned, shutdown failures logged).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from contextvars import Token
from typing import Any, Protocol

# _SUPPRESS_INSTRUMENTATION_KEY is the SDK's own "do not instrument the exporter's
# network calls" key; without it an instrumented HTTP client would trace every
# export and feed the pipeline with its own spans.
from opentelemetry.context import Context, attach, detach, set_value

from flext_otel.support.logonce import LogOnce
from flext_otel.support.otel_private import (
    SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_INSTRUMENTATION_KEY,
)

_logger = logging.getLogger("flext_otel.export.batch")

_DEFAULT_TIMEOUT_S = 30.0
_MIN_EXPORTER_SHUTDOWN_S = 0.1
"""Time always granted to ``exporter.shutdown()`` (it interrupts retry backoffs)."""


class _Exporter(Protocol):
    """What the core needs from a span or log-record exporter."""

    def export(self, batch: Sequence[Any], /) -> Any: ...

    def shutdown(self) -> None: ...


def _call_bounded(
    fn: Callable[[], object], timeout_s: float, name: str
) -> tuple[threading.Thread, object, BaseException | None]:
    """Run ``fn`` on a daemon thread (instrumentation suppressed), wait at most
    ``timeout_s``; returns ``(thread, result, exception)``, the thread still alive
    when the call was abandoned."""
    box: list[Any] = [None, None]

    def run() -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            box[0] = fn()
        except Exception as exc:  # reported to the caller, never raised here
            box[1] = exc
        finally:
            detach(token)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(max(timeout_s, 0.0))
    return thread, box[0], box[1]


def _stop_exporter(exporter: Any, timeout_s: float, key: str) -> None:
    """``exporter.shutdown`` within ``timeout_s`` (at least a moment: it interrupts
    retry backoffs), passing the time left to exporters that take ``timeout_millis``."""

    def stop() -> object:
        try:
            return exporter.shutdown(timeout_millis=max(timeout_s, 0.0) * 1000.0)
        except TypeError:  # the SDK's exporter interface takes no timeout
            return exporter.shutdown()

    thread, _, exc = _call_bounded(
        stop, max(timeout_s, _MIN_EXPORTER_SHUTDOWN_S), f"flext-otel-exporter-shutdown[{key}]"
    )
    if exc is not None:
        _logger.warning("%s: exporter shutdown failed: %s", key, _describe(exc))
    elif thread.is_alive():
        _logger.warning("%s: exporter shutdown did not finish in time", key)


class _Outage:
    """Logs the first failure of an outage once (WARNING, no traceback) and the
    first success after it once (INFO); failures in between are only counted."""

    __slots__ = ("_key", "_once")

    def __init__(self, key: str) -> None:
        self._key = key
        self._once = LogOnce(key, logger=_logger)

    def success(self) -> None:
        if self._once.reset("outage"):
            _logger.info("%s: export recovered", self._key)

    def failure(self, error: str | None) -> None:
        self._once.log(
            "outage",
            "%s: export failed (%s); items are counted as export_failed and further "
            "failures are not logged until an export succeeds",
            self._key,
            error,
        )


def _seconds(timeout_millis: float | None) -> float:
    """A timeout in seconds; ``None`` means the 30 s default, negatives mean 0."""
    if timeout_millis is None:
        return _DEFAULT_TIMEOUT_S
    return max(float(timeout_millis), 0.0) / 1000.0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _weak_hook(method: Callable[[], None]) -> Callable[[], None]:
    """A fork hook that calls ``method`` while its object is alive (hooks cannot be
    unregistered, so they must not keep processors alive)."""
    ref = weakref.WeakMethod(method)

    def hook() -> None:
        bound = ref()
        if bound is not None:
            try:
                bound()
            except Exception as exc:  # a fork hook must never break os.fork()
                _logger.debug("fork hook failed: %r", exc)

    return hook


def suppressed() -> Token[Context]:
    """Attach a context that suppresses instrumentation; returns the token to detach."""
    return attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))


__all__ = ["suppressed"]
