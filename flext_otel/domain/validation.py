"""Field validation of the domain entities: the rules, their limits and error codes.

Each check takes a value and the name it is shown under, returns the normalised
value, and raises :class:`EntityValidationError` (a ``ValueError`` carrying an
``error_code``) for a value that breaks the rule. ``flext_otel.domain.entities``
applies them on construction.

Imports: the standard library only (pure Python, no OpenTelemetry).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, NoReturn, TypeAlias, TypeVar, cast

AttributeValue: TypeAlias = (
    str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
)
"""What an OTel attribute can carry; entities store sequences as tuples."""

LEVELS = ("trace", "debug", "info", "warning", "error", "critical")
LEVEL_ALIASES: Mapping[str, str] = MappingProxyType({"warn": "warning", "fatal": "critical"})
SEVERITIES = ("low", "medium", "high", "critical", "emergency")
ALERT_STATUSES = ("active", "acknowledged", "resolved")
HEALTH_STATUSES = ("healthy", "degraded", "unhealthy", "unknown")
TRACE_STATUSES = ("ok", "error", "unset")
METRIC_TYPES = ("counter", "up_down_counter", "histogram", "gauge")
HEALTH_STATUS_VALUE: Mapping[str, float] = MappingProxyType(
    {"healthy": 1.0, "degraded": 0.5, "unhealthy": 0.0, "unknown": -1.0}
)
MAX_TEXT_LENGTH = 8192  # free text beyond this is truncated and marked
MAX_NAME_LENGTH = 255  # metric names, as OTel instrument names
MAX_IDENTIFIER_LENGTH = 1024  # operations, titles, components, attribute keys
MAX_UNIT_LENGTH = 63  # as OTel instrument units

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")
_HEX = re.compile(r"[0-9a-f]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2262, 1, 1, tzinfo=timezone.utc)  # OTel times are int64 nanoseconds
_COUNT_UNITS = frozenset({"1", "count", "counts", "{count}", "{counts}"})
_E = TypeVar("_E")
_NONE: Mapping[str, str] = MappingProxyType({})
_DEFAULT: Any = object()  # "not given" for arguments whose default is built per call


class EntityValidationError(ValueError):
    """An entity field failed validation; ``error_code`` names the kind of problem.

    >>> from flext_otel.domain.entities import FlextAlert
    >>> try:
    ...     FlextAlert("", "disk full")
    ... except EntityValidationError as exc:
    ...     print(exc.error_code, "|", exc)
    INVALID_NAME | alert title must not be empty or blank; got str ''.
    """

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


# -- field checks ----------------------------------------------------------
def _preview(value: object) -> str:
    """The value's class and at most ~60 characters of it, safe to log."""
    kind = type(value).__name__
    try:
        if isinstance(value, str):
            text = str.__str__(value)
            return f"{kind} {text[:60]!r}" + (f"... ({len(text)} chars)" if len(text) > 60 else "")
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, int):
            bits = value.bit_length()
            return f"{kind} of {bits} bits" if bits > 64 else f"{kind} {int.__repr__(value)}"
        if isinstance(value, (float, datetime)):
            return f"{kind} {value!s}"[:70]
        if isinstance(value, (bytes, bytearray, Mapping, list, tuple, set)):
            return f"{kind} of length {len(value)}"
    except Exception:  # a hostile __len__ or __str__ must not hide the real error
        pass
    return kind


def _bad(code: str, what: str, rule: str, value: object) -> NoReturn:
    raise EntityValidationError(f"{what} must {rule}; got {_preview(value)}.", code)


def _str(value: object, what: str) -> str:
    if type(value) is str and value.isascii():  # no surrogate can hide in ASCII
        return value
    if not isinstance(value, str):
        _bad("INVALID_TYPE", what, "be a str", value)
    text = str.__str__(value)  # a plain str, whatever the subclass overrides
    if _SURROGATE.search(text):
        _bad("INVALID_TEXT", what, "not contain lone surrogates (not UTF-8 encodable)", text)
    return text


def _identifier(value: object, what: str) -> str:
    text = _str(value, what)
    if len(text) > MAX_IDENTIFIER_LENGTH:
        _bad("INVALID_NAME", what, f"have at most {MAX_IDENTIFIER_LENGTH} characters", text)
    if not text.strip():
        _bad("INVALID_NAME", what, "not be empty or blank", text)
    return text


def truncate_text(text: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """``text`` cut to at most ``limit`` characters, ending in a truncation marker.

    >>> truncate_text("x" * 100, limit=30)
    'xxxxxx...[truncated 94 chars]'
    >>> truncate_text("short")
    'short'
    """
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(f"...[truncated {len(text)} chars]"))
    return f"{text[:keep]}...[truncated {len(text) - keep} chars]"


def _text(value: object, what: str) -> str:
    return truncate_text(_str(value, what))


def _choice(
    value: object,
    what: str,
    allowed: tuple[str, ...],
    code: str,
    aliases: Mapping[str, str] = _NONE,
) -> str:
    rule = f"be one of {', '.join(allowed)}"
    if not isinstance(value, str):
        _bad("INVALID_TYPE", what, rule, value)
    key = str.lower(value) if len(value) <= 32 else ""
    key = aliases.get(key, key)
    if key not in allowed:
        _bad(code, what, rule, value)
    return key


def _in_range(moment: datetime, what: str) -> datetime:
    if not _EARLIEST <= moment < _LATEST:
        _bad("INVALID_TIME", what, "lie between 1970 and 2261", moment)
    return moment


def _when(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        _bad("INVALID_TYPE", what, "be a datetime", value)
    try:
        aware = value.tzinfo is not None and value.utcoffset() is not None
        utc = value.astimezone(timezone.utc) if aware else None
    except Exception:  # a broken tzinfo or an offset that overflows
        _bad("INVALID_TIME", what, "be convertible to UTC", value)
    if utc is None:
        _bad("INVALID_TIME", what, "be timezone-aware (naive datetimes are ambiguous)", value)
    return _in_range(utc, what)


def _hex_id(value: object, what: str, length: int) -> str | None:
    if value is None:
        return None
    rule = f"be {length} lowercase hex digits, not all zero"
    if not isinstance(value, str):
        _bad("INVALID_TYPE", what, rule, value)
    text = str.lower(value) if len(value) == length else ""
    if not _HEX.fullmatch(text) or int(text, 16) == 0:
        _bad("INVALID_ID", what, rule, value)
    return text


def _number(value: object, what: str, code: str) -> int | float:
    """A plain finite int64 or float; bools and other types are INVALID_TYPE."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _bad("INVALID_TYPE", what, "be an int or a float", value)
    if isinstance(value, int):  # plain copies first: a subclass may lie in comparisons
        whole = int.__int__(value)
        if not _INT64_MIN <= whole <= _INT64_MAX:
            _bad(code, what, "fit in a signed 64-bit integer", whole)
        return whole
    real = float.__float__(value)
    if not math.isfinite(real):
        _bad(code, what, "be finite", real)
    return real


def _scalar(value: object, what: str) -> str | bool | int | float | None:
    """The plain attribute scalar for ``value``, or None when it is not one."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return _text(value, what)
    if isinstance(value, (int, float)):
        return _number(value, what, "INVALID_ATTRIBUTES")
    return None


def _attribute(value: object, what: str) -> AttributeValue:
    scalar = _scalar(value, what)
    if scalar is not None:
        return scalar
    rule = "be a str, bool, int, float or a list/tuple of one of those"
    if not isinstance(value, (list, tuple)):
        _bad("INVALID_ATTRIBUTES", what, rule, value)
    items: list[str | bool | int | float] = []
    for index, item in enumerate(value):
        element = _scalar(item, f"{what}[{index}]")
        if element is None:
            _bad("INVALID_ATTRIBUTES", f"{what}[{index}]", "be a str, bool, int or float", item)
        if items and type(element) is not type(items[0]):
            _bad("INVALID_ATTRIBUTES", what, f"hold only {type(items[0]).__name__}", element)
        items.append(element)
    return cast("AttributeValue", tuple(items))


def _plain_attributes(mapping: dict[Any, Any]) -> dict[str, AttributeValue] | None:
    """The clean copy of a plain dict of plain scalars, or None to take the full path.

    Accepts exactly what :func:`validate_attributes` would keep unchanged: ``str``
    keys of 1..1024 characters and ``str`` (at most :data:`MAX_TEXT_LENGTH`),
    ``bool``, int64 ``int`` and finite ``float`` values, none of them subclasses
    and no string holding a lone surrogate. Anything else returns None.
    """
    clean: dict[str, AttributeValue] = {}
    try:
        for key, value in mapping.items():
            if (
                type(key) is not str
                or not 0 < len(key) <= MAX_IDENTIFIER_LENGTH
                or (not key.isascii() and _SURROGATE.search(key))
            ):
                return None
            kind = type(value)
            if kind is str:
                if len(value) > MAX_TEXT_LENGTH or (
                    not value.isascii() and _SURROGATE.search(value)
                ):
                    return None
            elif kind is int:
                if not _INT64_MIN <= value <= _INT64_MAX:
                    return None
            elif kind is float:
                if not math.isfinite(value):
                    return None
            elif kind is not bool:
                return None
            clean[key] = value
    except RuntimeError:  # mutated while read: the full path reports it
        return None
    return clean


def validate_attributes(mapping: object, field: str = "tags") -> dict[str, AttributeValue]:
    """A clean copy of ``mapping`` holding only values OTel attributes can carry.

    ``None`` means none. Keys: non-empty str of at most
    :data:`MAX_IDENTIFIER_LENGTH` characters. Values: str (truncated like free
    text), bool, int64, finite float, or a list/tuple of one of those (stored
    as a tuple). Raises :class:`EntityValidationError` naming ``field``.

    >>> validate_attributes({"region": "eu", "ports": [80, 443]})
    {'region': 'eu', 'ports': (80, 443)}
    >>> try:
    ...     validate_attributes({"nested": {"a": 1}}, field="context")
    ... except EntityValidationError as exc:
    ...     print(exc.error_code)
    INVALID_ATTRIBUTES
    """
    if mapping is None:
        return {}
    if type(mapping) is dict:  # the common case: plain scalars, checked in one pass
        plain = _plain_attributes(mapping)
        if plain is not None:
            return plain
    if not isinstance(mapping, Mapping):
        _bad("INVALID_TYPE", field, "be a mapping of str to attribute values", mapping)
    clean: dict[str, AttributeValue] = {}
    try:
        for key, value in mapping.items():
            if not isinstance(key, str):
                _bad("INVALID_ATTRIBUTES", f"{field} keys", "be str", key)
            name = _str(key, f"{field} keys")
            if not 0 < len(name) <= MAX_IDENTIFIER_LENGTH:
                _bad("INVALID_ATTRIBUTES", f"{field} keys", "have 1 to 1024 characters", name)
            clean[name] = _attribute(value, f"{field}[{name[:40]!r}]")
    except EntityValidationError:
        raise
    except Exception as exc:  # a Mapping or sequence whose own methods fail
        _bad("INVALID_ATTRIBUTES", field, "be readable", exc)
    return clean


def _attributes(mapping: object, field: str) -> Mapping[str, AttributeValue]:
    return MappingProxyType(validate_attributes(mapping, field))


def infer_metric_type(name: str, unit: str = "") -> str:
    """The metric type a name suffix or unit implies (``"."`` counts as ``"_"``).

    >>> infer_metric_type("orders_total"), infer_metric_type("http.server.duration")
    ('counter', 'histogram')
    >>> infer_metric_type("queue_depth"), infer_metric_type("jobs", unit="1")
    ('gauge', 'counter')
    """
    key = name.lower().replace(".", "_")
    if key.endswith(("_total", "_count")):
        return "counter"
    if key.endswith(("_seconds", "_duration", "_time")):
        return "histogram"
    return "counter" if unit.lower() in _COUNT_UNITS else "gauge"


def _set(entity: object, **values: object) -> None:
    for name, value in values.items():
        object.__setattr__(entity, name, value)


# Entity IDs: random uuid4 values as 32 lowercase hex characters (version nibble 4,
# RFC 4122 variant), drawn from the module PRNG as the OTel SDK draws its trace IDs
# (Python reseeds it in a forked child): ~0.25 us instead of uuid.uuid4()'s ~1.7 us.
_ID_KEEP = ~((0xF << 76) | (0xC << 60))
_ID_SET = (0x4 << 76) | (0x8 << 60)
_randbits = random.getrandbits


def _new_id() -> str:
    return "%032x" % ((_randbits(128) & _ID_KEEP) | _ID_SET)


_UTC = timezone.utc
_utc_now = datetime.now


def _now() -> datetime:
    return _utc_now(_UTC)
