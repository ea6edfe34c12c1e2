"""Domain entities: validation, hostile input, inference, immutability and serialisation."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flext_otel.domain.entities import (
    ALERT_STATUSES,
    HEALTH_STATUS_VALUE,
    HEALTH_STATUSES,
    LEVELS,
    MAX_TEXT_LENGTH,
    METRIC_TYPES,
    SEVERITIES,
    TRACE_STATUSES,
    EntityValidationError,
    FlextAlert,
    FlextHealthCheck,
    FlextLogEntry,
    FlextMetric,
    FlextTrace,
    _build,
    flext_create_alert,
    flext_create_health_check,
    flext_create_log_entry,
    flext_create_metric,
    flext_create_trace,
    infer_metric_type,
    truncate_text,
    validate_attributes,
)
from flext_otel.domain.result import FlextResult

HUGE = "x" * 10_000_000
UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
CODES = {
    "INVALID_TYPE",
    "INVALID_NAME",
    "INVALID_VALUE",
    "INVALID_UNIT",
    "INVALID_METRIC_TYPE",
    "INVALID_LEVEL",
    "INVALID_SEVERITY",
    "INVALID_STATUS",
    "INVALID_ATTRIBUTES",
    "INVALID_TIME",
    "INVALID_ID",
    "INVALID_TEXT",
    "INVALID_INPUT",
}

Factory = Callable[..., FlextResult[Any]]
KINDS: dict[str, tuple[Factory, type[Any], dict[str, Any]]] = {
    "metric": (flext_create_metric, FlextMetric, {"name": "orders_total", "value": 1}),
    "trace": (
        lambda **args: (
            # span_id is the SDK's to assign: only direct construction accepts it
            _build(lambda: FlextTrace(**args), "trace")
            if "span_id" in args
            else flext_create_trace(**args)
        ),
        FlextTrace,
        {"operation": "charge-card"},
    ),
    "alert": (flext_create_alert, FlextAlert, {"title": "disk full", "message": "97%"}),
    "health": (flext_create_health_check, FlextHealthCheck, {"component": "db"}),
    "log": (flext_create_log_entry, FlextLogEntry, {"message": "charged"}),
}


class BrokenMapping(Mapping[str, Any]):
    """A mapping whose iteration fails."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


def case(kind: str, case_id: str, code: str, **override: Any) -> Any:
    """One hostile input: the entity kind, the arguments that differ and the expected code."""
    return pytest.param(kind, override, code, id=f"{kind}-{case_id}")


ATTRIBUTE_CASES = [
    ("none-value", {"a": None}, "INVALID_ATTRIBUTES"),
    ("nested-dict", {"a": {"b": 1}}, "INVALID_ATTRIBUTES"),
    ("bytes-value", {"a": b"x"}, "INVALID_ATTRIBUTES"),
    ("object-value", {"a": object()}, "INVALID_ATTRIBUTES"),
    ("set-value", {"a": {1, 2}}, "INVALID_ATTRIBUTES"),
    ("mixed-list", {"a": [1, "x"]}, "INVALID_ATTRIBUTES"),
    ("int-float-list", {"a": [1, 2.0]}, "INVALID_ATTRIBUTES"),
    ("bool-int-list", {"a": [True, 1]}, "INVALID_ATTRIBUTES"),
    ("nested-list", {"a": [[1]]}, "INVALID_ATTRIBUTES"),
    ("none-in-list", {"a": ["x", None]}, "INVALID_ATTRIBUTES"),
    ("nan-value", {"a": math.nan}, "INVALID_ATTRIBUTES"),
    ("inf-in-list", {"a": [1.0, math.inf]}, "INVALID_ATTRIBUTES"),
    ("huge-int", {"a": 2**70}, "INVALID_ATTRIBUTES"),
    ("empty-key", {"": 1}, "INVALID_ATTRIBUTES"),
    ("int-key", {1: "x"}, "INVALID_ATTRIBUTES"),
    ("long-key", {"k" * 1025: 1}, "INVALID_ATTRIBUTES"),
    ("surrogate-key", {"k\ud800": 1}, "INVALID_TEXT"),
    ("surrogate-value", {"a": "\ud800"}, "INVALID_TEXT"),
    ("surrogate-in-list", {"a": ["ok", "\udfff"]}, "INVALID_TEXT"),
    ("broken-mapping", BrokenMapping(), "INVALID_ATTRIBUTES"),
    ("not-a-mapping", "region=eu", "INVALID_TYPE"),
    ("pairs-list", [("a", 1)], "INVALID_TYPE"),
]
ATTRIBUTE_FIELDS = {"metric": "tags", "trace": "attributes", "alert": "tags"}
ATTRIBUTE_FIELDS.update(health="details", log="context")

HOSTILE = [
    # metric name
    case("metric", "name-none", "INVALID_TYPE", name=None),
    case("metric", "name-bytes", "INVALID_TYPE", name=b"orders"),
    case("metric", "name-object", "INVALID_TYPE", name=object()),
    case("metric", "name-empty", "INVALID_NAME", name=""),
    case("metric", "name-space", "INVALID_NAME", name="orders total"),
    case("metric", "name-unicode", "INVALID_NAME", name="métrique"),
    case("metric", "name-leading-digit", "INVALID_NAME", name="1st_metric"),
    case("metric", "name-leading-underscore", "INVALID_NAME", name="_x"),
    case("metric", "name-300-chars", "INVALID_NAME", name="a" * 300),
    case("metric", "name-10mb", "INVALID_NAME", name=HUGE),
    case("metric", "name-surrogate", "INVALID_TEXT", name="a\ud800"),
    # metric value
    case("metric", "value-none", "INVALID_TYPE", value=None),
    case("metric", "value-str", "INVALID_TYPE", value="1"),
    case("metric", "value-bool", "INVALID_TYPE", value=True),
    case("metric", "value-bytes", "INVALID_TYPE", value=b"1"),
    case("metric", "value-complex", "INVALID_TYPE", value=1j),
    case("metric", "value-nan", "INVALID_VALUE", value=math.nan),
    case("metric", "value-inf", "INVALID_VALUE", value=math.inf),
    case("metric", "value-neg-inf", "INVALID_VALUE", metric_type="gauge", value=-math.inf),
    case("metric", "value-2-pow-63", "INVALID_VALUE", value=2**63),
    case("metric", "value-below-int64", "INVALID_VALUE", metric_type="gauge", value=-(2**63) - 1),
    case("metric", "value-10k-digits", "INVALID_VALUE", value=10**10_000),
    case("metric", "negative-inferred-counter", "INVALID_VALUE", value=-1),
    case("metric", "negative-counter", "INVALID_VALUE", name="q", metric_type="counter", value=-1),
    case("metric", "negative-histogram", "INVALID_VALUE", name="latency_seconds", value=-0.5),
    # metric unit and type
    case("metric", "unit-none", "INVALID_TYPE", unit=None),
    case("metric", "unit-non-ascii", "INVALID_UNIT", unit="µs"),
    case("metric", "unit-64-chars", "INVALID_UNIT", unit="u" * 64),
    case("metric", "unit-surrogate", "INVALID_TEXT", unit="\ud800"),
    case("metric", "type-unknown", "INVALID_METRIC_TYPE", metric_type="summary"),
    case("metric", "type-int", "INVALID_TYPE", metric_type=3),
    case("metric", "type-10mb", "INVALID_METRIC_TYPE", metric_type=HUGE),
    # trace
    case("trace", "operation-none", "INVALID_TYPE", operation=None),
    case("trace", "operation-bytes", "INVALID_TYPE", operation=b"op"),
    case("trace", "operation-empty", "INVALID_NAME", operation=""),
    case("trace", "operation-blank", "INVALID_NAME", operation="   "),
    case("trace", "operation-1025-chars", "INVALID_NAME", operation="o" * 1025),
    case("trace", "operation-10mb", "INVALID_NAME", operation=HUGE),
    case("trace", "operation-surrogate", "INVALID_TEXT", operation="op\ud800"),
    case("trace", "status-unknown", "INVALID_STATUS", status="done"),
    case("trace", "status-none", "INVALID_TYPE", status=None),
    case("trace", "trace-id-zero", "INVALID_ID", trace_id="0" * 32),
    case("trace", "trace-id-short", "INVALID_ID", trace_id="a" * 31),
    case("trace", "trace-id-not-hex", "INVALID_ID", trace_id="g" * 32),
    case("trace", "trace-id-int", "INVALID_TYPE", trace_id=0x4BF92F35),
    case("trace", "trace-id-10mb", "INVALID_ID", trace_id=HUGE),
    case("trace", "span-id-zero", "INVALID_ID", trace_id=TRACE_ID, span_id="0" * 16),
    case("trace", "span-id-unicode-digits", "INVALID_ID", trace_id=TRACE_ID, span_id="\u0661" * 16),
    case("trace", "span-without-trace", "INVALID_ID", span_id=SPAN_ID),
    case("trace", "parent-without-trace", "INVALID_ID", parent_span_id=SPAN_ID),
    case(
        "trace",
        "own-parent",
        "INVALID_ID",
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=SPAN_ID,
    ),
    case("trace", "start-naive", "INVALID_TIME", start_time=datetime(2024, 1, 1)),
    case("trace", "end-naive", "INVALID_TIME", end_time=datetime(2024, 1, 1)),
    case("trace", "start-str", "INVALID_TYPE", start_time="2024-01-01T00:00:00Z"),
    case("trace", "start-epoch-float", "INVALID_TYPE", start_time=1.7e9),
    case("trace", "start-1960", "INVALID_TIME", start_time=datetime(1960, 1, 1, tzinfo=UTC)),
    case(
        "trace",
        "end-before-start",
        "INVALID_TIME",
        start_time=T0,
        end_time=T0 - timedelta(seconds=1),
    ),
    case("trace", "duration-nan", "INVALID_TIME", duration_ms=math.nan),
    case("trace", "duration-negative", "INVALID_TIME", duration_ms=-1.0),
    case("trace", "duration-str", "INVALID_TYPE", duration_ms="5"),
    case("trace", "duration-bool", "INVALID_TYPE", duration_ms=True),
    case("trace", "duration-huge", "INVALID_TIME", duration_ms=1e300),
    case("trace", "duration-huge-int", "INVALID_TIME", duration_ms=10**30),
    case(
        "trace",
        "duration-mismatch",
        "INVALID_TIME",
        start_time=T0,
        end_time=T0 + timedelta(seconds=1),
        duration_ms=5.0,
    ),
    # alert
    case("alert", "title-none", "INVALID_TYPE", title=None),
    case("alert", "title-empty", "INVALID_NAME", title=""),
    case("alert", "title-10mb", "INVALID_NAME", title=HUGE),
    case("alert", "title-surrogate", "INVALID_TEXT", title="\ud800"),
    case("alert", "message-none", "INVALID_TYPE", message=None),
    case("alert", "message-bytes", "INVALID_TYPE", message=b"full"),
    case("alert", "message-surrogate", "INVALID_TEXT", message="disk \udcff"),
    case("alert", "severity-unknown", "INVALID_SEVERITY", severity="apocalyptic"),
    case("alert", "severity-level-alias", "INVALID_SEVERITY", severity="fatal"),
    case("alert", "severity-none", "INVALID_TYPE", severity=None),
    case("alert", "severity-int", "INVALID_TYPE", severity=3),
    case("alert", "status-unknown", "INVALID_STATUS", status="open"),
    # health
    case("health", "component-none", "INVALID_TYPE", component=None),
    case("health", "component-object", "INVALID_TYPE", component=object()),
    case("health", "component-blank", "INVALID_NAME", component="\t"),
    case("health", "component-10mb", "INVALID_NAME", component=HUGE),
    case("health", "status-unknown", "INVALID_STATUS", status="ok"),
    case("health", "status-bytes", "INVALID_TYPE", status=b"healthy"),
    case("health", "message-int", "INVALID_TYPE", message=5),
    case("health", "message-surrogate", "INVALID_TEXT", message="\ud800"),
    # log
    case("log", "message-none", "INVALID_TYPE", message=None),
    case("log", "message-bytes", "INVALID_TYPE", message=b"hi"),
    case("log", "message-object", "INVALID_TYPE", message=object()),
    case("log", "message-surrogate", "INVALID_TEXT", message="\ud800 hi"),
    case("log", "level-unknown", "INVALID_LEVEL", level="loud"),
    case("log", "level-severity-word", "INVALID_LEVEL", level="emergency"),
    case("log", "level-number", "INVALID_TYPE", level=20),
    case("log", "level-10mb", "INVALID_LEVEL", level=HUGE),
    case("log", "level-surrogate", "INVALID_LEVEL", level="\ud800"),
    # every attribute field, every attribute case
    *(
        case(kind, f"{field}-{name}", code, **{field: value})
        for kind, field in ATTRIBUTE_FIELDS.items()
        for name, value, code in ATTRIBUTE_CASES
    ),
]


@pytest.mark.parametrize(("kind", "override", "code"), HOSTILE)
def test_hostile_input_fails_with_code_and_raises_same_value_error(
    kind: str, override: dict[str, Any], code: str
) -> None:
    """Each hostile input: the factory fails with the code; direct construction raises it."""
    factory, cls, base = KINDS[kind]
    args = {**base, **override}
    result = factory(**args)
    assert result.is_failure
    assert result.error_code == code, result.error
    assert result.error is not None
    assert len(result.error) < 400, "the message must not echo a huge value"
    assert result.error.endswith(".")
    result.error.encode("utf-8")  # the message itself is always loggable
    with pytest.raises(ValueError, match=r"must") as raised:
        cls(**args)
    assert isinstance(raised.value, EntityValidationError)
    assert raised.value.error_code == code
    assert str(raised.value) == result.error


def test_error_message_names_field_and_value_class_without_echoing() -> None:
    """A 10 MB name is described by class, a short prefix and its length only."""
    error = flext_create_metric(HUGE, 1).error
    assert error is not None
    assert error.startswith("metric name must")
    assert "str 'xxxx" in error
    assert "(10000000 chars)" in error
    nothing: Any = None
    assert flext_create_metric("x", nothing).error == (
        "metric value must be an int or a float; got None."
    )


class LyingStr:
    """An object that claims to be a str through ``__class__``."""

    @property  # type: ignore[misc]  # a read-only __class__ is the point of this double
    def __class__(self) -> type:
        return str


@pytest.mark.parametrize(
    ("factory", "args"),
    [
        pytest.param(flext_create_metric, {"name": LyingStr(), "value": 1}, id="metric"),
        pytest.param(flext_create_trace, {"operation": LyingStr()}, id="trace"),
        pytest.param(flext_create_alert, {"title": "t", "message": LyingStr()}, id="alert"),
        pytest.param(flext_create_health_check, {"component": LyingStr()}, id="health"),
        pytest.param(flext_create_log_entry, {"message": LyingStr()}, id="log"),
    ],
)
def test_factories_turn_unexpected_exceptions_into_invalid_input(
    factory: Factory, args: dict[str, Any]
) -> None:
    """An object that defeats the type checks still yields a failure, not an exception."""
    result = factory(**args)
    assert result.is_failure
    assert result.error_code == "INVALID_INPUT"


# -- property tests ---------------------------------------------------------
def _with_surrogate(text: str) -> str:
    return text + "\ud800"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63),
    st.floats(),
    st.text(max_size=20),
    st.text(max_size=5).map(_with_surrogate),
    st.binary(max_size=5),
    st.builds(object),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(LEVELS + SEVERITIES + HEALTH_STATUSES + METRIC_TYPES + ("warn", "OK")),
)
hostile = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=3),
    ),
    max_leaves=6,
)
TRACE_OPTIONS = ("attributes", "start_time", "end_time", "duration_ms", "status")
PROPERTY_SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def _check_result(result: FlextResult[Any], cls: type[Any], args: dict[str, Any]) -> None:
    """A factory result agrees with direct construction on the same arguments."""
    assert isinstance(result, FlextResult)
    if result.is_success:
        entity: Any = result.value
        assert isinstance(entity, cls)
        json.dumps(entity.to_dict(), allow_nan=False)
        return
    assert result.error_code in CODES
    assert isinstance(result.error, str)
    result.error.encode("utf-8")
    if result.error_code != "INVALID_INPUT":
        with pytest.raises(EntityValidationError) as raised:
            cls(**args)
        assert str(raised.value) == result.error


@PROPERTY_SETTINGS
@given(
    st.fixed_dictionaries(
        {"name": hostile, "value": hostile, "unit": hostile},
        optional={"tags": hostile, "metric_type": hostile},
    )
)
def test_metric_factory_never_raises(args: dict[str, Any]) -> None:
    """flext_create_metric returns a FlextResult for anything it is given."""
    _check_result(flext_create_metric(**args), FlextMetric, args)


@PROPERTY_SETTINGS
@given(
    st.fixed_dictionaries(
        {"operation": hostile},
        optional=dict.fromkeys(TRACE_OPTIONS, hostile)
        | {
            key: hostile | st.just(TRACE_ID) | st.just(SPAN_ID)
            for key in ("trace_id", "parent_span_id")
        },
    )
)
def test_trace_factory_never_raises(args: dict[str, Any]) -> None:
    """flext_create_trace returns a FlextResult for anything it is given."""
    _check_result(flext_create_trace(**args), FlextTrace, args)


@PROPERTY_SETTINGS
@given(
    st.fixed_dictionaries(
        {"title": hostile, "message": hostile},
        optional={"severity": hostile, "status": hostile, "tags": hostile},
    )
)
def test_alert_factory_never_raises(args: dict[str, Any]) -> None:
    """flext_create_alert returns a FlextResult for anything it is given."""
    _check_result(flext_create_alert(**args), FlextAlert, args)


@PROPERTY_SETTINGS
@given(
    st.fixed_dictionaries(
        {"component": hostile}, optional={"status": hostile, "message": hostile, "details": hostile}
    )
)
def test_health_check_factory_never_raises(args: dict[str, Any]) -> None:
    """flext_create_health_check returns a FlextResult for anything it is given."""
    _check_result(flext_create_health_check(**args), FlextHealthCheck, args)


@PROPERTY_SETTINGS
@given(st.fixed_dictionaries({"message": hostile}, optional={"level": hostile, "context": hostile}))
def test_log_entry_factory_never_raises(args: dict[str, Any]) -> None:
    """flext_create_log_entry returns a FlextResult for anything it is given."""
    _check_result(flext_create_log_entry(**args), FlextLogEntry, args)


valid_text = st.text(max_size=200)
valid_identifier = st.text(min_size=1, max_size=60).filter(str.strip)
valid_scalar = st.one_of(
    valid_text,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
valid_attribute = st.one_of(
    valid_scalar,
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(st.integers(min_value=0, max_value=2**40), max_size=4).map(tuple),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
    st.lists(st.booleans(), max_size=4),
)
valid_attributes = st.dictionaries(st.text(min_size=1, max_size=20), valid_attribute, max_size=5)
metric_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}", fullmatch=True)


def _as_stored(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in attributes.items()}


@settings(max_examples=150)
@given(
    metric_names,
    st.integers(min_value=0, max_value=2**63 - 1) | st.floats(min_value=0, max_value=1e300),
    st.sampled_from(METRIC_TYPES),
    valid_attributes,
)
def test_valid_metric_round_trips(name: str, value: float, kind: str, tags: dict[str, Any]) -> None:
    """Valid metric arguments succeed and come back unchanged, JSON-serialisable."""
    metric = flext_create_metric(name, value, unit="ms", tags=tags, metric_type=kind).unwrap()
    assert (metric.name, metric.value, metric.unit, metric.metric_type) == (name, value, "ms", kind)
    assert dict(metric.tags) == _as_stored(tags)
    data = metric.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data


@settings(max_examples=150)
@given(
    valid_identifier,
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(TRACE_STATUSES),
    valid_attributes,
)
def test_valid_trace_round_trips(
    operation: str, start: datetime, micros: int, status: str, attributes: dict[str, Any]
) -> None:
    """Valid trace arguments succeed; start, end and duration agree exactly."""
    end = start + timedelta(microseconds=micros)
    trace = flext_create_trace(
        operation,
        attributes=attributes,
        start_time=start,
        end_time=end,
        status=status,
        trace_id=TRACE_ID,
    ).unwrap()
    assert (trace.operation, trace.start_time, trace.end_time, trace.status) == (
        operation,
        start,
        end,
        status,
    )
    assert trace.duration_ms == micros / 1000
    assert dict(trace.attributes) == _as_stored(attributes)
    assert json.loads(json.dumps(trace.to_dict())) == trace.to_dict()


@settings(max_examples=150)
@given(
    valid_identifier,
    valid_text,
    st.sampled_from(SEVERITIES),
    st.sampled_from(ALERT_STATUSES),
    valid_attributes,
)
def test_valid_alert_round_trips(
    title: str, message: str, severity: str, status: str, tags: dict[str, Any]
) -> None:
    """Valid alert arguments succeed and come back unchanged."""
    alert = flext_create_alert(title, message, severity, status=status, tags=tags).unwrap()
    assert (alert.title, alert.message, alert.severity, alert.status) == (
        title,
        message,
        severity,
        status,
    )
    assert dict(alert.tags) == _as_stored(tags)
    assert json.loads(json.dumps(alert.to_dict())) == alert.to_dict()


@settings(max_examples=150)
@given(valid_identifier, st.sampled_from(HEALTH_STATUSES), valid_text, valid_attributes)
def test_valid_health_check_round_trips(
    component: str, status: str, message: str, details: dict[str, Any]
) -> None:
    """Valid health-check arguments succeed and come back unchanged."""
    check = flext_create_health_check(component, status, message=message, details=details)
    value = check.unwrap()
    assert (value.component, value.status, value.message) == (component, status, message)
    assert dict(value.details) == _as_stored(details)
    assert json.loads(json.dumps(value.to_dict())) == value.to_dict()


@settings(max_examples=150)
@given(valid_text, st.sampled_from(LEVELS), valid_attributes)
def test_valid_log_entry_round_trips(message: str, level: str, context: dict[str, Any]) -> None:
    """Valid log arguments succeed and come back unchanged."""
    entry = flext_create_log_entry(message, level, context=context).unwrap()
    assert (entry.message, entry.level) == (message, level)
    assert dict(entry.context) == _as_stored(context)
    assert json.loads(json.dumps(entry.to_dict())) == entry.to_dict()


# -- metric type inference --------------------------------------------------
@pytest.mark.parametrize(
    ("name", "unit", "expected"),
    [
        pytest.param("orders_total", "", "counter", id="total-suffix"),
        pytest.param("retries_count", "", "counter", id="count-suffix"),
        pytest.param("ORDERS_TOTAL", "", "counter", id="suffix-any-case"),
        pytest.param("requests.count", "", "counter", id="dot-count"),
        pytest.param("jobs", "1", "counter", id="unit-one"),
        pytest.param("jobs", "{count}", "counter", id="unit-count-annotation"),
        pytest.param("latency_seconds", "s", "histogram", id="seconds-suffix"),
        pytest.param("db_duration", "ms", "histogram", id="duration-suffix"),
        pytest.param("cpu_time", "", "histogram", id="time-suffix"),
        pytest.param("http.server.request.duration", "s", "histogram", id="dot-duration"),
        pytest.param("latency_seconds_total", "", "counter", id="seconds-total-is-counter"),
        pytest.param("queue_depth", "", "gauge", id="no-hint"),
        pytest.param("temperature", "Cel", "gauge", id="other-unit"),
        pytest.param("total_orders", "", "gauge", id="prefix-is-no-hint"),
    ],
)
def test_metric_type_is_inferred_from_name_and_unit(name: str, unit: str, expected: str) -> None:
    """Name suffixes and count units decide the metric type when none is given."""
    assert infer_metric_type(name, unit) == expected
    assert flext_create_metric(name, 1, unit=unit).unwrap().metric_type == expected


def test_explicit_metric_type_wins_over_inference() -> None:
    """A given metric_type is kept even when the name suggests another, and allows negatives."""
    metric = flext_create_metric("orders_total", -2, metric_type="UP_DOWN_COUNTER").unwrap()
    assert metric.metric_type == "up_down_counter"
    assert metric.value == -2
    assert FlextMetric("x", 1.5, metric_type="").metric_type == "gauge"


def test_metric_values_are_stored_as_plain_numbers() -> None:
    """Int and float subclasses (IntEnum) are stored as plain int and float."""

    class Code(enum.IntEnum):
        TEAPOT = 418

    metric = flext_create_metric("status_code", Code.TEAPOT, tags={"code": Code.TEAPOT}).unwrap()
    assert type(metric.value) is int
    assert type(metric.tags["code"]) is int
    assert flext_create_metric("m", 2**63 - 1).unwrap().value == 2**63 - 1
    assert flext_create_metric("m", -(2**63), metric_type="gauge").unwrap().value == -(2**63)


# -- immutability ------------------------------------------------------------
ENTITIES = [
    pytest.param(lambda: FlextMetric("m", 1, tags={"a": 1}), "tags", id="metric"),
    pytest.param(lambda: FlextTrace("op", attributes={"a": 1}), "attributes", id="trace"),
    pytest.param(lambda: FlextAlert("t", "m", tags={"a": 1}), "tags", id="alert"),
    pytest.param(lambda: FlextHealthCheck("c", details={"a": 1}), "details", id="health"),
    pytest.param(lambda: FlextLogEntry("m", context={"a": 1}), "context", id="log"),
]


@pytest.mark.parametrize(("make", "mapping_field"), ENTITIES)
def test_entities_are_frozen_slotted_and_hashable(
    make: Callable[[], Any], mapping_field: str
) -> None:
    """Fields cannot be reassigned, mappings are read-only, there is no __dict__."""
    entity = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entity.id = "other"
    with pytest.raises(TypeError):
        getattr(entity, mapping_field)["b"] = 2
    assert not hasattr(entity, "__dict__")
    assert isinstance(hash(entity), int)
    assert len(entity.id) == 32
    assert entity.created_at.tzinfo is UTC


def test_mappings_are_copied_on_construction() -> None:
    """Mutating the caller's dict or list afterwards does not change the entity."""
    tags: dict[str, Any] = {"region": "eu", "ports": [80]}
    metric = FlextMetric("m", 1, tags=tags)
    tags["region"] = "us"
    tags["ports"].append(443)
    assert dict(metric.tags) == {"region": "eu", "ports": (80,)}


def test_replace_revalidates() -> None:
    """dataclasses.replace builds a new validated entity (used to attach SDK ids)."""
    trace = FlextTrace("op", duration_ms=3.0)
    linked = dataclasses.replace(trace, trace_id=TRACE_ID.upper(), span_id=SPAN_ID)
    assert (linked.trace_id, linked.span_id, linked.id) == (TRACE_ID, SPAN_ID, trace.id)
    assert linked.duration_ms == 3.0
    with pytest.raises(EntityValidationError):
        dataclasses.replace(FlextAlert("t", "m"), severity="huge")


# -- truncation --------------------------------------------------------------
def test_truncate_text_marks_how_much_was_cut() -> None:
    """Text over the limit keeps its prefix and ends with a marker counting dropped chars."""
    cut = truncate_text("a" * 10_000)
    assert len(cut) <= MAX_TEXT_LENGTH
    kept = cut.index("...[truncated")
    assert cut == "a" * kept + f"...[truncated {10_000 - kept} chars]"
    assert truncate_text("a" * MAX_TEXT_LENGTH) == "a" * MAX_TEXT_LENGTH


@pytest.mark.parametrize(
    ("build", "read"),
    [
        pytest.param(lambda: flext_create_log_entry(HUGE), lambda e: e.message, id="log-message"),
        pytest.param(
            lambda: flext_create_alert("t", HUGE), lambda e: e.message, id="alert-message"
        ),
        pytest.param(
            lambda: flext_create_health_check("c", message=HUGE), lambda e: e.message, id="health"
        ),
        pytest.param(
            lambda: flext_create_metric("m", 1, tags={"a": HUGE}), lambda e: e.tags["a"], id="tag"
        ),
        pytest.param(
            lambda: flext_create_log_entry("m", context={"a": [HUGE]}),
            lambda e: e.context["a"][0],
            id="context-list-element",
        ),
    ],
)
def test_free_text_is_truncated_not_rejected(
    build: Callable[[], FlextResult[Any]], read: Callable[[Any], str]
) -> None:
    """A 10 MB message or string attribute succeeds, cut to MAX_TEXT_LENGTH and marked."""
    text = read(build().unwrap())
    assert len(text) <= MAX_TEXT_LENGTH
    assert text.startswith("xxxx")
    assert text.endswith(" chars]")
    dropped = int(text.rsplit("truncated ", 1)[1].split(" ")[0])
    assert text.index("...[truncated") + dropped == len(HUGE)


# -- times, ids, levels ------------------------------------------------------
def test_trace_times_complete_each_other() -> None:
    """Any two of start, end and duration give the third; defaults end at created_at."""
    both = FlextTrace("op", start_time=T0, end_time=T0 + timedelta(milliseconds=250))
    assert both.duration_ms == 250.0
    start_and_duration = FlextTrace("op", start_time=T0, duration_ms=1500)
    assert start_and_duration.end_time == T0 + timedelta(seconds=1.5)
    end_and_duration = FlextTrace("op", end_time=T0, duration_ms=10.0)
    assert end_and_duration.start_time == T0 - timedelta(milliseconds=10)
    only_duration = FlextTrace("op", duration_ms=2.0, created_at=T0)
    assert (only_duration.start_time, only_duration.end_time) == (
        T0 - timedelta(milliseconds=2),
        T0,
    )
    nothing = FlextTrace("op", created_at=T0)
    assert (nothing.start_time, nothing.end_time, nothing.duration_ms) == (T0, T0, 0.0)
    only_start = FlextTrace("op", start_time=T0 - timedelta(seconds=1), created_at=T0)
    assert only_start.end_time == T0
    assert only_start.duration_ms == 1000.0
    agreeing = FlextTrace(
        "op", start_time=T0, end_time=T0 + timedelta(seconds=1), duration_ms=1000.4
    )
    assert agreeing.duration_ms == 1000.4


def test_aware_times_are_converted_to_utc() -> None:
    """A non-UTC aware datetime is stored as the same instant in UTC."""
    plus_two = timezone(timedelta(hours=2))
    entry = FlextLogEntry("m", timestamp=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two))
    assert entry.timestamp == T0
    assert entry.timestamp.tzinfo is UTC
    trace = FlextTrace("op", start_time=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two))
    assert trace.start_time.utcoffset() == timedelta(0)


def test_naive_times_are_rejected_everywhere() -> None:
    """Naive datetimes fail with INVALID_TIME, for log timestamps and created_at too."""
    with pytest.raises(EntityValidationError, match="timezone-aware") as raised:
        FlextLogEntry("m", timestamp=datetime(2024, 1, 1))
    assert raised.value.error_code == "INVALID_TIME"
    with pytest.raises(EntityValidationError, match="created_at"):
        FlextMetric("m", 1, created_at=datetime(2024, 1, 1))


def test_trace_ids_are_normalised_to_lowercase() -> None:
    """Upper-case hex IDs are accepted and stored lower-case."""
    trace = FlextTrace(
        "op", trace_id=TRACE_ID.upper(), span_id=SPAN_ID.upper(), parent_span_id="ABCDEF0123456789"
    )
    assert (trace.trace_id, trace.span_id, trace.parent_span_id) == (
        TRACE_ID,
        SPAN_ID,
        "abcdef0123456789",
    )


@pytest.mark.parametrize(
    ("given_level", "stored"),
    [("warn", "warning"), ("WARNING", "warning"), ("Fatal", "critical"), ("trace", "trace")],
)
def test_log_levels_ignore_case_and_accept_aliases(given_level: str, stored: str) -> None:
    """Levels match case-insensitively; warn and fatal are aliases."""
    assert flext_create_log_entry("m", given_level).unwrap().level == stored


def test_closed_sets_and_health_values() -> None:
    """The documented closed sets and the health gauge values are exposed as constants."""
    assert LEVELS == ("trace", "debug", "info", "warning", "error", "critical")
    assert SEVERITIES == ("low", "medium", "high", "critical", "emergency")
    assert set(TRACE_STATUSES) == {"ok", "error", "unset"}
    assert METRIC_TYPES == ("counter", "up_down_counter", "histogram", "gauge")
    assert dict(HEALTH_STATUS_VALUE) == {
        "healthy": 1.0,
        "degraded": 0.5,
        "unhealthy": 0.0,
        "unknown": -1.0,
    }


def test_validate_attributes_returns_clean_copy() -> None:
    """validate_attributes copies, turns lists into tuples and keeps bools as bools."""
    source = {"flag": True, "ids": [1, 2], "name": "x", "ratio": 0.5}
    clean = validate_attributes(source, field="context")
    assert clean == {"flag": True, "ids": (1, 2), "name": "x", "ratio": 0.5}
    assert clean is not source
    assert validate_attributes(None) == {}
    with pytest.raises(EntityValidationError, match=r"^context\['k'\]\[1\] must"):
        validate_attributes({"k": [1, None]}, field="context")


@pytest.mark.parametrize(("make", "mapping_field"), ENTITIES)
def test_to_dict_is_json_serialisable(make: Callable[[], Any], mapping_field: str) -> None:
    """to_dict holds every field, ISO times and lists, and survives strict JSON."""
    entity = make()
    data = entity.to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(entity)}
    assert data["created_at"] == entity.created_at.isoformat()
    assert data[mapping_field] == {"a": 1}
    assert json.loads(json.dumps(data, allow_nan=False)) == data
