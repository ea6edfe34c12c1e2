"""Log the first occurrence of each reason, then stay quiet: the one log-once helper.

Internal failures inside OTel hooks, rejected API calls and outages are counted
every time but logged once per *reason* (an error code, an exception type, an
instrument name, "outage"), so a failure is visible without flooding the log.
:meth:`LogOnce.reset` forgets a reason, for episodes that can end and begin
again (an export outage and its recovery).

Imports: the standard library only.

Threading: every method may be called from any thread and never raises; the
first caller of a reason logs, later ones return at the cost of one set lookup.
At most :data:`MAX_REASONS` distinct reasons are remembered per instance;
beyond that, new reasons are no longer logged (one line says so), so a stream
of unbounded reasons cannot grow memory or flood the log.
"""

from __future__ import annotations

import logging
import threading

_logger = logging.getLogger("flext_otel")

#: Distinct reasons one :class:`LogOnce` remembers (and logs) at most.
MAX_REASONS = 256


class LogOnce:
    """Logs the first occurrence of each reason of one component.

    >>> once = LogOnce("doc example")
    >>> once.first("boom"), once.first("boom"), once.first("bang")
    (True, False, True)
    >>> once.reset("boom"), once.reset("boom")
    (True, False)
    """

    __slots__ = ("_level", "_lock", "_logger", "_seen", "what")

    def __init__(
        self, what: str, *, level: int = logging.WARNING, logger: logging.Logger | None = None
    ) -> None:
        self.what = what
        self._level = level
        self._logger = logger if logger is not None else _logger
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def first(self, reason: str) -> bool:
        """True exactly once per ``reason`` (until :meth:`reset`), False afterwards."""
        if reason in self._seen:  # the common case: no lock
            return False
        with self._lock:
            if reason in self._seen:
                return False
            if len(self._seen) >= MAX_REASONS:
                if "\0full" not in self._seen:
                    self._seen.add("\0full")
                    self._logger.warning(
                        "%s: more than %d distinct failure reasons; new ones are only counted",
                        self.what,
                        MAX_REASONS,
                    )
                return False
            self._seen.add(reason)
            return True

    def log(self, reason: str, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``message % args`` if this is the first ``reason``; True when it logged."""
        return self._emit(reason, message, args, exc_info, 3)

    def failure(self, exc: BaseException, reason: str | None = None) -> bool:
        """Log an internal failure that drops an item, once per ``reason`` (default:
        the exception type)."""
        return self._emit(
            reason or type(exc).__name__,
            "%s failed internally and drops the item: %r",
            (self.what, exc),
            False,
            3,
        )

    def _emit(
        self, reason: str, message: str, args: tuple[object, ...], exc_info: bool, depth: int
    ) -> bool:
        if not self.first(reason):
            return False
        try:  # the record names the caller's line, not this module's
            self._logger.log(
                self._level, message, *args, exc_info=exc_info or None, stacklevel=depth
            )
        except Exception:  # a broken handler must not break the caller
            return False
        return True

    def reset(self, reason: str) -> bool:
        """Forget ``reason`` so its next occurrence logs again; True if it was logged."""
        if reason not in self._seen:  # the common case: no lock
            return False
        with self._lock:
            if reason in self._seen:
                self._seen.discard(reason)
                return True
            return False


__all__ = ["MAX_REASONS", "LogOnce"]
