"""The logging bridges on awkward values: extras of every shape, odd levels, preset exc_text."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry._logs import SeverityNumber

import flext_otel
from flext_otel.testing import Captured, capture


class BadRepr:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.fixture
def cap() -> Iterator[Captured]:
    """A private pipeline."""
    with capture() as captured:
        yield captured


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger with only a FlextLoggingHandler (following the current pipeline)."""
    log = logging.getLogger("test.logbridge.values")
    log.setLevel(1)
    log.propagate = False
    handler = flext_otel.FlextLoggingHandler(level=1)
    log.addHandler(handler)
    try:
        yield log
    finally:
        log.removeHandler(handler)


def test_extras_become_attribute_values_of_every_shape(
    cap: Captured, logger: logging.Logger
) -> None:
    """Homogeneous lists stay tuples; big ints, mixed lists and objects become repr text."""
    logger.info(
        "shapes",
        extra={
            "empty": [],
            "flags": [True, False],
            "counts": (1, 2),
            "ratios": [0.5, 1.5],
            "names": ["a", "b\ud800"],
            "mixed": [1, "a"],
            "huge": 2**70,
            "obj": BadRepr(),
            "text": "lone \udc80 surrogate",
        },
    )
    attributes = cap.logs()[-1].attributes
    assert attributes["empty"] == ()
    assert attributes["flags"] == (True, False)
    assert attributes["counts"] == (1, 2)
    assert attributes["ratios"] == (0.5, 1.5)
    assert attributes["names"][0] == "a"
    assert attributes["names"][1].encode("utf-8")  # the surrogate is escaped, not lost
    assert attributes["mixed"] == "[1, 'a']"
    assert attributes["huge"] == str(2**70)
    assert attributes["obj"] == "<unrepresentable BadRepr>"
    assert "\\udc80" in attributes["text"]


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        (3, SeverityNumber.TRACE),
        (logging.DEBUG, SeverityNumber.DEBUG),
        (logging.INFO + 2, SeverityNumber.INFO3),
        (logging.WARNING, SeverityNumber.WARN),
        (logging.CRITICAL + 20, SeverityNumber.FATAL4),
    ],
)
def test_custom_levels_map_onto_the_severity_range(
    cap: Captured, logger: logging.Logger, level: int, severity: SeverityNumber
) -> None:
    """Any numeric level (custom ones included) maps to a severity within its band."""
    logger.log(level, "custom level")
    assert cap.logs()[-1].severity_number == severity.value


def test_level_zero_is_unspecified(cap: Captured) -> None:
    """A record at level 0 (NOTSET) handed to the handler has no severity."""
    record = logging.LogRecord("zero", 0, __file__, 1, "level zero", None, None)
    flext_otel.FlextLoggingHandler().handle(record)
    assert cap.logs()[-1].severity_number == SeverityNumber.UNSPECIFIED.value


def test_thread_and_process_fields_can_be_absent(cap: Captured, logger: logging.Logger) -> None:
    """With logging.logThreads off, no thread attributes are invented."""
    previous = logging.logThreads
    logging.logThreads = False
    try:
        logger.warning("no thread info")
    finally:
        logging.logThreads = previous
    attributes = cap.logs()[-1].attributes
    assert "thread.id" not in attributes
    assert "thread.name" not in attributes
    assert attributes["logger.name"] == "test.logbridge.values"


def format_record(**fields: object) -> dict[str, object]:
    """A JsonFormatter line for a record with ``fields`` set, parsed."""
    record = logging.LogRecord("json.test", logging.ERROR, __file__, 1, "msg %s", ("x",), None)
    for key, value in fields.items():
        setattr(record, key, value)
    parsed: dict[str, object] = json.loads(flext_otel.JsonFormatter().format(record))
    return parsed


def test_json_formatter_keeps_a_preset_exception_text_and_stack() -> None:
    """exc_text set by an earlier formatter and stack_info appear as such."""
    line = format_record(exc_text="Traceback: earlier", stack_info="Stack (most recent)")
    assert line["exception"] == "Traceback: earlier"
    assert str(line["stack_info"]).startswith("Stack")
    assert line["message"] == "msg x"


def test_json_formatter_renders_dates_and_odd_values() -> None:
    """Dates become ISO 8601, NaN and unrepresentable objects become text, keys collide safely."""
    line = format_record(
        when=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        day=dt.date(2026, 1, 2),
        nan=float("nan"),
        obj=BadRepr(),
        level="shadowed",
    )
    assert line["when"] == "2026-01-02T03:04:05+00:00"
    assert line["day"] == "2026-01-02"
    assert line["nan"] == "nan"
    assert line["obj"] == "<unrepresentable BadRepr>"
    assert line["level"] == "ERROR"
    assert line["extra.level"] == "shadowed"
