"""Exact conversions between aware ``datetime`` values and Unix-epoch nanoseconds.

Imports: the standard library only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def datetime_to_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware ``datetime`` (exact, no float).

    >>> datetime_to_ns(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc))
    1000005000
    """
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def datetime_from_ns(ns: int) -> datetime:
    """The aware UTC ``datetime`` of Unix-epoch nanoseconds (to the microsecond).

    >>> datetime_from_ns(1_000_005_000).isoformat()
    '1970-01-01T00:00:01.000005+00:00'
    """
    return _EPOCH + timedelta(microseconds=ns // 1_000)


__all__ = ["datetime_from_ns", "datetime_to_ns"]
