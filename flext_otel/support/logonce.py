"""Log the first internal failure of a component, then only count.

Imports: the standard library only.

Threading: safe from any thread; a race may log a second line, never raise.
"""

from __future__ import annotations

import logging

_logger = logging.getLogger("flext_otel")


class _OnceLogger:
    """Logs the first internal failure of a component, then only counts."""

    __slots__ = ("_logged", "_what")

    def __init__(self, what: str) -> None:
        self._what = what
        self._logged = False

    def failure(self, exc: BaseException) -> None:
        if not self._logged:
            self._logged = True
            _logger.warning("%s failed internally and drops the item: %r", self._what, exc)
