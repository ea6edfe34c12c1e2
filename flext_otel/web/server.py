"""``serve_http()``: ``/metrics``, ``/health`` and ``/ready`` on a small stdlib server.

The server is a :class:`~http.server.ThreadingHTTPServer` running in a daemon
thread, one daemon thread per connection, each connection with a socket
timeout, so a stalled client never blocks anyone else. It binds 127.0.0.1
unless told otherwise and returns a :class:`HttpServerHandle` (``.url``,
``.close()``, a context manager).

Routes live in a module-level registry (:func:`register_route`), so other
modules can add pages next to the built-in ones:

* ``GET /metrics``: Prometheus exposition of the pipeline's private registry,
  produced by ``prometheus_client`` (text or OpenMetrics by ``Accept``, gzip by
  ``Accept-Encoding``); 501 when the ``prometheus`` extra is missing.
* ``GET /health``: JSON of ``FlextOtel.health()`` (overall status, components,
  pipelines); 200 when healthy, degraded or unknown, 503 when unhealthy.
* ``GET /ready``: 200 once a pipeline is configured and not shut down, else 503.

``HEAD`` is answered for every ``GET`` route. When a bearer token is set
(``token=`` or ``FLEXT_OTEL_HTTP_TOKEN``) every route not registered public needs
``Authorization: Bearer <token>`` or the live view's session cookie; see
``flext_otel.web.auth`` for the public routes and the ``?token=`` exchange.

>>> from flext_otel.testing import capture
>>> import urllib.request
>>> with capture() as cap, serve_http(cap.otel, port=0) as server:
...     urllib.request.urlopen(server.url + "/ready").status
200
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flext_otel.export.exporters import prometheus_available
from flext_otel.pipeline import process
from flext_otel.pipeline.sdk import (
    FlextOtel,
)
from flext_otel.pipeline.state import (
    chosen,
    current,
)
from flext_otel.web import auth, liveview
from flext_otel.web.ports import (
    HUB_FIX,
    port_conflict_message,
    port_owner,
    warn_not_served_here,
    warn_port_conflict,
)

_logger = logging.getLogger("flext_otel.web.server")

DEFAULT_PORT = 9464
CONNECTION_TIMEOUT_S = 10.0
"""Idle seconds a connection may take to send (the rest of) a request."""
MAX_BODY_BYTES = 1024 * 1024
"""Largest request body a route is given; longer ones are refused with 413."""
MAX_CONNECTIONS = 256
"""Open connections served at once; further ones are answered 503 and closed."""
_MAX_REQUEST_LINE = 65_536
_JOIN_TIMEOUT_S = 5.0
_POLL_INTERVAL_S = 0.05
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token (method names)
_PROM_HINT = "pip install 'flext-otel[prometheus]'"

Response = tuple[int, Mapping[str, str], bytes]
"""What a route handler returns: ``(status, headers, body)``."""


@dataclass(frozen=True)
class RequestInfo:
    """One request as a route handler sees it.

    ``headers`` has lowercase names; ``query`` maps each parameter to its values.
    ``otel`` is the pipeline the server serves: the one it was started with, or
    the current one when it follows :func:`flext_otel.providers.current`
    (``pinned`` tells which).
    """

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]]
    headers: Mapping[str, str]
    body: bytes
    client: tuple[str, int]
    otel: FlextOtel
    pinned: bool = field(default=True)


RouteHandler = Callable[[RequestInfo], Response]
PublicRule = Callable[[str, str], bool]
"""``(method, path) -> True`` when that request needs no bearer token."""


@dataclass(frozen=True)
class _Route:
    handler: RouteHandler
    public: PublicRule | None


# -- the route registry -----------------------------------------------------

_routes: dict[tuple[str, str], _Route] = {}
_routes_lock = threading.Lock()


def register_route(
    method: str,
    path_prefix: str,
    handler: RouteHandler,
    *,
    public: bool | PublicRule = False,
) -> Callable[[], None]:
    """Serve ``method`` requests for ``path_prefix`` with ``handler``; returns an unregister.

    A prefix ending in ``/`` (``/api/``, ``/``) matches every path under it; any
    other prefix matches exactly that path. The longest matching prefix decides:
    a method it has no handler for is a 405, even if a shorter prefix has one.
    ``HEAD`` is answered by the ``GET`` handler without the body. Registering the
    same method and prefix again replaces the handler. Every server, running or
    not, sees the change at its next request; unregistering a replacement brings
    back the handler it replaced.

    Routes require the server's bearer token, if it has one, unless ``public``
    is True or a ``(method, path) -> bool`` rule that holds for the request
    (for pages that carry no telemetry themselves).
    """
    verb = method.upper()
    if not _TOKEN_RE.match(verb):
        raise ValueError(f"method must be an HTTP token such as GET, not {method!r}")
    if not path_prefix.startswith("/"):
        raise ValueError(f"path_prefix must start with '/', not {path_prefix!r}")
    if not callable(handler):
        raise TypeError("handler must be callable")
    key = (verb, path_prefix)
    rule: PublicRule | None
    if public is True:
        rule = _always
    elif public is False:
        rule = None
    else:
        rule = public
    entry = _Route(handler, rule)
    with _routes_lock:
        previous = _routes.get(key)
        _routes[key] = entry

    def unregister() -> None:
        with _routes_lock:
            if _routes.get(key) is not entry:
                return  # already removed, or replaced since
            if previous is None:
                del _routes[key]
            else:
                _routes[key] = previous

    return unregister


def _always(method: str, path: str) -> bool:
    return True


def _matches(prefix: str, path: str) -> bool:
    return path.startswith(prefix) if prefix.endswith("/") else path == prefix


def _resolve(method: str, path: str) -> tuple[_Route | None, tuple[str, ...]]:
    """The route for ``method path`` and, when none, the methods the path allows."""
    with _routes_lock:
        by_key = dict(_routes)
    prefixes = sorted({p for (_, p) in by_key if _matches(p, path)}, key=len, reverse=True)
    if not prefixes:
        return None, ()
    verb = "GET" if method == "HEAD" else method
    found = by_key.get((verb, prefixes[0]))
    if found is not None:
        return found, ()
    allowed = sorted({v for (v, p) in by_key if p == prefixes[0]})
    if "GET" in allowed:
        allowed.append("HEAD")
    return None, tuple(allowed)


def _is_public(route: _Route | None, method: str, path: str) -> bool:
    if route is None or route.public is None:
        return False
    try:
        return bool(route.public(method, path))
    except Exception:  # a broken rule keeps the route guarded
        _logger.warning("flext-otel http: public rule for %s failed", path, exc_info=True)
        return False


# -- built-in routes ----------------------------------------------------------


def _text(status: int, text: str, **headers: str) -> Response:
    return status, {"Content-Type": "text/plain; charset=utf-8", **headers}, text.encode()


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(payload, default=str, sort_keys=True).encode()
    return status, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body


class _OnlySamples:
    """A collector yielding only the samples named (``/metrics?name[]=...``)."""

    def __init__(self, registry: Any, names: frozenset[str]) -> None:
        self._registry = registry
        self._names = names

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import Metric

        for metric in self._registry.collect():
            samples = [s for s in metric.samples if s.name in self._names]
            if samples:
                kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
                kept.samples = samples
                yield kept


def metrics_route(request: RequestInfo) -> Response:
    """``GET /metrics``: the pipeline's Prometheus registry, encoded by ``prometheus_client``."""
    registry = request.otel.prometheus_registry
    if registry is None:
        if not prometheus_available():
            return _text(501, f"/metrics needs the prometheus extra: {_PROM_HINT}\n")
        return _text(501, "this pipeline has no Prometheus registry (is OTEL_SDK_DISABLED set?)\n")
    try:
        from prometheus_client.exposition import choose_encoder, gzip_accepted
    except ImportError:  # pragma: no cover - the registry exists only with the extra
        return _text(501, f"/metrics needs the prometheus extra: {_PROM_HINT}\n")
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    names = request.query.get("name[]")
    body: bytes = encoder(_OnlySamples(registry, frozenset(names)) if names else registry)
    headers = {"Content-Type": content_type}
    if gzip_accepted(request.headers.get("accept-encoding", "")):
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return 200, headers, body


def health_route(request: RequestInfo) -> Response:
    """``GET /health``: overall status, components and pipelines; 503 when unhealthy."""
    report = dict(request.otel.health())
    report.setdefault(
        "pipelines", {key: stats.to_dict() for key, stats in request.otel.stats().items()}
    )
    status = 503 if report.get("status") == "unhealthy" else 200
    return _json(status, report)


def ready_route(request: RequestInfo) -> Response:
    """``GET /ready``: 200 once configured and not shut down, else 503."""
    otel = request.otel if request.pinned else chosen()
    if otel is None:
        return _json(503, {"ready": False, "reason": "not configured"})
    if otel.is_shutdown:
        return _json(503, {"ready": False, "reason": "shut down"})
    return _json(200, {"ready": True, "service": otel.options.service_name})


register_route("GET", "/metrics", metrics_route)
register_route("GET", "/health", health_route)
register_route("GET", "/ready", ready_route)
# The live view: the web UI at / (its shell is public, it holds no data) and /api/*.
register_route("GET", "/", liveview.route, public=liveview.is_public)


# -- the server ---------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Parses requests (stdlib), checks the token, and dispatches to the registry."""

    protocol_version = "HTTP/1.1"
    server_version = "flext-otel"
    default_request_version = "HTTP/1.0"  # errors before the version is known get a status line
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    server: _Server

    def version_string(self) -> str:
        """The ``Server`` header: the product alone, no Python version."""
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.connection_timeout)

    def handle_one_request(self) -> None:
        """Read one request and answer it; any method token reaches the dispatcher."""
        try:
            self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > _MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return  # the stdlib already answered 400/414/431/505
            self._dispatch()
            self.wfile.flush()
        except (TimeoutError, ConnectionError) as exc:
            self.log_message("connection dropped: %r", exc)
            self.close_connection = True

    def _dispatch(self) -> None:
        method = self.command
        if not _TOKEN_RE.match(method):
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request method")
            return
        otel = self.server.otel
        pinned = otel is not None
        target = otel if otel is not None else current()
        path = urlsplit(self.path).path or "/"
        token = self.server.token if self.server.token is not None else target.options.http_token
        port = self.server.server_port
        exchanged = auth.exchange(method, self.path, token, port, **self._creds())
        if exchanged is not None:  # ?token= on the page shell, or POST /api/session
            self._refuse(exchanged)
            return
        route, allowed = _resolve(method, path)
        if not _is_public(route, method, path) and not self._authorized(token):
            return
        if route is None:
            if allowed:
                response = _text(
                    405, f"{method} is not allowed on {path}\n", Allow=", ".join(allowed)
                )
            else:
                response = _text(404, f"nothing at {path}\n")
            self._refuse(response)
            return
        body = self._read_body()
        if body is None:
            return
        request = RequestInfo(
            method=method,
            path=path,
            query=MappingProxyType(
                {k: tuple(v) for k, v in parse_qs(urlsplit(self.path).query).items()}
            ),
            headers=MappingProxyType({k.lower(): v for k, v in self.headers.items()}),
            body=body,
            client=(str(self.client_address[0]), int(self.client_address[1])),
            otel=target,
            pinned=pinned,
        )
        try:
            response = route.handler(request)
        except Exception:
            _logger.warning("flext-otel http: %s %s failed", method, path, exc_info=True)
            response = _text(500, "internal error\n")
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body (empty when none); None after refusing it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "Chunked bodies are not accepted")
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad Content-Length")
            return None
        if length > MAX_BODY_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            return None
        return body

    def _creds(self) -> dict[str, str]:
        """The request's ``Authorization`` and ``Cookie`` headers (empty when absent)."""
        return {
            "authorization": self.headers.get("Authorization", ""),
            "cookie": "; ".join(self.headers.get_all("Cookie") or ()),
        }

    def _authorized(self, token: str | None) -> bool:
        """True when no token is needed or a valid credential came; else answers 401."""
        if auth.authorized(token, self.server.server_port, **self._creds()):
            return True
        self._refuse(auth.unauthorized(self._creds()["authorization"]))
        return False

    def _refuse(self, response: Response) -> None:
        """Answer without reading the body; a pending body ends the connection."""
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
        self._send(response)

    def _send(self, response: Response) -> None:
        status, headers, body = response
        self.send_response(status)
        names = {name.lower() for name in headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if "x-content-type-options" not in names:
            self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Request noise goes to the ``flext_otel.web.server`` logger at DEBUG, never stderr."""
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s %s", self.address_string(), format % args)


class TrackingHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that tracks its connections so :meth:`close_all` can end
    every one of them (a stalled client cannot keep a thread alive after close).

    One daemon thread per connection; beyond ``max_connections`` open ones a new
    connection gets a bare 503. Binds without a reverse-DNS lookup of the host.
    """

    daemon_threads = True
    allow_reuse_address = True  # rebinding a port just closed must not hit TIME_WAIT
    thread_name = "flext-otel-http-conn"
    max_connections: int | None = None

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._live: dict[threading.Thread, socket.socket] = {}
        self._live_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host name."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.max_connections is not None:
            with self._live_lock:
                crowded = len(self._live) >= self.max_connections
            if crowded:
                with contextlib.suppress(OSError):
                    request.sendall(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n"
                    )
                self.shutdown_request(request)
                return
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=self.thread_name,
            daemon=True,
        )
        with self._live_lock:
            self._live[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._live_lock:
                self._live.pop(threading.current_thread(), None)

    def release_inherited(self) -> None:
        """In a forked child: close the inherited sockets (never ``shutdown()`` them,
        which would end them for the parent) and wait for nothing."""
        self._live_lock = threading.Lock()
        live = list(self._live.values())
        self._live = {}
        with contextlib.suppress(OSError):
            self.socket.close()
        for conn in live:
            with contextlib.suppress(OSError):
                conn.close()

    def close_all(self) -> None:
        """Stop accepting, end every open connection and join every thread."""
        self.shutdown()
        self.server_close()
        with self._live_lock:
            live = list(self._live.items())
        for _thread, conn in live:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for thread, _conn in live:
            thread.join(_JOIN_TIMEOUT_S)


class _Server(TrackingHTTPServer):
    """The flext-otel server: its pipeline, token and per-connection timeout."""

    def __init__(
        self,
        address: tuple[str, int],
        otel: FlextOtel | None,
        token: str | None,
        connection_timeout: float,
    ) -> None:
        self.otel = otel
        self.token = token
        self.connection_timeout = connection_timeout
        super().__init__(address, _Handler)

    @property
    def max_connections(self) -> int | None:  # type: ignore[override]
        """The module's MAX_CONNECTIONS, read when each connection arrives."""
        return MAX_CONNECTIONS

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A broken client connection is the client's problem; keep serving quietly."""
        _logger.debug("flext-otel http: error serving %s", client_address, exc_info=True)


class HttpServerHandle:
    """A running :func:`serve_http` server: ``.url``, ``.host``, ``.port``, ``.close()``.

    ``close()`` is idempotent: it stops the server, ends open connections, joins
    the threads and frees the port. Usable as a context manager.
    """

    def __init__(self, server: _Server, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self._lock = threading.Lock()
        self._closed = False
        self.host = host
        self.port: int = int(server.server_address[1])
        self.pid = os.getpid()
        """The process that serves (a forked child inherits the handle, not the server)."""
        process.on_fork(self)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9464`` (append ``/metrics``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Stop serving, end open connections, join the threads and free the port.

        In a process that inherited the handle through ``fork()`` this only releases
        the inherited sockets: the serving loop runs in the parent, not here.
        """
        if self.pid != os.getpid():
            self._after_fork_in_child()
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._server.close_all()
            self._thread.join(_JOIN_TIMEOUT_S)

    def _before_fork(self) -> None:
        self._lock.acquire()  # no close() half done when the child is made

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        """Release the inherited listening socket and connections without touching the
        parent's: ``close()`` only (``shutdown()`` would end them for the parent too)."""
        self._lock = threading.Lock()
        if self._closed:
            return
        self._closed = True
        self._server.release_inherited()
        if self._server.otel is None or not self._server.otel.is_shutdown:
            warn_not_served_here(self.url, self.pid)

    def __enter__(self) -> HttpServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpServerHandle({self.url!r}{', closed' if self._closed else ''})"


def serve_http(
    otel: FlextOtel | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    token: str | None = None,
    connection_timeout: float = CONNECTION_TIMEOUT_S,
) -> HttpServerHandle:
    """Serve ``/metrics``, ``/health``, ``/ready`` (and registered routes) in a daemon thread.

    ``otel=None`` serves whichever pipeline is current at each request, so the
    server follows reconfiguration. ``port=0`` picks a free port (read it from
    the handle). ``token`` (else the pipeline's ``http_token`` option,
    ``FLEXT_OTEL_HTTP_TOKEN``) makes every route require
    ``Authorization: Bearer <token>``. ``connection_timeout`` bounds how long a
    connection may stay silent. Raises ``OSError`` when the address cannot be bound.
    """
    if token is not None and not token:
        raise ValueError("token must not be empty (pass None for no token)")
    if not isinstance(host, str) or not host:
        raise TypeError(f"host must be a non-empty string, not {host!r}")
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65_535:
        raise ValueError(f"port must be in 0..65535, not {port}")
    if connection_timeout <= 0:
        raise ValueError(f"connection_timeout must be > 0, not {connection_timeout}")
    try:
        server = _Server((host, port), otel, token, connection_timeout)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot serve HTTP on {host}:{port}: {exc.strerror}") from exc
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL_S},
        name="flext-otel-http",
        daemon=True,
    )
    thread.start()
    return HttpServerHandle(server, thread, host)


__all__ = [
    "DEFAULT_PORT",
    "HUB_FIX",
    "HttpServerHandle",
    "PublicRule",
    "RequestInfo",
    "Response",
    "RouteHandler",
    "health_route",
    "metrics_route",
    "port_conflict_message",
    "port_owner",
    "ready_route",
    "register_route",
    "serve_http",
    "warn_port_conflict",
]
