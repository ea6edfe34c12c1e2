"""The hub's network side: OTLP/gRPC and OTLP/HTTP receivers and the UI server.

:func:`start_hub` binds three ports (each ``0`` for any free one) and returns a
:class:`HubServer` handle with their URLs:

* **OTLP/gRPC** (grpcio): the three ``Export`` methods take raw bytes so every
  refusal is ours to count: a malformed message is ``INVALID_ARGUMENT``, a
  missing API key ``UNAUTHENTICATED``, a message over the limit (decoded
  size) ``RESOURCE_EXHAUSTED``; gzip is grpcio's.
* **OTLP/HTTP** on flext's connection-tracking server
  (:class:`~flext_otel.web.server.TrackingHTTPServer`): ``POST /v1/traces``,
  ``/v1/metrics``, ``/v1/logs`` with protobuf or JSON bodies, identity/gzip/
  deflate, with a ``Content-Length`` or chunked; the size limit applies to the
  bytes on the wire and to the decoded bytes. Refusals answer an OTLP
  ``Status`` body: 400 (garbage), 401 (API key), 404 (path), 405 (method),
  413 (size), 415 (type or encoding); items with malformed IDs get a
  partial-success answer. Every refusal is counted as ``invalid`` (a missing
  API key as ``unauthorized``). The body is read before any refusal so a
  keep-alive connection survives it; after a 413 the connection lingers a
  moment (reading and dropping) so the client reads the answer, then closes.
* **UI, ``/api/*``, ``/metrics``, ``/health``, ``/ready``**: ``serve_http`` over
  the hub's :class:`~flext_otel.hub.core.HubOtel`.

Imports: ``web.server``, ``hub`` siblings, grpcio. Threading: each receiver
serves requests on its own threads and only calls :meth:`Hub.ingest`.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

import grpc

from flext_otel.hub import ingest
from flext_otel.hub.core import Hub
from flext_otel.web.server import HttpServerHandle, TrackingHTTPServer, serve_http

__all__ = ["HubServer", "start_hub"]

_GRPC_SERVICES = {
    ingest.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    ingest.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    ingest.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
}
_GRPC_CODES = {400: 3, 401: 16, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 500: 13}
_JOIN_TIMEOUT_S = 5.0
_POLL_S = 0.05
_CHUNK_LINE = 1024
_DRAIN_FACTOR = 4
"""After a 413, up to this many times the limit is read and dropped (lingering close)."""
_LINGER_S = 2.0


# --------------------------------------------------------------------------- OTLP/HTTP


class _OtlpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flext-otel-hub"
    server: _OtlpHttpServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(30.0)

    _unread = False
    _linger = 0

    def do_POST(self) -> None:
        hub = self.server.hub
        content_type = self.headers.get("Content-Type", "")
        signal = ingest.SIGNAL_BY_PATH.get(self.path.split("?", 1)[0])
        self._unread = False
        self._linger = 0
        try:
            # the body is read (or drained) first, so every answer keeps the connection
            body = self._body(hub.max_body_bytes)
            if signal is None:
                raise ingest.IngestError(404, f"no OTLP endpoint at {self.path[:200]}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not hub.authorized(headers):
                self._answer(
                    401, ingest.status_body(16, "a valid API key is required", content_type)
                )
                return
            request = ingest.decode_body(
                signal,
                body,
                content_type,
                self.headers.get("Content-Encoding", ""),
                hub.max_body_bytes,
            )
        except ingest.IngestError as refused:
            hub.refuse()
            self._refused(refused, content_type)
            return
        try:
            rejected, message = hub.ingest(signal, request)
        except ingest.IngestError as refused:  # already counted
            self._refused(refused, content_type)
            return
        self._answer(
            200, ingest.encode_response(signal, content_type, rejected, message), content_type
        )

    def _refused(self, refused: ingest.IngestError, content_type: str) -> None:
        if self._unread:
            self.close_connection = True  # the rest of the body is still on the wire
        code = _GRPC_CODES.get(refused.status, 3)
        self._answer(refused.status, ingest.status_body(code, str(refused), content_type))
        if self._linger:
            self._drain_after_answer()

    def _not_allowed(self) -> None:
        self.server.hub.refuse()
        self.close_connection = True
        body = ingest.status_body(
            12, "only POST is supported", self.headers.get("Content-Type", "")
        )
        self._answer(405, body, extra={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def _body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ingest.IngestError(400, f"bad Content-Length {raw[:40]!r}") from None
        if length < 0:
            raise ingest.IngestError(400, f"bad Content-Length {raw[:40]!r}")
        if length > limit:
            self._unread = True
            self._linger = min(length, _DRAIN_FACTOR * limit)
            raise ingest.IngestError(413, f"body of {length} bytes is over the {limit}-byte limit")
        body = self.rfile.read(length)
        if len(body) != length:
            self._unread = True
            raise ingest.IngestError(400, "body shorter than Content-Length")
        return body

    def _drain_after_answer(self) -> None:
        """Lingering close: after answering 413, read (and drop) what the client still
        sends for a short while, so its kernel does not reset the connection before the
        client has read the answer. The connection is closed afterwards either way."""
        remaining = self._linger
        self._linger = 0
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.settimeout(_LINGER_S)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65_536))
                if not chunk:
                    break
                remaining -= len(chunk)

    def _chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_CHUNK_LINE + 1)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._unread = True
                raise ingest.IngestError(400, "malformed chunked body") from None
            if size < 0:
                self._unread = True
                raise ingest.IngestError(400, "malformed chunked body")
            if size == 0:
                while self.rfile.readline(_CHUNK_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                if total > limit:
                    raise ingest.IngestError(413, f"chunked body is over the {limit}-byte limit")
                return b"".join(parts)
            total += size
            if total > _DRAIN_FACTOR * limit:
                self._unread = True
                raise ingest.IngestError(413, f"chunked body is over the {limit}-byte limit")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(_CHUNK_LINE + 1).strip():
                self._unread = True
                raise ingest.IngestError(400, "truncated chunked body")
            if total <= limit:
                parts.append(chunk)
            else:
                parts.clear()  # over the limit: drained to the end, then refused

    def _answer(
        self,
        status: int,
        body: bytes,
        content_type: str = "",
        extra: dict[str, str] | None = None,
    ) -> None:
        kind = "application/json" if ingest.is_json(content_type) else "application/x-protobuf"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per export request would drown the command's output."""


class _OtlpHttpServer(TrackingHTTPServer):
    thread_name = "flext-otel-hub-http-conn"
    max_connections = 512

    def __init__(self, hub: Hub, host: str, port: int) -> None:
        self.hub = hub
        super().__init__((host, port), _OtlpHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken client connection is the client's problem; keep serving."""


# --------------------------------------------------------------------------- OTLP/gRPC


def _grpc_export(hub: Hub, signal: ingest.Signal) -> Any:
    def export(raw: bytes, context: Any) -> bytes:
        headers = {k.lower(): v for k, v in context.invocation_metadata()}
        if not hub.authorized(headers):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid API key is required")
        if len(raw) > hub.max_body_bytes:
            hub.refuse()
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"message of {len(raw)} bytes is over the {hub.max_body_bytes}-byte limit",
            )
        request = signal.request_type()
        try:
            request.ParseFromString(raw)
        except Exception as error:  # protobuf raises DecodeError and friends
            hub.refuse()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot decode request: {error}")
        try:
            rejected, message = hub.ingest(signal, request)
        except ingest.IngestError as refused:  # already counted
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refused))
        return ingest.encode_response(signal, "", rejected, message)

    return grpc.unary_unary_rpc_method_handler(export)


class _GrpcReceiver:
    def __init__(self, hub: Hub, host: str, port: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="flext-otel-hub-grpc")
        self._server = grpc.server(
            self._executor,
            options=[
                ("grpc.so_reuseport", 0),  # a busy port must be an error, not shared
                # up to 4x is received, measured and refused (and counted) by us;
                # beyond that grpcio refuses it on its own
                ("grpc.max_receive_message_length", _DRAIN_FACTOR * hub.max_body_bytes),
            ],
        )
        self._server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(name, {"Export": _grpc_export(hub, signal)})
                for signal, name in _GRPC_SERVICES.items()
            ]
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = self._server.add_insecure_port(address)
        except RuntimeError as error:
            self._executor.shutdown(wait=False)
            raise OSError(f"cannot serve OTLP/gRPC on {address}: port busy? ({error})") from None
        if not bound:
            self._executor.shutdown(wait=False)
            raise OSError(f"cannot serve OTLP/gRPC on {address}: port busy?")
        self.port = int(bound)
        self._server.start()

    def close(self, grace_s: float = 1.0) -> None:
        self._server.stop(grace_s).wait()
        self._executor.shutdown(wait=True)


# --------------------------------------------------------------------------- the handle


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class HubServer:
    """A running hub: ``grpc_url``, ``http_url``, ``ui_url``, ``close()``; a context manager."""

    def __init__(
        self,
        hub: Hub,
        grpc_rx: _GrpcReceiver,
        http_rx: _OtlpHttpServer,
        http_thread: threading.Thread,
        ui: HttpServerHandle,
        host: str,
    ) -> None:
        self.hub = hub
        self._grpc = grpc_rx
        self._http = http_rx
        self._http_thread = http_thread
        self._ui = ui
        self._lock = threading.Lock()
        self._closed = False
        self.host = host
        self.grpc_port = grpc_rx.port
        self.http_port = int(http_rx.server_address[1])
        self.ui_port = ui.port

    @property
    def grpc_url(self) -> str:
        """The OTLP/gRPC endpoint (a value for ``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return _url(self.host, self.grpc_port)

    @property
    def http_url(self) -> str:
        """The OTLP/HTTP base URL (``/v1/traces`` and friends below it)."""
        return _url(self.host, self.http_port)

    @property
    def ui_url(self) -> str:
        """The UI, ``/api/*``, ``/metrics``, ``/health`` and ``/ready``."""
        return self._ui.url

    def ready_lines(self) -> list[str]:
        """The lines printed when ready, one per endpoint."""
        return [
            f"flext-otel hub: OTLP/gRPC  {self.grpc_url}",
            f"flext-otel hub: OTLP/HTTP  {self.http_url}",
            f"flext-otel hub: UI         {self.ui_url}",
        ]

    def stop_receiving(self) -> None:
        """Close the OTLP receivers (the UI keeps serving); idempotent."""
        self._grpc.close()
        self._http.close_all()
        self._http_thread.join(_JOIN_TIMEOUT_S)

    def close(self, timeout_millis: int = 10_000) -> None:
        """Stop receiving, flush the forwarder, stop the UI (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.stop_receiving()
        self.hub.shutdown(timeout_millis)
        self._ui.close()

    def __enter__(self) -> HubServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def start_hub(
    hub: Hub | None = None,
    *,
    host: str = "127.0.0.1",
    grpc_port: int = 4317,
    http_port: int = 4318,
    port: int = 8765,
) -> HubServer:
    """Bind and serve the hub's three endpoints; raises ``OSError`` naming a busy port."""
    hub = hub if hub is not None else Hub()
    grpc_rx = _GrpcReceiver(hub, host, grpc_port)
    try:
        try:
            http_rx = _OtlpHttpServer(hub, host, http_port)
        except OSError as exc:
            raise OSError(f"cannot serve OTLP/HTTP on {host}:{http_port}: {exc.strerror}") from None
        http_thread = threading.Thread(
            target=http_rx.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name="flext-otel-hub-http",
            daemon=True,
        )
        http_thread.start()
        try:
            ui = serve_http(hub.otel, host, port)
        except OSError:
            http_rx.close_all()
            http_thread.join(_JOIN_TIMEOUT_S)
            raise
    except OSError:
        grpc_rx.close(0)
        raise
    return HubServer(hub, grpc_rx, http_rx, http_thread, ui, host)
