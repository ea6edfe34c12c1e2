"""A real OTLP receiver for tests: gRPC and HTTP (protobuf, optionally JSON).

``OtlpReceiver`` listens on a free 127.0.0.1 port, answers the official OTLP exporters
exactly as a collector would, decodes every request into small frozen records, and lets
a test wait for what arrived. It can also misbehave on purpose (fail, hang, go down and
come back on the same port) so that outage handling can be tested against the real
exporters instead of mocks.

Threading: requests are handled on server threads; every read and wait goes through
one ``threading.Condition``, so the accessors are safe to call from any thread.
Nothing binds a port or starts a thread until ``start()`` (or ``with``).
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Literal, TypeVar

try:
    import grpc

    # protobuf ships no type hints; the stubs (types-protobuf) may or may not be installed
    from google.protobuf.message import Message  # type: ignore[import-untyped,unused-ignore]
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
except ImportError as exc:
    raise ImportError(
        "flext_otel.testing.OtlpReceiver needs grpcio and opentelemetry-proto: "
        "pip install 'flext-otel[test]'"
    ) from exc

from flext_otel.hub import ingest
from flext_otel.hub.ingest import ReceivedLog, ReceivedMetricPoint, ReceivedSpan
from flext_otel.web.server import TrackingHTTPServer

__all__ = [
    "OtlpReceiver",
    "ReceivedLog",
    "ReceivedMetricPoint",
    "ReceivedSpan",
]

Protocol = Literal["grpc", "http"]

_MAX_BODY_BYTES = 64 * 1024 * 1024
_GRPC_STOP_GRACE_S = 1.0
_JOIN_TIMEOUT_S = 5.0
_HTTP_POLL_INTERVAL_S = 0.05

_T = TypeVar("_T")


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class _Signal:
    """How one OTLP signal is parsed, answered and decoded."""

    name: Literal["traces", "metrics", "logs"]
    ingest: ingest.Signal
    decode: Callable[[Any], list[Any]]

    @property
    def response_type(self) -> type[Message]:
        return self.ingest.response_type


_TRACES = _Signal("traces", ingest.TRACES, ingest.received_spans)
_METRICS = _Signal("metrics", ingest.METRICS, ingest.metric_points)
_LOGS = _Signal("logs", ingest.LOGS, ingest.received_logs)
_HTTP_PATHS = {"/v1/traces": _TRACES, "/v1/metrics": _METRICS, "/v1/logs": _LOGS}


# --------------------------------------------------------------------------- status codes

_HTTP_TO_GRPC: dict[int, Any] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    409: grpc.StatusCode.ABORTED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
_GRPC_BY_NUMBER: dict[int, Any] = {
    code.value[0]: code for code in grpc.StatusCode if code is not grpc.StatusCode.OK
}
_GRPC_TO_HTTP: dict[str, int] = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def _grpc_code(status: int) -> Any:
    """A failure status (HTTP 4xx/5xx or a gRPC code number) as a ``grpc.StatusCode``."""
    if status in _GRPC_BY_NUMBER:
        return _GRPC_BY_NUMBER[status]
    if status in _HTTP_TO_GRPC:
        return _HTTP_TO_GRPC[status]
    return grpc.StatusCode.INTERNAL if status >= 500 else grpc.StatusCode.FAILED_PRECONDITION


def _http_status(status: int) -> int:
    """A failure status (HTTP 4xx/5xx or a gRPC code number) as an HTTP status code."""
    if status in _GRPC_BY_NUMBER:
        return _GRPC_TO_HTTP[_GRPC_BY_NUMBER[status].name]
    return status


# --------------------------------------------------------------------------- HTTP body helpers


class _BadRequest(Exception):
    """A request the receiver refuses; carries the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _parse_body(signal: _Signal, body: bytes, content_type: str, encoding: str) -> Message:
    try:
        return ingest.decode_body(signal.ingest, body, content_type, encoding, _MAX_BODY_BYTES)
    except ingest.IngestError as refused:
        raise _BadRequest(refused.status, str(refused)) from None


# --------------------------------------------------------------------------- HTTP server


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def do_POST(self) -> None:
        self.server.receiver._handle_http(self)

    def _method_not_allowed(self) -> None:
        self.server.receiver._reject()
        self.close_connection = True  # any request body is left unread
        self.send_plain(HTTPStatus.METHOD_NOT_ALLOWED, "only POST is supported", allow="POST")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _method_not_allowed

    def send_plain(self, status: int, text: str, *, allow: str | None = None) -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if allow is not None:
            self.send_header("Allow", allow)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: a test receiver must not write to stderr for every request."""


class _HttpServer(TrackingHTTPServer):
    """The receiver's HTTP side: flext's connection-tracking server with its handler."""

    thread_name = "otlp-receiver-http-conn"

    def __init__(self, receiver: OtlpReceiver, host: str, port: int) -> None:
        self.receiver = receiver
        super().__init__((host, port), _HttpHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken client connection is not the receiver's failure; keep serving."""


class _HttpBackend:
    def __init__(self, receiver: OtlpReceiver, host: str, port: int) -> None:
        self._server = _HttpServer(receiver, host, port)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _HTTP_POLL_INTERVAL_S},
            name="otlp-receiver-http",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._server.close_all()
        self._thread.join(_JOIN_TIMEOUT_S)


# --------------------------------------------------------------------------- gRPC server


def _servicer(base: type[Any], signal: _Signal, receiver: OtlpReceiver) -> Any:
    """An instance of the generated servicer ``base`` whose Export feeds ``receiver``."""

    class _Servicer(base):  # type: ignore[misc]  # generated base classes are untyped
        def Export(self, request: Any, context: Any) -> Any:
            return receiver._handle_grpc(signal, request, context)

    return _Servicer()


class _GrpcBackend:
    def __init__(self, receiver: OtlpReceiver, host: str, port: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-receiver-grpc")
        self._server = grpc.server(
            self._executor,
            options=[
                ("grpc.so_reuseport", 0),  # a second server must not share our port
                ("grpc.max_receive_message_length", _MAX_BODY_BYTES),
            ],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _servicer(trace_service_pb2_grpc.TraceServiceServicer, _TRACES, receiver), self._server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _servicer(metrics_service_pb2_grpc.MetricsServiceServicer, _METRICS, receiver),
            self._server,
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _servicer(logs_service_pb2_grpc.LogsServiceServicer, _LOGS, receiver), self._server
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = self._server.add_insecure_port(address)
        except RuntimeError as error:
            self._executor.shutdown(wait=True)
            raise OSError(f"cannot bind gRPC receiver to {address}: {error}") from error
        if not bound:  # older grpcio reports a failed bind as port 0
            self._executor.shutdown(wait=True)
            raise OSError(f"cannot bind gRPC receiver to {address}")
        self.port: int = int(bound)
        self._server.start()

    def close(self) -> None:
        self._server.stop(_GRPC_STOP_GRACE_S).wait()
        self._executor.shutdown(wait=True)


# --------------------------------------------------------------------------- the receiver


class OtlpReceiver:
    """A real OTLP/gRPC or OTLP/HTTP receiver on 127.0.0.1 for tests.

    Use as a context manager (or ``start()``/``stop()``, both idempotent) and point an
    exporter at ``endpoint`` (a value for ``OTEL_EXPORTER_OTLP_ENDPOINT``; HTTP exporters
    given an explicit endpoint need ``signal_endpoint("traces")`` and friends).

    What arrived is available decoded, in arrival order, through ``spans()``, ``logs()``
    and ``metrics()`` (flattened data points), and each accepted request's headers (gRPC
    metadata) through ``requests``. ``wait_for_*`` block until enough has arrived.

    Outage simulation: ``set_failure(status)`` answers every request with an error and
    records nothing; ``set_delay(seconds)`` holds each request before answering (ended
    early by ``stop()``/``pause()``); ``pause()``/``resume()`` take the server down and
    bring it back on the same port. ``rejected`` counts requests that were answered
    with an error or abandoned by their client, and so were not recorded.
    """

    def __init__(
        self,
        protocol: Protocol | Literal["http/protobuf"] = "grpc",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if protocol == "http/protobuf":
            protocol = "http"
        if protocol not in ("grpc", "http"):
            raise ValueError(f"protocol must be 'grpc' or 'http', not {protocol!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, not {port}")
        self._protocol: Protocol = protocol
        self._host = host
        self._port = port
        self._backend: _GrpcBackend | _HttpBackend | None = None
        self._paused = False
        self._lifecycle = threading.Lock()
        self._pid = os.getpid()  # a forked child inherits the receiver, not its threads
        self._interrupt = threading.Event()
        self._cond = threading.Condition()
        self._spans: list[ReceivedSpan] = []
        self._logs: list[ReceivedLog] = []
        self._metrics: list[ReceivedMetricPoint] = []
        self._requests: list[dict[str, str | bytes]] = []
        self._rejected = 0
        self._failure: int | None = None
        self._delay = 0.0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> OtlpReceiver:
        """Bind and serve; a no-op when already serving. Resumes a paused receiver."""
        with self._lifecycle:
            if self._backend is None:
                self._bind()
        return self

    def stop(self) -> None:
        """Stop serving and join every server thread; safe to call more than once.

        In a forked child (which inherited the receiver but not its threads) it only
        forgets the parent's servers."""
        if os.getpid() != self._pid:
            self._backend = None
            return
        with self._lifecycle:
            self._paused = False
            self._shut_backend()

    def pause(self) -> None:
        """Go down like a crashed collector; the port is kept for ``resume()``."""
        with self._lifecycle:
            if self._backend is None and not self._paused:
                raise RuntimeError("OtlpReceiver.pause() needs a started receiver")
            self._paused = True
            self._shut_backend()

    def resume(self) -> None:
        """Come back on the same port after ``pause()``; a no-op when serving."""
        with self._lifecycle:
            if self._backend is None:
                self._bind()

    def _bind(self) -> None:
        self._interrupt.clear()
        backend_type = _GrpcBackend if self._protocol == "grpc" else _HttpBackend
        backend = backend_type(self, self._host, self._port)
        self._port = backend.port
        self._backend = backend
        self._paused = False

    def _shut_backend(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            self._interrupt.set()  # wake requests held by set_delay()
            backend.close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "serving" if self.running else "paused" if self._paused else "stopped"
        return f"OtlpReceiver(protocol={self._protocol!r}, port={self._port}, {state})"

    # ---------------------------------------------------------------- addresses

    @property
    def protocol(self) -> Protocol:
        """``"grpc"`` or ``"http"``."""
        return self._protocol

    @property
    def port(self) -> int:
        """The bound port (known once started, kept across ``pause()``/``stop()``)."""
        if self._port == 0:
            raise RuntimeError("OtlpReceiver has no port until it is started")
        return self._port

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:4317``, for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def signal_endpoint(self, signal: Literal["traces", "metrics", "logs"]) -> str:
        """The ``endpoint=`` argument for one signal's exporter (HTTP adds ``/v1/<signal>``)."""
        if signal not in ("traces", "metrics", "logs"):
            raise ValueError(f"signal must be traces, metrics or logs, not {signal!r}")
        if self._protocol == "grpc":
            return self.endpoint
        return f"{self.endpoint}/v1/{signal}"

    @property
    def running(self) -> bool:
        """True while the server accepts requests."""
        return self._backend is not None

    @property
    def paused(self) -> bool:
        """True between ``pause()`` and ``resume()``."""
        return self._paused

    # ---------------------------------------------------------------- fault injection

    def set_failure(self, status: int | None) -> None:
        """Answer every request with ``status`` and record nothing; ``None`` heals.

        ``status`` is an HTTP error status (400-599) or a gRPC status code number
        (1-16); each protocol gets the matching code (503 and 14 are both UNAVAILABLE).
        """
        if status is not None and not (1 <= status <= 16 or 400 <= status <= 599):
            raise ValueError(f"status must be an HTTP 4xx/5xx or gRPC code 1-16, not {status}")
        with self._cond:
            self._failure = status

    def set_delay(self, seconds: float) -> None:
        """Hold each request ``seconds`` before answering (0 disables)."""
        if seconds < 0:
            raise ValueError(f"delay must be >= 0, not {seconds}")
        with self._cond:
            self._delay = float(seconds)

    # ---------------------------------------------------------------- what arrived

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far, in arrival order."""
        with self._cond:
            return list(self._spans)

    def logs(self) -> list[ReceivedLog]:
        """Every log record received so far, in arrival order."""
        with self._cond:
            return list(self._logs)

    def metrics(self, name: str | None = None) -> list[ReceivedMetricPoint]:
        """Every metric data point received so far (optionally one metric's), in order."""
        with self._cond:
            return [p for p in self._metrics if name is None or p.name == name]

    @property
    def requests(self) -> list[dict[str, str | bytes]]:
        """Headers (gRPC: metadata) of each recorded request, keys lowercase."""
        with self._cond:
            return [dict(headers) for headers in self._requests]

    @property
    def request_count(self) -> int:
        """How many requests were accepted and recorded."""
        with self._cond:
            return len(self._requests)

    @property
    def rejected(self) -> int:
        """How many requests were refused, malformed or abandoned, and not recorded."""
        with self._cond:
            return self._rejected

    def clear(self) -> None:
        """Forget everything received and reset the counters."""
        with self._cond:
            self._spans.clear()
            self._logs.clear()
            self._metrics.clear()
            self._requests.clear()
            self._rejected = 0

    def wait_for_spans(self, n: int, timeout: float = 5.0) -> list[ReceivedSpan]:
        """Block until at least ``n`` spans arrived and return them all."""
        return self._wait(lambda: self._spans, n, timeout, "spans")

    def wait_for_logs(self, n: int, timeout: float = 5.0) -> list[ReceivedLog]:
        """Block until at least ``n`` log records arrived and return them all."""
        return self._wait(lambda: self._logs, n, timeout, "log records")

    def wait_for_metrics(
        self, n: int, timeout: float = 5.0, *, name: str | None = None
    ) -> list[ReceivedMetricPoint]:
        """Block until at least ``n`` metric points (of ``name``, if given) arrived."""
        what = "metric points" if name is None else f"points of metric {name!r}"
        return self._wait(
            lambda: [p for p in self._metrics if name is None or p.name == name], n, timeout, what
        )

    def _wait(self, items: Callable[[], list[_T]], n: int, timeout: float, what: str) -> list[_T]:
        with self._cond:
            if self._cond.wait_for(lambda: len(items()) >= n, timeout):
                return list(items())
            got = items()
            rejected = self._rejected
        detail = f"; {rejected} request(s) rejected" if rejected else ""
        raise TimeoutError(
            f"OtlpReceiver({self._protocol}) waited {timeout}s for {n} {what}, "
            f"{len(got)} arrived{detail}"
        )

    # ---------------------------------------------------------------- request handling

    def _hold(self) -> bool:
        """Apply ``set_delay``; False when the receiver is going down meanwhile."""
        with self._cond:
            delay = self._delay
        return not (delay > 0 and self._interrupt.wait(delay))

    def _failure_status(self) -> int | None:
        with self._cond:
            return self._failure

    def _reject(self) -> None:
        with self._cond:
            self._rejected += 1

    def _record(self, signal: _Signal, request: Message, headers: dict[str, str | bytes]) -> None:
        decoded = signal.decode(request)
        with self._cond:
            if signal is _TRACES:
                self._spans.extend(decoded)
            elif signal is _METRICS:
                self._metrics.extend(decoded)
            else:
                self._logs.extend(decoded)
            self._requests.append(headers)
            self._cond.notify_all()

    def _handle_grpc(self, signal: _Signal, request: Message, context: Any) -> Message:
        headers: dict[str, str | bytes] = {}
        for key, value in context.invocation_metadata():
            _merge_header(headers, key.lower(), value)
        if not self._hold():
            self._reject()
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver is shutting down")
        failure = self._failure_status()
        if failure is not None:
            self._reject()
            context.abort(_grpc_code(failure), f"injected failure {failure}")
        if not context.is_active():  # the client gave up while the request was held
            self._reject()
            return signal.response_type()
        try:
            self._record(signal, request, headers)
        except Exception as error:  # a decoding bug must not kill the server thread
            self._reject()
            context.abort(grpc.StatusCode.INTERNAL, f"cannot decode request: {error}")
        return signal.response_type()

    def _handle_http(self, handler: _HttpHandler) -> None:
        headers: dict[str, str | bytes] = {}
        for key, value in handler.headers.items():
            _merge_header(headers, key.lower(), value)
        content_type = handler.headers.get("Content-Type", "")
        try:
            body = _read_body(handler)  # read first, so the connection stays usable
            signal = _HTTP_PATHS.get(handler.path.split("?", 1)[0])
            if signal is None:
                raise _BadRequest(404, f"no OTLP endpoint at {handler.path}")
            if not self._hold():
                handler.close_connection = True
                raise _BadRequest(503, "receiver is shutting down")
            failure = self._failure_status()
            if failure is not None:
                raise _BadRequest(_http_status(failure), f"injected failure {failure}")
            encoding = handler.headers.get("Content-Encoding", "")
            request = _parse_body(signal, body, content_type, encoding)
            if _client_gone(handler.connection):
                self._reject()
                handler.close_connection = True
                return
            self._record(signal, request, headers)
        except _BadRequest as refused:
            self._reject()
            handler.send_plain(refused.status, str(refused))
            return
        except Exception as error:  # a decoding bug must not kill the server thread
            self._reject()
            handler.close_connection = True
            handler.send_plain(500, f"cannot process request: {error}")
            return
        payload = ingest.encode_response(signal.ingest, content_type)
        handler.send_response(200)
        handler.send_header("Content-Type", content_type or "application/x-protobuf")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def _merge_header(headers: dict[str, str | bytes], key: str, value: str | bytes) -> None:
    previous = headers.get(key)
    if isinstance(previous, str) and isinstance(value, str):
        headers[key] = f"{previous}, {value}"
    else:
        headers[key] = value


def _read_body(handler: _HttpHandler) -> bytes:
    length_header = handler.headers.get("Content-Length")
    if length_header is None:
        handler.close_connection = True
        raise _BadRequest(411, "Content-Length is required")
    try:
        length = int(length_header)
    except ValueError:
        handler.close_connection = True
        raise _BadRequest(400, f"bad Content-Length {length_header!r}") from None
    if length < 0 or length > _MAX_BODY_BYTES:
        handler.close_connection = True
        raise _BadRequest(413, f"body of {length} bytes is not accepted")
    body = handler.rfile.read(length)
    if len(body) != length:
        handler.close_connection = True
        raise _BadRequest(400, "body shorter than Content-Length")
    return body


def _client_gone(conn: socket.socket) -> bool:
    """True when the peer already closed its side (e.g. an exporter that timed out)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
