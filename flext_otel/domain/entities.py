"""The five domain entities and their validation.

Entities are frozen, slotted dataclasses with an ``id`` (32 hex characters in
the uuid4 layout, unique) and a ``created_at`` (aware UTC datetime).
Construction validates and normalises every field; a bad value raises
:class:`EntityValidationError` (a ``ValueError``). The ``flext_create_*`` functions return a
:class:`~flext_otel.result.FlextResult` instead and never raise.

>>> flext_create_metric("orders_total", 3).unwrap().metric_type
'counter'
>>> flext_create_metric("my metric", 1).error_code
'INVALID_NAME'

``error_code`` values: ``INVALID_TYPE`` (wrong Python type: ``None``, bytes,
objects, a bool as a number); ``INVALID_NAME`` (metric name, trace operation,
alert title or health component empty, too long or malformed);
``INVALID_VALUE`` (NaN/inf, outside int64, negative counter or histogram
value); ``INVALID_UNIT``; ``INVALID_METRIC_TYPE``; ``INVALID_LEVEL``,
``INVALID_SEVERITY``, ``INVALID_STATUS`` (outside the closed set; matching
ignores case, ``"warn"`` means ``"warning"``, ``"fatal"`` means
``"critical"``); ``INVALID_ATTRIBUTES`` (a key or value OTel cannot carry);
``INVALID_TIME`` (naive datetimes are rejected, never guessed; times outside
1970..2261; end before start; bad ``duration_ms``); ``INVALID_ID`` (trace or
span id not hex of the right length, or all zero; upper case is lowered);
``INVALID_TEXT`` (a lone surrogate, which UTF-8 cannot encode);
``INVALID_INPUT`` (factories only: an argument failed in an unexpected way).

Free text (messages and string attribute values) is never rejected for size:
it is cut to :data:`MAX_TEXT_LENGTH` characters ending in a marker such as
``...[truncated 12 chars]`` (:func:`truncate_text`). Identifiers are bounded
and rejected when too long.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn, TypeAlias, TypeVar, cast

from flext_otel.domain.result import FlextResult

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


# -- entities --------------------------------------------------------------
class _Entity:
    """Shared behaviour: ``id``/``created_at`` checks and a JSON-safe ``to_dict()``.

    >>> FlextHealthCheck("db", "healthy", details={"ports": (5432,)}).to_dict()["details"]
    {'ports': [5432]}
    """

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]
    id: str
    created_at: datetime

    def _check_identity(self, what: str) -> None:
        entity_id = self.id
        created = self.created_at
        if (  # the defaults (and any plain ASCII ID with a UTC time): nothing to normalise
            type(entity_id) is str
            and 0 < len(entity_id) <= 128
            and entity_id.isascii()
            and type(created) is datetime
            and created.tzinfo is timezone.utc
            and _EARLIEST <= created < _LATEST
        ):
            return
        entity_id = _str(self.id, f"{what} id")
        if not 0 < len(entity_id) <= 128:
            _bad("INVALID_ID", f"{what} id", "have 1 to 128 characters", entity_id)
        _set(self, id=entity_id, created_at=_when(self.created_at, f"{what} created_at"))

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-safe data: ISO 8601 times, lists for sequences."""
        out: dict[str, Any] = {}
        for item in fields(cast("Any", self)):
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Mapping):
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[item.name] = value
        return out


@dataclass(frozen=True, slots=True, init=False)
class FlextMetric(_Entity):
    """One measurement of a named instrument; an empty ``metric_type`` is inferred.

    >>> m = FlextMetric("orders_total", 3, unit="1", tags={"region": "eu"})
    >>> m.metric_type, dict(m.tags)
    ('counter', {'region': 'eu'})
    """

    name: str
    value: float
    unit: str = ""
    tags: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    metric_type: str = ""  # "" (or None) = infer_metric_type(name, unit)
    id: str = field(default_factory=_new_id, kw_only=True)
    created_at: datetime = field(default_factory=_now, kw_only=True)

    def __init__(
        self,
        name: str,
        value: float,
        unit: str = "",
        tags: Mapping[str, AttributeValue] = _DEFAULT,
        metric_type: str = "",
        *,
        id: str = _DEFAULT,
        created_at: datetime = _DEFAULT,
    ) -> None:
        # The dataclass __init__ plus validation in one pass: a metric whose name,
        # unit and type were validated before (plain str), with a plain int64 or
        # finite float value and a plain dict of plain scalars as tags, is set
        # without re-running every rule; anything else takes the full path.
        _setattr = object.__setattr__
        if id is _DEFAULT:
            id = _new_id()
        if created_at is _DEFAULT:
            created_at = _utc_now(_UTC)
        if tags is _DEFAULT:
            tags = {}
        if (
            type(name) is str
            and type(unit) is str
            and type(tags) is dict
            and (metric_type is None or type(metric_type) is str)
        ):
            resolved = _METRIC_SHAPES.get((name, unit, metric_type))
            value_type = type(value)
            if (
                resolved is not None
                and (
                    (value_type is int and 0 <= value <= _INT64_MAX)
                    or (value_type is float and 0.0 <= value < math.inf)
                )
                and type(id) is str
                and 0 < len(id) <= 128
                and id.isascii()
                and type(created_at) is datetime
                and created_at.tzinfo is _UTC
                and _EARLIEST <= created_at < _LATEST
            ):
                plain = _plain_attributes(tags)
                if plain is not None:
                    _setattr(self, "name", name)
                    _setattr(self, "value", value)
                    _setattr(self, "unit", unit)
                    _setattr(self, "tags", MappingProxyType(plain))
                    _setattr(self, "metric_type", resolved)
                    _setattr(self, "id", id)
                    _setattr(self, "created_at", created_at)
                    return
        _setattr(self, "name", name)
        _setattr(self, "value", value)
        _setattr(self, "unit", unit)
        _setattr(self, "tags", tags)
        _setattr(self, "metric_type", metric_type)
        _setattr(self, "id", id)
        _setattr(self, "created_at", created_at)
        self._validate()

    def _validate(self) -> None:
        """Every rule, in order; remembers a valid (name, unit, type) for the fast path."""
        given, raw_name, raw_unit = self.metric_type, self.name, self.unit
        name = _str(self.name, "metric name")
        if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
            rule = "be an ASCII letter then up to 254 letters, digits or _ . - /"
            _bad("INVALID_NAME", "metric name", rule, name)
        unit = _str(self.unit, "metric unit")
        if len(unit) > MAX_UNIT_LENGTH or not unit.isascii():
            _bad("INVALID_UNIT", "metric unit", "be ASCII of at most 63 characters", unit)
        kind: object = self.metric_type
        if kind is None or (isinstance(kind, str) and not str.__len__(kind)):
            kind = infer_metric_type(name, unit)
        kind = _choice(kind, "metric_type", METRIC_TYPES, "INVALID_METRIC_TYPE")
        value = _number(self.value, "metric value", "INVALID_VALUE")
        if value < 0 and kind in ("counter", "histogram"):
            _bad(
                "INVALID_VALUE", f"a {kind} value", "be >= 0 (use up_down_counter or gauge)", value
            )
        _set(self, name=name, unit=unit, metric_type=kind, value=value)
        _set(self, tags=_attributes(self.tags, "metric tags"))
        self._check_identity("metric")
        _remember_shape(raw_name, raw_unit, given, kind)


# (name, unit, metric_type as given) -> validated metric type, for
# names, units and types that passed every check with no normalisation (plain str).
_METRIC_SHAPES: dict[tuple[str, str, str | None], str] = {}
_METRIC_SHAPES_MAX = 4_096


def _remember_shape(name: object, unit: object, given: object, kind: str) -> None:
    if type(name) is str and type(unit) is str and (given is None or type(given) is str):
        if len(_METRIC_SHAPES) >= _METRIC_SHAPES_MAX:
            _METRIC_SHAPES.clear()  # bounded: a flood of distinct names just starts over
        _METRIC_SHAPES[(name, unit, None if given is None else given)] = kind


@dataclass(frozen=True, slots=True, init=False)
class FlextTrace(_Entity):
    """A finished operation: a span's name, IDs, attributes, times and status.

    Times complete each other: with both ends ``duration_ms`` is derived (a
    given one must agree within 1 ms); one end plus a duration gives the
    other; a duration alone, or nothing, ends at ``created_at``; a start alone
    ends at ``created_at`` (or at the start, if later). ``span_id`` and
    ``parent_span_id`` need a ``trace_id``.

    >>> t = FlextTrace("charge-card", duration_ms=12.5, status="OK")
    >>> t.status, t.duration_ms, t.end_time - t.start_time
    ('ok', 12.5, datetime.timedelta(microseconds=12500))
    """

    operation: str
    trace_id: str | None
    span_id: str | None
    parent_span_id: str | None
    attributes: Mapping[str, AttributeValue] = field(hash=False)
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: str
    id: str
    created_at: datetime

    def __init__(
        self,
        operation: str,
        *,
        attributes: Mapping[str, AttributeValue] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        duration_ms: float | None = None,
        status: str = "unset",
        trace_id: str | None = None,
        parent_span_id: str | None = None,
        span_id: str | None = None,
        id: str | None = None,
        created_at: datetime | None = None,
    ) -> None:
        operation = _identifier(operation, "trace operation")
        trace = _hex_id(trace_id, "trace_id", 32)
        span = _hex_id(span_id, "span_id", 16)
        parent = _hex_id(parent_span_id, "parent_span_id", 16)
        if trace is None and (span or parent):
            _bad("INVALID_ID", "span_id and parent_span_id", "come with a trace_id", None)
        if span is not None and span == parent:
            _bad("INVALID_ID", "span_id", "differ from parent_span_id", span)
        _set(self, operation=operation, trace_id=trace, span_id=span, parent_span_id=parent)
        _set(self, attributes=_attributes(attributes, "trace attributes"))
        _set(self, status=_choice(status, "trace status", TRACE_STATUSES, "INVALID_STATUS"))
        _set(
            self,
            id=_new_id() if id is None else id,
            created_at=_now() if created_at is None else created_at,
        )
        self._check_identity("trace")
        self._set_times(start_time, end_time, duration_ms)

    def _set_times(self, start: object, end: object, duration: object) -> None:
        begin = None if start is None else _when(start, "trace start_time")
        finish = None if end is None else _when(end, "trace end_time")
        wanted = None if duration is None else _number(duration, "duration_ms", "INVALID_TIME")
        if wanted is not None and wanted < 0:
            _bad("INVALID_TIME", "duration_ms", "be >= 0", wanted)
        try:
            length = timedelta(milliseconds=wanted or 0)
            if begin is None:
                finish = self.created_at if finish is None else finish
                begin = finish - length
            elif finish is None:
                finish = begin + length if wanted is not None else max(begin, self.created_at)
        except OverflowError:
            _bad("INVALID_TIME", "duration_ms", "keep the times within range", duration)
        begin, finish = _in_range(begin, "trace start_time"), _in_range(finish, "trace end_time")
        if finish < begin:
            _bad("INVALID_TIME", "trace end_time", f"not be before start_time {begin}", finish)
        measured = (finish - begin) / timedelta(milliseconds=1)
        if wanted is not None and abs(wanted - measured) > 1.0:
            _bad("INVALID_TIME", "duration_ms", f"match end - start ({measured} ms)", wanted)
        duration_ms = measured if wanted is None else float(wanted)
        _set(self, start_time=begin, end_time=finish, duration_ms=duration_ms)


@dataclass(frozen=True, slots=True)
class FlextAlert(_Entity):
    """Something a person should look at.

    >>> a = FlextAlert("disk full", "/var at 97%", "high", tags={"host": "db1"})
    >>> a.severity, a.status
    ('high', 'active')
    """

    title: str
    message: str
    severity: str = "low"
    status: str = "active"
    tags: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    id: str = field(default_factory=_new_id, kw_only=True)
    created_at: datetime = field(default_factory=_now, kw_only=True)

    def __post_init__(self) -> None:
        _set(self, title=_identifier(self.title, "alert title"))
        _set(self, message=_text(self.message, "alert message"))
        _set(
            self, severity=_choice(self.severity, "alert severity", SEVERITIES, "INVALID_SEVERITY")
        )
        _set(self, status=_choice(self.status, "alert status", ALERT_STATUSES, "INVALID_STATUS"))
        _set(self, tags=_attributes(self.tags, "alert tags"))
        self._check_identity("alert")


@dataclass(frozen=True, slots=True)
class FlextHealthCheck(_Entity):
    """The result of checking one component.

    >>> h = FlextHealthCheck("postgres", "degraded", message="slow", details={"ms": 950})
    >>> h.status, HEALTH_STATUS_VALUE[h.status]
    ('degraded', 0.5)
    """

    component: str
    status: str = "unknown"
    message: str = ""
    details: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    id: str = field(default_factory=_new_id, kw_only=True)
    created_at: datetime = field(default_factory=_now, kw_only=True)

    def __post_init__(self) -> None:
        _set(self, component=_identifier(self.component, "health component"))
        _set(self, status=_choice(self.status, "health status", HEALTH_STATUSES, "INVALID_STATUS"))
        _set(self, message=_text(self.message, "health message"))
        _set(self, details=_attributes(self.details, "health details"))
        self._check_identity("health check")


@dataclass(frozen=True, slots=True)
class FlextLogEntry(_Entity):
    """A log line with a level and structured context.

    >>> e = FlextLogEntry("card charged", "WARN", context={"order": 42})
    >>> e.level, dict(e.context)
    ('warning', {'order': 42})
    """

    message: str
    level: str = "info"
    context: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    timestamp: datetime = field(default_factory=_now)
    id: str = field(default_factory=_new_id, kw_only=True)
    created_at: datetime = field(default_factory=_now, kw_only=True)

    def __post_init__(self) -> None:
        _set(self, message=_text(self.message, "log message"))
        _set(self, level=_choice(self.level, "log level", LEVELS, "INVALID_LEVEL", LEVEL_ALIASES))
        _set(self, context=_attributes(self.context, "log context"))
        _set(self, timestamp=_when(self.timestamp, "log timestamp"))
        self._check_identity("log entry")


# -- factories -------------------------------------------------------------
def _build(make: Callable[[], _E], what: str) -> FlextResult[_E]:
    try:
        return FlextResult.ok(make())
    except EntityValidationError as exc:
        return FlextResult.fail(exc.message, error_code=exc.error_code)
    except Exception as exc:  # hostile input: a lying __class__, a broken tzinfo, ...
        return FlextResult.fail(
            f"{what} could not be built ({type(exc).__name__}).", "INVALID_INPUT"
        )


def flext_create_metric(
    name: str,
    value: float,
    *,
    unit: str = "",
    tags: Mapping[str, AttributeValue] | None = None,
    metric_type: str | None = None,
) -> FlextResult[FlextMetric]:
    """Validate and build a :class:`FlextMetric`; never raises.

    >>> flext_create_metric("latency_seconds", 0.25).unwrap().metric_type
    'histogram'
    >>> flext_create_metric("orders_total", -1).error_code
    'INVALID_VALUE'
    """
    try:  # _build() inlined: this is the simple API's hot path
        return FlextResult(
            FlextMetric(
                name,
                value,
                unit,
                {} if tags is None else tags,
                "" if metric_type is None else metric_type,
            )
        )
    except EntityValidationError as exc:
        return FlextResult.fail(exc.message, error_code=exc.error_code)
    except Exception as exc:  # hostile input: a lying __class__, a broken __eq__, ...
        return FlextResult.fail(
            f"metric could not be built ({type(exc).__name__}).", "INVALID_INPUT"
        )


def flext_create_trace(
    operation: str,
    *,
    attributes: Mapping[str, AttributeValue] | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    duration_ms: float | None = None,
    status: str = "unset",
    trace_id: str | None = None,
    parent_span_id: str | None = None,
) -> FlextResult[FlextTrace]:
    """Validate and build a :class:`FlextTrace`; never raises.

    >>> flext_create_trace("charge-card", duration_ms=5, status="ok").unwrap().duration_ms
    5.0
    >>> flext_create_trace("op", trace_id="0" * 32).error_code
    'INVALID_ID'
    """
    options: dict[str, Any] = {"attributes": attributes, "status": status, "trace_id": trace_id}
    options.update(start_time=start_time, end_time=end_time, duration_ms=duration_ms)
    options["parent_span_id"] = parent_span_id
    return _build(lambda: FlextTrace(operation, **options), "trace")


def flext_create_alert(
    title: str,
    message: str,
    severity: str = "low",
    *,
    status: str = "active",
    tags: Mapping[str, AttributeValue] | None = None,
) -> FlextResult[FlextAlert]:
    """Validate and build a :class:`FlextAlert`; never raises.

    >>> flext_create_alert("disk full", "/var at 97%", "critical").unwrap().severity
    'critical'
    >>> flext_create_alert("disk full", "x", "apocalyptic").error_code
    'INVALID_SEVERITY'
    """
    tags = {} if tags is None else tags
    return _build(lambda: FlextAlert(title, message, severity, status, tags), "alert")


def flext_create_health_check(
    component: str,
    status: str = "unknown",
    *,
    message: str = "",
    details: Mapping[str, AttributeValue] | None = None,
) -> FlextResult[FlextHealthCheck]:
    """Validate and build a :class:`FlextHealthCheck`; never raises.

    >>> flext_create_health_check("redis", "healthy").unwrap().status
    'healthy'
    >>> flext_create_health_check("redis", "fine").error_code
    'INVALID_STATUS'
    """
    details = {} if details is None else details
    return _build(lambda: FlextHealthCheck(component, status, message, details), "health check")


def flext_create_log_entry(
    message: str, level: str = "info", *, context: Mapping[str, AttributeValue] | None = None
) -> FlextResult[FlextLogEntry]:
    """Validate and build a :class:`FlextLogEntry`; never raises.

    >>> flext_create_log_entry("card charged", "warn").unwrap().level
    'warning'
    >>> flext_create_log_entry("x", "loud").error_code
    'INVALID_LEVEL'
    """
    context = {} if context is None else context
    return _build(lambda: FlextLogEntry(message, level, context), "log entry")
