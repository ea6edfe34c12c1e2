"""Bridges from Python logging (stdlib and structlog) to OpenTelemetry.

* :class:`FlextLoggingHandler` turns stdlib :class:`logging.LogRecord` objects
  into real OTel log records (severity, body, trace/span IDs, correlation ID,
  ``code.*`` attributes, exception details and the record's extras).
* :class:`JsonFormatter` writes one JSON object per line with the same IDs, for
  stdout-based log shipping.
* :func:`structlog_processor` adds ``trace_id``, ``span_id`` and
  ``correlation_id`` to structlog event dicts.
* :func:`install_logging_handler` / :func:`uninstall_logging_handler` attach and
  detach the handler without ever duplicating it.

Nothing here imports structlog, installs a handler or touches an OTel global at
import time.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import time
import traceback
from collections.abc import MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from flext_otel.pipeline.correlation import get_correlation_id
from flext_otel.support.keys import CORRELATION_ATTRIBUTE
from flext_otel.support.otel_private import (
    SUPPRESS_INSTRUMENTATION_KEY as _SUPPRESS_INSTRUMENTATION_KEY,
)
from flext_otel.support.otel_private import ApiLoggerProvider as LoggerProvider
from flext_otel.support.otel_private import (
    Logger,
    LogRecord,
    SeverityNumber,
    get_logger_provider,
)

__all__ = [
    "FlextLoggingHandler",
    "JsonFormatter",
    "install_logging_handler",
    "otel_severity",
    "structlog_processor",
    "uninstall_logging_handler",
]

_internal_log = logging.getLogger(__name__)

#: Attributes every stdlib LogRecord has; anything else on a record is an "extra".
_STANDARD_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Threads currently inside FlextLoggingHandler.emit (set operations are atomic).
_EMITTING: set[int] = set()


# -- severity ---------------------------------------------------------------------
_SEVERITY_BANDS = (
    (logging.CRITICAL, SeverityNumber.FATAL),
    (logging.ERROR, SeverityNumber.ERROR),
    (logging.WARNING, SeverityNumber.WARN),
    (logging.INFO, SeverityNumber.INFO),
    (logging.DEBUG, SeverityNumber.DEBUG),
)


def otel_severity(levelno: int) -> SeverityNumber:
    """Map a stdlib level number to an OTel severity number.

    Standard levels map to the base of their band (``INFO`` -> ``INFO``,
    ``WARNING`` -> ``WARN``, ``CRITICAL`` -> ``FATAL``); custom levels above a
    standard one take the next numbers of that band (``INFO + 1`` -> ``INFO2``,
    capped at ``...4``); levels 1-9 are ``TRACE`` and ``NOTSET`` is
    ``UNSPECIFIED``.

    >>> otel_severity(logging.WARNING).name, otel_severity(21).name
    ('WARN', 'INFO2')
    """
    severity = _SEVERITY_OF.get(levelno) if type(levelno) is int else None
    if severity is not None:
        return severity
    for start, base in _SEVERITY_BANDS:
        if levelno >= start:
            severity = SeverityNumber(base.value + min(3, levelno - start))
            break
    else:
        severity = SeverityNumber.TRACE if levelno > 0 else SeverityNumber.UNSPECIFIED
    if type(levelno) is int and len(_SEVERITY_OF) < 256:  # bounded: levels are few
        _SEVERITY_OF[levelno] = severity
    return severity


_SEVERITY_OF: dict[int, SeverityNumber] = {}


# -- value helpers ------------------------------------------------------------------
def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the record
        return f"<unrepresentable {type(value).__qualname__}>"


def _clean_str(text: str) -> str:
    """``text`` made encodable as UTF-8 (lone surrogates become escapes)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _in_int64(value: int) -> bool:
    return _INT64_MIN <= value <= _INT64_MAX


def _attribute_value(value: object) -> AttributeValue:
    """``value`` as an OTel attribute value; anything else is rendered with repr."""
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if _in_int64(value) else repr(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return ()
        if all(isinstance(item, str) for item in value):
            return tuple(_clean_str(item) for item in value)
        if all(isinstance(item, bool) for item in value):
            return tuple(value)
        if all(type(item) is int and _in_int64(item) for item in value):
            return tuple(value)
        if all(isinstance(item, float) for item in value):
            return tuple(value)
    return _clean_str(_safe_repr(value))


def _time_ns(seconds: float) -> int:
    """Epoch seconds as integer nanoseconds, without float rounding of the whole value."""
    whole = int(seconds)
    return whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000)


def _extras(record: logging.LogRecord) -> dict[str, object]:
    """The record's non-standard attributes (``extra=`` and filter-added fields)."""
    fields = vars(record)
    if _STANDARD_RECORD_ATTRS.issuperset(fields):  # the common case, in one C-level pass
        return {}
    return {str(key): value for key, value in fields.items() if key not in _STANDARD_RECORD_ATTRS}


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-args: keep the template and the arguments
        return f"{_safe_repr(record.msg)} % {_safe_repr(record.args)}"


def _exception_type_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    if module == "builtins":
        return exc_type.__qualname__
    return f"{module}.{exc_type.__qualname__}"


def _span_ids() -> tuple[str | None, str | None]:
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, None
    return trace.format_trace_id(span_context.trace_id), trace.format_span_id(span_context.span_id)


def _is_otel_logger(name: str) -> bool:
    return name.startswith("opentelemetry") and (len(name) == 13 or name[13] == ".")


# -- provider resolution --------------------------------------------------------------
_providers_module: Any = None


def _pipeline_logger_provider() -> object:
    """The active flext-otel pipeline's logger provider, or None when there is none."""
    global _providers_module
    try:
        module = _providers_module
        if module is None:
            # Imported here, once: logging bridges must work even when the
            # pipeline module cannot be imported, and providers may import this one.
            from flext_otel.pipeline import state as module

            _providers_module = module
        return module.current().logger_provider
    except Exception:  # no usable pipeline: fall back to plain OTel
        return None


def _configured_logger_provider() -> LoggerProvider:
    """The logger provider of the active flext-otel pipeline, else OTel's global one."""
    provider = _pipeline_logger_provider()
    if isinstance(provider, LoggerProvider):
        return provider
    return get_logger_provider()


# -- the handler ------------------------------------------------------------------------
class FlextLoggingHandler(logging.Handler):
    """A :class:`logging.Handler` that emits each record as an OTel log record.

    The record goes to ``logger_provider.get_logger(record.name)``. Without an
    explicit ``logger_provider`` the provider of the active flext-otel pipeline
    (``flext_otel.providers.current()``) is looked up at emit time, so
    reconfiguration and test capture are followed; when none is active, OTel's
    global provider is used.

    Each OTel record carries: severity number and text mapped from the level,
    the formatted message as body (``getMessage()`` when no formatter is set),
    the record's creation time, the trace and span IDs of the current OTel
    context, and the attributes ``flext.correlation_id`` (when set),
    ``code.file.path``, ``code.function.name``, ``code.line.number``,
    ``logger.name``, ``thread.id``, ``thread.name``, ``code.stacktrace`` (when
    ``stack_info``), ``exception.type``/``exception.message``/
    ``exception.stacktrace`` (when ``exc_info``), and every extra field. Values
    that are not OTel attribute types are rendered with ``repr``.

    Threading and errors: ``emit`` may run concurrently on any thread (the
    handler lock is not taken; the OTel SDK is thread-safe). It never raises:
    a failure is counted in :attr:`emit_failures` and reported once through the
    ``flext_otel.instrument.logbridge`` logger. Records logged while an emit is in progress on
    the same thread (for example by the SDK or an exporter) are not re-emitted;
    neither are ``opentelemetry.*`` records while any emit is in progress, nor
    any record while OTel instrumentation is suppressed (during export).
    """

    def __init__(
        self, level: int = logging.NOTSET, *, logger_provider: LoggerProvider | None = None
    ) -> None:
        super().__init__(level)
        self._logger_provider = logger_provider
        self._loggers: dict[str, Logger] = {}
        self._loggers_of: LoggerProvider | None = None
        self._failures = 0

    @property
    def logger_provider(self) -> LoggerProvider | None:
        """The fixed provider, or None to follow the active pipeline."""
        return self._logger_provider

    @logger_provider.setter
    def logger_provider(self, provider: LoggerProvider | None) -> None:
        self._logger_provider = provider
        self._loggers = {}
        self._loggers_of = None

    @property
    def emit_failures(self) -> int:
        """How many records could not be emitted."""
        return self._failures

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit ``record`` without taking the handler lock."""
        result = self.filter(record)
        if result:
            if isinstance(result, logging.LogRecord):  # Python 3.12+: filters may replace it
                record = result
            self.emit(record)
        return bool(result)

    def emit(self, record: logging.LogRecord) -> None:
        """Send ``record`` to the OTel logger of its name; never raises."""
        thread = threading.get_ident()
        if thread in _EMITTING:
            return
        if _EMITTING and isinstance(record.name, str) and _is_otel_logger(record.name):
            return
        context = otel_context.get_current()
        if context.get(_SUPPRESS_INSTRUMENTATION_KEY):
            return
        _EMITTING.add(thread)
        try:
            name = record.name if isinstance(record.name, str) else "root"
            self._otel_logger(name).emit(self._translate(record, context))
        except Exception:
            self._failed()
        finally:
            _EMITTING.discard(thread)

    def _otel_logger(self, name: str) -> Logger:
        provider = self._logger_provider
        if provider is None:
            found = _pipeline_logger_provider()
            last = self._loggers_of
            if last is not None and found is last:
                provider = last  # the last call's, already checked
            elif isinstance(found, LoggerProvider):
                provider = found
            else:
                provider = get_logger_provider()
        if provider is not self._loggers_of:
            self._loggers = {}
            self._loggers_of = provider
        loggers = self._loggers
        logger = loggers.get(name)
        if logger is None:
            logger = loggers[name] = provider.get_logger(name)
        return logger

    def _translate(
        self, record: logging.LogRecord, context: otel_context.Context | None = None
    ) -> LogRecord:
        body = self.format(record) if self.formatter is not None else _message(record)
        levelno: object = record.levelno
        return LogRecord(
            timestamp=_time_ns(record.created),
            observed_timestamp=time.time_ns(),
            context=otel_context.get_current() if context is None else context,
            severity_number=otel_severity(levelno if isinstance(levelno, int) else 0),
            severity_text=record.levelname,  # the source's own level name, as OTel's handler
            body=_clean_str(body),
            attributes=self._attributes(record),
        )

    @staticmethod
    def _attributes(record: logging.LogRecord) -> dict[str, AttributeValue]:
        attributes = {key: _attribute_value(value) for key, value in _extras(record).items()}
        # ASCII text needs no cleaning: checked inline, _clean_str only for the rest
        if path := record.pathname:
            attributes["code.file.path"] = path if path.isascii() else _clean_str(path)
        if function := record.funcName:
            attributes["code.function.name"] = (
                function if function.isascii() else _clean_str(function)
            )
        if record.lineno:
            attributes["code.line.number"] = record.lineno
        name = str(record.name)
        attributes["logger.name"] = name if name.isascii() else _clean_str(name)
        if record.thread is not None:
            attributes["thread.id"] = record.thread
        if record.threadName:
            thread_name = str(record.threadName)
            attributes["thread.name"] = (
                thread_name if thread_name.isascii() else _clean_str(thread_name)
            )
        cid = get_correlation_id()
        if cid is not None:
            attributes[CORRELATION_ATTRIBUTE] = cid
        if record.stack_info:
            attributes["code.stacktrace"] = _clean_str(record.stack_info)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            attributes["exception.type"] = _exception_type_name(exc_type)
            try:
                attributes["exception.message"] = _clean_str(str(exc))
            except Exception:
                attributes["exception.message"] = _safe_repr(exc)
            stacktrace = record.exc_text or "".join(traceback.format_exception(exc_type, exc, tb))
            attributes["exception.stacktrace"] = _clean_str(stacktrace)
        return attributes

    def _failed(self) -> None:
        self._failures += 1
        if self._failures == 1:
            try:
                _internal_log.warning(
                    "FlextLoggingHandler could not emit a log record; later failures are "
                    "only counted (see emit_failures)",
                    exc_info=True,
                )
            except Exception:  # reporting is best effort
                return


# -- JSON lines ---------------------------------------------------------------------------
def _json_default(value: object) -> object:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    return _safe_repr(value)


def _dumps(value: object) -> str:
    return json.dumps(
        value, ensure_ascii=True, allow_nan=False, default=_json_default, separators=(",", ":")
    )


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line.

    Keys: ``timestamp`` (ISO 8601, UTC, microseconds, ``Z``), ``level``,
    ``logger``, ``message``, ``trace_id`` and ``span_id`` (hex, or null outside
    a span), ``correlation_id`` (or null), ``exception`` (formatted traceback,
    only when present), ``stack_info`` (only when present), then every extra
    field at the top level. An extra whose name collides with one of these keys
    fills it when it is null (e.g. IDs attached by an earlier filter) and is
    otherwise kept as ``"extra.<name>"``.

    Output is ASCII: newlines, control characters and lone surrogates are
    escaped, so a record never spans two lines. Values JSON cannot hold
    (objects, NaN, circular structures) are rendered with ``repr``; dates use
    ISO 8601. The ``fmt`` and ``datefmt`` arguments of :class:`logging.Formatter`
    are not used.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line for ``record`` (without a trailing newline)."""
        trace_id, span_id = _span_ids()
        created = _dt.datetime.fromtimestamp(record.created, tz=_dt.timezone.utc)
        payload: dict[str, object] = {
            "timestamp": created.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
            "trace_id": trace_id,
            "span_id": span_id,
            "correlation_id": get_correlation_id(),
        }
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            payload["exception"] = record.exc_text
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        for key, value in _extras(record).items():
            if key not in payload or payload[key] is None:
                payload[key] = value
            else:
                payload[f"extra.{key}"] = value
        try:
            return _dumps(payload)
        except (TypeError, ValueError, RecursionError):
            # One value JSON cannot hold (NaN, a cycle, non-string dict keys):
            # render just those with repr.
            return _dumps({key: _json_safe(value) for key, value in payload.items()})


def _json_safe(value: object) -> object:
    try:
        _dumps(value)
    except (TypeError, ValueError, RecursionError):
        return _safe_repr(value)
    return value


# -- structlog ------------------------------------------------------------------------------
def structlog_processor(
    logger: object, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor adding ``trace_id``, ``span_id`` and ``correlation_id``.

    Each key is added only when there is a value (inside a valid span, inside a
    correlation scope) and never overwrites a key the event already has. Place
    it before the renderer::

        structlog.configure(processors=[structlog_processor, JSONRenderer()])
    """
    trace_id, span_id = _span_ids()
    if trace_id is not None:
        event_dict.setdefault("trace_id", trace_id)
        event_dict.setdefault("span_id", span_id)
    cid = get_correlation_id()
    if cid is not None:
        event_dict.setdefault("correlation_id", cid)
    return event_dict


# -- installation ------------------------------------------------------------------------------
_INSTALL_LOCK = threading.Lock()


def _target_logger(logger: logging.Logger | str | None) -> logging.Logger:
    if logger is None or isinstance(logger, str):
        return logging.getLogger(logger)
    return logger


def install_logging_handler(
    level: int = logging.INFO,
    logger: logging.Logger | str | None = None,
    *,
    logger_provider: LoggerProvider | None = None,
) -> FlextLoggingHandler:
    """Attach a :class:`FlextLoggingHandler` to ``logger`` (the root logger by default).

    Idempotent: when the logger already has one, that handler is returned with
    its level and ``logger_provider`` updated instead of adding a second one.
    Only the handler's level is set; the logger's own level is left alone (a
    root logger at the default ``WARNING`` still drops ``INFO`` records).
    """
    target = _target_logger(logger)
    with _INSTALL_LOCK:
        for handler in target.handlers:
            if isinstance(handler, FlextLoggingHandler):
                handler.setLevel(level)
                handler.logger_provider = logger_provider
                return handler
        handler = FlextLoggingHandler(level, logger_provider=logger_provider)
        target.addHandler(handler)
        return handler


def uninstall_logging_handler(logger: logging.Logger | str | None = None) -> int:
    """Detach and close every :class:`FlextLoggingHandler` of ``logger`` (root by default).

    Returns how many were removed (0 when there was none).
    """
    target = _target_logger(logger)
    with _INSTALL_LOCK:
        found = [h for h in target.handlers if isinstance(h, FlextLoggingHandler)]
        for handler in found:
            target.removeHandler(handler)
            handler.close()
    return len(found)
