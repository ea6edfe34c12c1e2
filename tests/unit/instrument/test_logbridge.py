"""Logging bridges: FlextLoggingHandler, JsonFormatter, structlog_processor, installation."""

from __future__ import annotations

import ast
import io
import json
import logging
import sys
import threading
import types
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, SeverityNumber
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.util.types import Attributes

import flext_otel.instrument.logbridge as logs_module
from flext_otel.instrument.logbridge import (
    FlextLoggingHandler,
    JsonFormatter,
    install_logging_handler,
    otel_severity,
    structlog_processor,
    uninstall_logging_handler,
)
from flext_otel.pipeline import state as providers
from flext_otel.pipeline.correlation import correlation_scope
from flext_otel.support.keys import CORRELATION_ATTRIBUTE


@dataclass
class Pipeline:
    """Private providers and a private stdlib logger wired to a FlextLoggingHandler."""

    tracer: trace.Tracer
    provider: SdkLoggerProvider
    exporter: InMemoryLogRecordExporter
    handler: FlextLoggingHandler
    logger: logging.Logger

    def records(self) -> list[Any]:
        return [r.log_record for r in self.exporter.get_finished_logs()]

    def attributes(self, index: int = -1) -> dict[str, Any]:
        return dict(self.records()[index].attributes or {})


def _private_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(f"flext.test.logs.{name}.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def _log_provider() -> tuple[SdkLoggerProvider, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # SDK lacks hints
    provider = SdkLoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider, exporter


@pytest.fixture
def pipeline(request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    provider, exporter = _log_provider()
    handler = FlextLoggingHandler(logger_provider=provider)
    logger = _private_logger(request.node.name)
    logger.addHandler(handler)
    yield Pipeline(tracer_provider.get_tracer("test"), provider, exporter, handler, logger)
    logger.removeHandler(handler)
    provider.shutdown()
    tracer_provider.shutdown()


class ListHandler(logging.Handler):
    """Collects records, to see what other handlers receive."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# -- FlextLoggingHandler -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "number", "text"),
    [
        (logging.DEBUG, SeverityNumber.DEBUG, "DEBUG"),
        (logging.INFO, SeverityNumber.INFO, "INFO"),
        (logging.WARNING, SeverityNumber.WARN, "WARNING"),
        (logging.ERROR, SeverityNumber.ERROR, "ERROR"),
        (logging.CRITICAL, SeverityNumber.FATAL, "CRITICAL"),
    ],
)
def test_handler_maps_severity(
    pipeline: Pipeline, level: int, number: SeverityNumber, text: str
) -> None:
    """Each stdlib level becomes the matching OTel severity number and text."""
    pipeline.logger.log(level, "message")
    (record,) = pipeline.records()
    assert record.severity_number == number
    assert record.severity_text == text


@pytest.mark.parametrize(
    ("levelno", "expected"),
    [
        (0, SeverityNumber.UNSPECIFIED),
        (5, SeverityNumber.TRACE),
        (11, SeverityNumber.DEBUG2),
        (21, SeverityNumber.INFO2),
        (29, SeverityNumber.INFO4),
        (45, SeverityNumber.ERROR4),
        (60, SeverityNumber.FATAL4),
    ],
)
def test_custom_levels_map_within_their_band(levelno: int, expected: SeverityNumber) -> None:
    """Levels between the standard ones map to the next numbers of their band."""
    assert otel_severity(levelno) == expected


def test_handler_body_is_the_formatted_message(pipeline: Pipeline) -> None:
    """The body is the %-formatted message, or the formatter's output when one is set."""
    pipeline.logger.info("order %s charged %d times", "A-1", 2)
    pipeline.handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    pipeline.logger.warning("low stock")
    first, second = pipeline.records()
    assert first.body == "order A-1 charged 2 times"
    assert second.body == "[WARNING] low stock"


def test_handler_survives_broken_format_arguments(pipeline: Pipeline) -> None:
    """A message whose %-arguments do not fit is still emitted, with template and args."""
    record = logging.makeLogRecord(
        {"msg": "needs two %s %s", "args": ("one",), "levelno": logging.INFO, "levelname": "INFO"}
    )
    pipeline.handler.handle(record)
    (record,) = pipeline.records()
    assert record.body == "'needs two %s %s' % ('one',)"
    assert pipeline.handler.emit_failures == 0


def test_handler_emits_a_bare_record(pipeline: Pipeline) -> None:
    """A record built by makeLogRecord without level or name is still emitted."""
    pipeline.handler.handle(logging.makeLogRecord({"msg": "bare"}))
    (record,) = pipeline.records()
    assert record.body == "bare"
    assert record.severity_number == SeverityNumber.UNSPECIFIED
    assert pipeline.handler.emit_failures == 0


def test_handler_uses_the_record_creation_time(pipeline: Pipeline) -> None:
    """The OTel timestamp is the stdlib record's creation time in nanoseconds."""
    record = pipeline.logger.makeRecord(
        pipeline.logger.name, logging.INFO, __file__, 1, "timed", (), None
    )
    record.created = 1_700_000_000.25
    pipeline.handler.handle(record)
    (emitted,) = pipeline.records()
    assert emitted.timestamp == 1_700_000_000_250_000_000
    assert emitted.observed_timestamp >= emitted.timestamp


def test_handler_carries_the_active_span_ids(pipeline: Pipeline) -> None:
    """Trace and span IDs of the record match the span active when logging."""
    with pipeline.tracer.start_as_current_span("work") as span:
        pipeline.logger.info("inside")
    pipeline.logger.info("outside")
    inside, outside = pipeline.records()
    assert inside.trace_id == span.get_span_context().trace_id
    assert inside.span_id == span.get_span_context().span_id
    assert outside.trace_id == 0
    assert outside.span_id == 0


def test_handler_adds_correlation_id_only_when_set(pipeline: Pipeline) -> None:
    """flext.correlation_id is present inside a scope and absent outside."""
    with correlation_scope("req-42"):
        pipeline.logger.info("inside")
    pipeline.logger.info("outside")
    assert pipeline.attributes(0)[CORRELATION_ATTRIBUTE] == "req-42"
    assert CORRELATION_ATTRIBUTE not in pipeline.attributes(1)


def test_handler_adds_code_and_logger_attributes(pipeline: Pipeline) -> None:
    """code.file.path, code.function.name, code.line.number and logger.name are set."""
    line = sys._getframe().f_lineno + 1
    pipeline.logger.info("where am I")
    attributes = pipeline.attributes()
    assert attributes["code.file.path"] == __file__
    assert attributes["code.function.name"] == "test_handler_adds_code_and_logger_attributes"
    assert attributes["code.line.number"] == line
    assert attributes["logger.name"] == pipeline.logger.name
    assert attributes["thread.name"] == threading.current_thread().name
    assert pipeline.records()[0].body == "where am I"


class PaymentDeclinedError(Exception):
    """A non-builtin exception, to check the qualified type name."""


def test_handler_records_exception_info(pipeline: Pipeline) -> None:
    """exception.type, exception.message and exception.stacktrace describe exc_info."""
    try:
        raise PaymentDeclinedError("card expired")
    except PaymentDeclinedError:
        pipeline.logger.exception("charge failed")
    try:
        raise ValueError("bad amount")
    except ValueError:
        pipeline.logger.error("plain", exc_info=True)
    custom, builtin = pipeline.attributes(0), pipeline.attributes(1)
    assert custom["exception.type"] == f"{__name__}.PaymentDeclinedError"
    assert custom["exception.message"] == "card expired"
    assert 'raise PaymentDeclinedError("card expired")' in custom["exception.stacktrace"]
    assert builtin["exception.type"] == "ValueError"
    assert builtin["exception.message"] == "bad amount"
    assert pipeline.records()[0].body == "charge failed"


def test_handler_records_stack_info(pipeline: Pipeline) -> None:
    """stack_info=True lands in code.stacktrace."""
    pipeline.logger.info("with stack", stack_info=True)
    assert "test_handler_records_stack_info" in pipeline.attributes()["code.stacktrace"]


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque 7>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_handler_keeps_extras_and_renders_the_rest_with_repr(pipeline: Pipeline) -> None:
    """Extras become attributes; values OTel cannot hold are rendered with repr."""
    pipeline.logger.info(
        "extras",
        extra={
            "order": 42,
            "ratio": 0.5,
            "paid": True,
            "sku": "A-1",
            "ids": [1, 2, 3],
            "tags": ("a", "b"),
            "opaque": Opaque(),
            "mapping": {"k": 1},
            "mixed": [1, "a"],
            "huge": 2**70,
            "nothing": None,
            "broken": BrokenRepr(),
        },
    )
    attributes = pipeline.attributes()
    assert attributes["order"] == 42
    assert attributes["ratio"] == 0.5
    assert attributes["paid"] is True
    assert attributes["sku"] == "A-1"
    assert tuple(attributes["ids"]) == (1, 2, 3)
    assert tuple(attributes["tags"]) == ("a", "b")
    assert attributes["opaque"] == "<Opaque 7>"
    assert attributes["mapping"] == "{'k': 1}"
    assert attributes["mixed"] == "[1, 'a']"
    assert attributes["huge"] == str(2**70)
    assert attributes["nothing"] == "None"
    assert attributes["broken"] == "<unrepresentable BrokenRepr>"
    assert pipeline.handler.emit_failures == 0


def test_handler_makes_lone_surrogates_encodable(pipeline: Pipeline) -> None:
    """Lone surrogates in body and extras are escaped so exporters can encode them."""
    pipeline.logger.info("bad \ud800 text", extra={"field": "x\udfffy"})
    (record,) = pipeline.records()
    assert record.body == "bad \\ud800 text"
    assert pipeline.attributes()["field"] == "x\\udfffy"
    record.body.encode("utf-8")


class LogInsideEmit(LogRecordProcessor):
    """A processor that logs while the handler is emitting, like a chatty SDK part."""

    def __init__(self, same_thread: Sequence[logging.Logger], other_thread: logging.Logger) -> None:
        self.same_thread = same_thread
        self.other_thread = other_thread
        self.calls = 0

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.calls += 1
        for logger in self.same_thread:
            logger.warning("logged inside emit")
        worker = threading.Thread(target=self.other_thread.warning, args=("from a thread",))
        worker.start()
        worker.join()

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_handler_does_not_recurse_when_the_sdk_logs_inside_emit(
    pipeline: Pipeline,
) -> None:
    """Records logged during emit (same thread, or opentelemetry.* anywhere) are not re-emitted."""
    sdk_logger = logging.getLogger(f"opentelemetry.sdk.test.{uuid.uuid4().hex[:8]}")
    app_logger = _private_logger("inner-app")
    other_thread_logger = logging.getLogger(f"opentelemetry.exporter.test.{uuid.uuid4().hex[:8]}")
    seen = ListHandler()
    for logger in (sdk_logger, app_logger, other_thread_logger):
        logger.propagate = False
        logger.addHandler(pipeline.handler)
        logger.addHandler(seen)
    chatty = LogInsideEmit([sdk_logger, app_logger], other_thread_logger)
    pipeline.provider.add_log_record_processor(chatty)
    try:
        pipeline.logger.info("outer")
    finally:
        for logger in (sdk_logger, app_logger, other_thread_logger):
            logger.removeHandler(pipeline.handler)
    assert [r.body for r in pipeline.records()] == ["outer"]
    assert chatty.calls == 1
    assert len(seen.records) == 3  # the other handler still received them
    assert pipeline.handler.emit_failures == 0


def test_handler_skips_records_while_instrumentation_is_suppressed(pipeline: Pipeline) -> None:
    """Records logged during an OTel export (instrumentation suppressed) are skipped."""
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        pipeline.logger.warning("during export")
    finally:
        otel_context.detach(token)
    pipeline.logger.warning("after export")
    assert [r.body for r in pipeline.records()] == ["after export"]


class FailingProvider(LoggerProvider):
    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Logger:
        raise RuntimeError("provider is broken")


def test_handler_never_raises_and_reports_failure_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing pipeline is counted and reported once; logging calls never raise."""
    handler = FlextLoggingHandler(logger_provider=FailingProvider())
    logger = _private_logger("failing")
    logger.addHandler(handler)
    caplog.set_level(logging.WARNING, logger="flext_otel.instrument.logbridge")
    try:
        logger.error("first")
        logger.error("second")
        handler.emit(logging.makeLogRecord({"msg": "direct"}))  # bare record: no level, no name
    finally:
        logger.removeHandler(handler)
    assert handler.emit_failures == 3
    reports = [r for r in caplog.records if r.name == "flext_otel.instrument.logbridge"]
    assert len(reports) == 1
    assert "could not emit" in reports[0].getMessage()


class CountingProvider(LoggerProvider):
    """Delegates to an SDK provider and counts get_logger calls."""

    def __init__(self, inner: SdkLoggerProvider) -> None:
        self.inner = inner
        self.calls = 0

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Logger:
        self.calls += 1
        return self.inner.get_logger(name, version, schema_url, attributes)


def test_handler_caches_the_otel_logger_per_name() -> None:
    """Repeated records from one logger ask the provider for an OTel logger once."""
    inner, exporter = _log_provider()
    counting = CountingProvider(inner)
    handler = FlextLoggingHandler(logger_provider=counting)
    first, second = _private_logger("cache-a"), _private_logger("cache-b")
    for logger in (first, second):
        logger.addHandler(handler)
    try:
        for _ in range(5):
            first.info("a")
            second.info("b")
    finally:
        for logger in (first, second):
            logger.removeHandler(handler)
    assert counting.calls == 2
    assert len(exporter.get_finished_logs()) == 10
    scopes = {
        r.instrumentation_scope.name if r.instrumentation_scope else None
        for r in exporter.get_finished_logs()
    }
    assert scopes == {first.name, second.name}


def test_handler_follows_the_active_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a fixed provider, each record goes to the currently active pipeline."""
    provider_a, exporter_a = _log_provider()
    provider_b, exporter_b = _log_provider()
    active: list[object] = [types.SimpleNamespace(logger_provider=provider_a)]
    monkeypatch.setattr(providers, "current", lambda: active[0])
    handler = FlextLoggingHandler()
    logger = _private_logger("follow")
    logger.addHandler(handler)
    try:
        logger.info("to a")
        active[0] = types.SimpleNamespace(logger_provider=provider_b)
        logger.info("to b")
    finally:
        logger.removeHandler(handler)
    assert [r.log_record.body for r in exporter_a.get_finished_logs()] == ["to a"]
    assert [r.log_record.body for r in exporter_b.get_finished_logs()] == ["to b"]
    assert handler.emit_failures == 0


# -- installation ---------------------------------------------------------------------------------
def test_install_does_not_duplicate_on_repeated_calls() -> None:
    """Installing twice keeps one handler, updated in place; uninstall removes it."""
    logger = _private_logger("install")
    provider, _ = _log_provider()
    first = install_logging_handler(logging.INFO, logger)
    second = install_logging_handler(logging.WARNING, logger.name, logger_provider=provider)
    try:
        assert first is second
        assert [h for h in logger.handlers if isinstance(h, FlextLoggingHandler)] == [first]
        assert first.level == logging.WARNING
        assert first.logger_provider is provider
    finally:
        assert uninstall_logging_handler(logger) == 1
    assert logger.handlers == []
    assert uninstall_logging_handler(logger) == 0


def test_install_defaults_to_the_root_logger() -> None:
    """Without a logger argument the handler goes on the root logger, once."""
    root = logging.getLogger()
    before = list(root.handlers)
    handler = install_logging_handler()
    try:
        assert install_logging_handler() is handler
        assert root.handlers == [*before, handler]
        assert handler.level == logging.INFO
    finally:
        uninstall_logging_handler()
    assert root.handlers == before


# -- JsonFormatter ---------------------------------------------------------------------------------
@pytest.fixture
def json_lines(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = _private_logger(request.node.name)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_formatter_writes_one_line_per_record(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    """Newlines and control characters in messages and extras never split a line."""
    logger, stream = json_lines
    nasty = "line1\nline2\r\n\x00\x1b[31m\t\u2028\u2029end"
    logger.info(nasty, extra={"note": nasty})
    logger.warning("second")
    text = stream.getvalue()
    assert text.count("\n") == 2
    assert text.isascii()
    first, second = _lines(stream)
    assert first["message"] == nasty
    assert first["note"] == nasty
    assert second["message"] == "second"


def test_json_formatter_fields(json_lines: tuple[logging.Logger, io.StringIO]) -> None:
    """timestamp, level, logger, message and null IDs outside a span and scope."""
    logger, stream = json_lines
    logger.error("hello %s", "world")
    (line,) = _lines(stream)
    assert set(line) == {
        "timestamp",
        "level",
        "logger",
        "message",
        "trace_id",
        "span_id",
        "correlation_id",
    }
    assert line["timestamp"].endswith("Z")
    assert len(line["timestamp"]) == len("2024-01-02T03:04:05.123456Z")
    assert line["level"] == "ERROR"
    assert line["logger"] == logger.name
    assert line["message"] == "hello world"
    assert line["trace_id"] is None
    assert line["span_id"] is None
    assert line["correlation_id"] is None


def test_json_formatter_timestamp_is_utc_iso8601() -> None:
    """The timestamp is the record's creation time in UTC."""
    record = logging.makeLogRecord({"msg": "t", "created": 0.5})
    assert json.loads(JsonFormatter().format(record))["timestamp"] == (
        "1970-01-01T00:00:00.500000Z"
    )


def test_json_formatter_ids_match_span_and_scope(
    pipeline: Pipeline, json_lines: tuple[logging.Logger, io.StringIO]
) -> None:
    """trace_id/span_id are the active span's hex IDs; correlation_id the scope's."""
    logger, stream = json_lines
    with pipeline.tracer.start_as_current_span("work") as span, correlation_scope("req-9"):
        logger.info("inside")
    (line,) = _lines(stream)
    ids = span.get_span_context()
    assert line["trace_id"] == f"{ids.trace_id:032x}"
    assert line["span_id"] == f"{ids.span_id:016x}"
    assert line["correlation_id"] == "req-9"


def test_json_formatter_puts_extras_at_top_level(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    """Extras are top-level keys; colliding ones never overwrite a standard field."""
    logger, stream = json_lines
    logger.info(
        "extras",
        extra={
            "order": {"id": 42, "items": [1, 2]},
            "opaque": Opaque(),
            "nan": float("nan"),
            "level": "spoofed",
            "trace_id": "from-filter",
        },
    )
    (line,) = _lines(stream)
    assert line["order"] == {"id": 42, "items": [1, 2]}
    assert line["opaque"] == "<Opaque 7>"
    assert line["nan"] == "nan"
    assert line["level"] == "INFO"
    assert line["extra.level"] == "spoofed"
    assert line["trace_id"] == "from-filter"  # null standard field filled by the extra


def test_json_formatter_survives_hostile_values(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    """Lone surrogates, cycles, non-string keys and broken reprs still give a line."""
    logger, stream = json_lines
    cycle: list[object] = []
    cycle.append(cycle)
    logger.info(
        "bad \ud800 surrogate",
        extra={"cycle": cycle, "keys": {(1, 2): "tuple key"}, "broken": BrokenRepr()},
    )
    (line,) = _lines(stream)
    assert line["message"] == "bad \ud800 surrogate"
    assert line["cycle"] == "[[...]]"
    assert line["keys"] == "{(1, 2): 'tuple key'}"
    assert line["broken"] == "<unrepresentable BrokenRepr>"


def test_json_formatter_includes_exception(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    """A record with exc_info has an 'exception' key with the traceback."""
    logger, stream = json_lines
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("lookup failed")
    (line,) = _lines(stream)
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert "KeyError: 'missing'" in line["exception"]


# -- structlog ---------------------------------------------------------------------------------
def test_structlog_processor_in_a_real_pipeline(pipeline: Pipeline) -> None:
    """Inside a span and scope the rendered event has trace_id, span_id, correlation_id."""
    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[structlog_processor, structlog.processors.JSONRenderer()],
    )
    with pipeline.tracer.start_as_current_span("work") as span, correlation_scope("req-10"):
        inside = json.loads(log.info("charged", order=42))
    outside = json.loads(log.info("idle"))
    ids = span.get_span_context()
    assert inside == {
        "event": "charged",
        "order": 42,
        "trace_id": f"{ids.trace_id:032x}",
        "span_id": f"{ids.span_id:016x}",
        "correlation_id": "req-10",
    }
    assert outside == {"event": "idle"}


def test_structlog_processor_with_capture_logs(pipeline: Pipeline) -> None:
    """structlog.testing.capture_logs sees the IDs; explicitly bound keys are kept."""
    with (
        structlog.testing.capture_logs(processors=[structlog_processor]) as captured,
        correlation_scope("req-11"),
    ):
        structlog.get_logger().bind(correlation_id="explicit").info("bound")
        with pipeline.tracer.start_as_current_span("work"):
            structlog.get_logger().warning("in span")
    bound, in_span = captured
    assert bound["correlation_id"] == "explicit"
    assert "trace_id" not in bound
    assert in_span["correlation_id"] == "req-11"
    assert len(in_span["trace_id"]) == 32
    assert len(in_span["span_id"]) == 16


def test_logs_module_does_not_import_structlog_at_top_level() -> None:
    """logs.py works without structlog installed: no module-level structlog import."""
    tree = ast.parse(Path(logs_module.__file__).read_text(encoding="utf-8"))
    names = [
        alias.name
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ] + [node.module or "" for node in tree.body if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "structlog"]
