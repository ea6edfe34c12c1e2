"""The five domain entities and their factories.

Field rules live in :mod:`flext_otel.domain.validation`; this module applies them.
Imports: the standard library and ``domain`` only (no OpenTelemetry).
About 550 lines on purpose: each entity's constructor, normalisation and factory stay
side by side, because the contract fixes their signatures together.

Entities are frozen, slotted dataclasses with an ``id`` (32 hex characters in
the uuid4 layout, unique) and a ``created_at`` (aware UTC datetime).
Construction validates and normalises every field; a bad value raises
:class:`EntityValidationError` (a ``ValueError``). The ``flext_create_*`` functions return a
:class:`~flext_otel.domain.result.FlextResult` instead and never raise.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, ClassVar, cast

from flext_otel.domain.result import FlextResult
from flext_otel.domain.validation import (
    _DEFAULT,
    _E,
    _EARLIEST,
    _INT64_MAX,
    _LATEST,
    _NAME,
    _UTC,
    ALERT_STATUSES,
    HEALTH_STATUS_VALUE,
    HEALTH_STATUSES,
    LEVEL_ALIASES,
    LEVELS,
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    MAX_UNIT_LENGTH,
    METRIC_TYPES,
    SEVERITIES,
    TRACE_STATUSES,
    AttributeValue,
    EntityValidationError,
    _attributes,
    _bad,
    _choice,
    _hex_id,
    _identifier,
    _in_range,
    _new_id,
    _now,
    _number,
    _plain_attributes,
    _set,
    _str,
    _text,
    _utc_now,
    _when,
    infer_metric_type,
    truncate_text,
    validate_attributes,
)


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


__all__ = [
    "ALERT_STATUSES",
    "HEALTH_STATUSES",
    "HEALTH_STATUS_VALUE",
    "LEVELS",
    "LEVEL_ALIASES",
    "MAX_TEXT_LENGTH",
    "METRIC_TYPES",
    "SEVERITIES",
    "TRACE_STATUSES",
    "AttributeValue",
    "EntityValidationError",
    "FlextAlert",
    "FlextHealthCheck",
    "FlextLogEntry",
    "FlextMetric",
    "FlextTrace",
    "flext_create_alert",
    "flext_create_health_check",
    "flext_create_log_entry",
    "flext_create_metric",
    "flext_create_trace",
    "infer_metric_type",
    "truncate_text",
    "validate_attributes",
]
