"""serve_http: /metrics, /health, /ready, the bearer token, the route registry and hostile input."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping

import pytest
from conftest import PROMTOOL_BIN, require_binary

from flext_otel.domain.entities import FlextHealthCheck
from flext_otel.testing import Captured, capture
from flext_otel.web import server as flext_http
from flext_otel.web.server import HttpServerHandle, RequestInfo, register_route, serve_http

Reply = tuple[int, dict[str, str], bytes]


CAPTURE_SERVICE = "http-test"


def call(
    server: HttpServerHandle,
    path: str,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One request on a fresh connection: (status, lowercase headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def raw(server: HttpServerHandle, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes and read until the server closes or the response is complete."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            data = b"".join(chunks)
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
        return b"".join(chunks)


@pytest.fixture
def server(cap: Captured) -> Iterator[HttpServerHandle]:
    """serve_http on a free port for the private pipeline."""
    with serve_http(cap.otel, port=0) as handle:
        yield handle


def record_metrics(cap: Captured, prefix: str = "shop") -> None:
    meter = cap.otel.meter_provider.get_meter("test.http")
    counter = meter.create_counter(f"{prefix}_orders", unit="1", description="Orders placed")
    counter.add(3, {"region": "eu"})
    counter.add(4, {"region": "us"})
    histogram = meter.create_histogram(
        f"{prefix}_latency", unit="s", description="Checkout latency"
    )
    for value in (0.2, 0.7, 3.0):
        histogram.record(value)


# -- /metrics ----------------------------------------------------------------------------


def test_metrics_serves_prometheus_text_of_the_private_registry(
    cap: Captured, server: HttpServerHandle
) -> None:
    """GET /metrics returns the recorded counter and histogram in text format 0.0.4."""
    record_metrics(cap)
    status, headers, body = call(server, "/metrics")
    text = body.decode()
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'shop_orders_total{otel_scope_name="test.http"' in text
    assert 'region="eu"} 3.0' in text
    assert "shop_latency_seconds_count" in text
    assert 'service_name="http-test"' in text  # target_info carries the resource


def test_metrics_honours_openmetrics_accept_header(cap: Captured, server: HttpServerHandle) -> None:
    """An OpenMetrics Accept header gets OpenMetrics, terminated by # EOF."""
    record_metrics(cap)
    status, headers, body = call(
        server, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_metrics_is_gzipped_when_accepted(cap: Captured, server: HttpServerHandle) -> None:
    """Accept-Encoding: gzip compresses the exposition."""
    record_metrics(cap)
    status, headers, body = call(server, "/metrics", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert b"shop_orders_total" in gzip.decompress(body)


def test_metrics_name_filter_restricts_the_output(cap: Captured, server: HttpServerHandle) -> None:
    """name[]=... keeps only the named series, as prometheus_client's server does."""
    record_metrics(cap)
    status, _, body = call(server, "/metrics?name[]=shop_orders_total")
    assert status == 200
    assert b"shop_orders_total" in body
    assert b"shop_latency" not in body


def test_metrics_without_the_extra_is_501_naming_the_install(
    cap: Captured, server: HttpServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline without a registry, and no prometheus extra, answers 501 with the fix."""
    monkeypatch.setattr(cap.otel, "prometheus_registry", None)
    monkeypatch.setattr(flext_http, "prometheus_available", lambda: False)
    status, _, body = call(server, "/metrics")
    assert status == 501
    assert b"pip install 'flext-otel[prometheus]'" in body


def test_metrics_of_a_disabled_sdk_is_501() -> None:
    """OTEL_SDK_DISABLED pipelines have no registry: /metrics says so with 501."""
    with capture(sdk_disabled=True) as disabled, serve_http(disabled.otel, port=0) as handle:
        status, _, body = call(handle, "/metrics")
    assert status == 501
    assert b"OTEL_SDK_DISABLED" in body


def test_metrics_output_passes_promtool(cap: Captured, server: HttpServerHandle) -> None:
    """promtool check metrics never finds a parse error (exit 1) in our text /metrics."""
    promtool = require_binary(PROMTOOL_BIN)
    record_metrics(cap)
    cap.otel.health_adapter.record(FlextHealthCheck("db", "degraded"))
    # promtool reads the Prometheus text format (OpenMetrics is checked by Prometheus itself).
    _, headers, body = call(server, "/metrics", headers={"Accept": "text/plain"})
    assert headers["content-type"].startswith("text/plain")
    assert b"flext_health_status" in body
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode != 1, result.stderr.decode() + result.stdout.decode()
    assert b"error" not in result.stderr.lower()


# -- /health -----------------------------------------------------------------------------


def test_health_reports_unknown_with_pipelines_when_no_checks(server: HttpServerHandle) -> None:
    """Without checks /health is 200, status unknown, with every pipeline's counters."""
    status, headers, body = call(server, "/health")
    report = json.loads(body)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert report["status"] == "unknown"
    assert set(report["pipelines"]) >= {"traces:store", "logs:store"}
    pipeline = report["pipelines"]["traces:store"]
    wanted = {"accepted", "exported", "dropped", "queue_depth", "last_export_ok", "last_error"}
    assert wanted <= set(pipeline)


@pytest.mark.parametrize(
    ("statuses", "overall", "code"),
    [
        (("healthy",), "healthy", 200),
        (("healthy", "degraded"), "degraded", 200),
        (("healthy", "unhealthy"), "unhealthy", 503),
    ],
)
def test_health_status_code_follows_the_overall_status(
    cap: Captured,
    server: HttpServerHandle,
    statuses: tuple[str, ...],
    overall: str,
    code: int,
) -> None:
    """/health is 200 when healthy or degraded and 503 when a component is unhealthy."""
    for index, status in enumerate(statuses):
        cap.otel.health_adapter.record(
            FlextHealthCheck(f"component-{index}", status, message=f"is {status}")
        )
    got, _, body = call(server, "/health")
    report = json.loads(body)
    assert got == code
    assert report["status"] == overall
    assert report["components"][f"component-{len(statuses) - 1}"]["status"] == statuses[-1]


def test_health_shows_exporter_pipeline_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exporter pipeline's last export error and loss counters appear in /health."""
    with (
        capture(
            traces_exporter="otlp",
            otlp_endpoint="http://127.0.0.1:9",  # discard port: nothing listens
            otlp_timeout_ms=200,
            bsp_schedule_delay_ms=10,
            bsp_export_timeout_ms=300,
        ) as failing,
        serve_http(failing.otel, port=0) as handle,
    ):
        with failing.otel.tracer_provider.get_tracer("t").start_as_current_span("lost"):
            pass
        failing.otel.force_flush(2_000)
        _, _, body = call(handle, "/health")
    pipeline = json.loads(body)["pipelines"]["traces:otlp"]
    assert pipeline["accepted"] == 1
    assert pipeline["last_export_ok"] is False
    assert pipeline["last_error"]
    assert pipeline["dropped"].get("export_failed", 0) == 1


# -- /ready ------------------------------------------------------------------------------


def test_ready_is_200_until_shutdown_then_503(cap: Captured, server: HttpServerHandle) -> None:
    """/ready answers 200 while the pipeline runs and 503 once it is shut down."""
    status, _, body = call(server, "/ready")
    assert (status, json.loads(body)["ready"]) == (200, True)
    cap.otel.shutdown()
    status, _, body = call(server, "/ready")
    assert status == 503
    assert json.loads(body) == {"ready": False, "reason": "shut down"}


def test_ready_follows_configure_when_not_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a pipeline argument /ready is 503 until a pipeline is chosen and 200 after."""
    with capture() as configured_one, serve_http(port=0) as handle:
        monkeypatch.setattr(flext_http, "chosen", lambda: None)
        status, _, body = call(handle, "/ready")
        assert (status, json.loads(body)["reason"]) == (503, "not configured")
        monkeypatch.setattr(flext_http, "chosen", lambda: configured_one.otel)
        assert call(handle, "/ready")[0] == 200


def test_ready_agrees_with_the_other_routes_under_capture() -> None:
    """An unpinned server inside capture() is ready, like /metrics and /health serve it."""
    with capture(), serve_http(port=0) as handle:
        assert call(handle, "/ready")[0] == 200


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"port": "abc"}, TypeError),
        ({"port": True}, TypeError),
        ({"port": 70_000}, ValueError),
        ({"host": 5}, TypeError),
        ({"host": ""}, TypeError),
    ],
)
def test_serve_http_rejects_bad_arguments_by_name(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    """Bad host/port arguments raise an error that names the argument."""
    with pytest.raises(error, match=next(iter(kwargs))):
        serve_http(**kwargs)  # type: ignore[arg-type]


def test_unpinned_server_follows_the_current_pipeline() -> None:
    """otel=None resolves the current pipeline per request, so it follows reconfiguration."""
    with serve_http(port=0) as handle:
        with capture() as first:
            record_metrics(first, "first")
            assert b"first_orders_total" in call(handle, "/metrics")[2]
        with capture() as second:
            record_metrics(second, "second")
            body = call(handle, "/metrics")[2]
    assert b"second_orders_total" in body
    assert b"first_orders_total" not in body


# -- HEAD, 404, 405 ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
def test_head_returns_headers_without_body(server: HttpServerHandle, path: str) -> None:
    """HEAD answers like GET, with the GET body's length, and sends no body."""
    get_status, _, get_body = call(server, path)
    head_status, headers, head_body = call(server, path, method="HEAD")
    assert head_status == get_status == 200
    assert head_body == b""
    assert int(headers["content-length"]) == len(get_body)


@pytest.mark.parametrize("path", ["/nope", "/metrics/extra", "/healthz", "/api/nothing-here"])
def test_unknown_path_is_404(server: HttpServerHandle, path: str) -> None:
    """Paths no route matches answer 404."""
    assert call(server, path)[0] == 404


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "BREW"])
def test_wrong_method_is_405_with_allow(server: HttpServerHandle, method: str) -> None:
    """A method the route does not serve answers 405 naming the allowed ones."""
    status, headers, _ = call(server, "/metrics", method=method, body=b"x")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


# -- token -------------------------------------------------------------------------------


@pytest.fixture
def guarded(cap: Captured) -> Iterator[HttpServerHandle]:
    """A server requiring the bearer token 's3cr3t'."""
    with serve_http(cap.otel, port=0, token="s3cr3t") as handle:
        yield handle


@pytest.mark.parametrize("path", ["/metrics", "/health", "/ready", "/nope"])
def test_token_missing_is_401_with_challenge(guarded: HttpServerHandle, path: str) -> None:
    """Without a token every path, even an unknown one, answers 401 with WWW-Authenticate."""
    status, headers, body = call(guarded, path)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert b"s3cr3t" not in body


@pytest.mark.parametrize(
    "authorization", ["Bearer wrong", "Bearer s3cr3", "Basic czNjcjN0", "s3cr3t", "Bearer "]
)
def test_token_wrong_is_401(guarded: HttpServerHandle, authorization: str) -> None:
    """A wrong token or scheme answers 401 with error=invalid_token."""
    status, headers, _ = call(guarded, "/ready", headers={"Authorization": authorization})
    assert status == 401
    assert 'error="invalid_token"' in headers["www-authenticate"]


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_token_right_is_accepted(guarded: HttpServerHandle, scheme: str) -> None:
    """The right token (scheme case-insensitive) reaches the route."""
    status, _, _ = call(guarded, "/health", headers={"Authorization": f"{scheme} s3cr3t"})
    assert status == 200


def test_token_comes_from_the_http_token_option() -> None:
    """FLEXT_OTEL_HTTP_TOKEN (the http_token option) guards the routes too."""
    with capture(http_token="from-options") as guarded, serve_http(guarded.otel, port=0) as handle:
        assert call(handle, "/ready")[0] == 401
        ok = call(handle, "/ready", headers={"Authorization": "Bearer from-options"})
    assert ok[0] == 200


def test_public_routes_need_no_token(guarded: HttpServerHandle) -> None:
    """Routes registered public (or whose rule holds) skip the token; the rest keep it."""
    undo_shell = register_route("GET", "/ui", lambda r: (200, {}, b"shell"), public=True)
    undo_api = register_route(
        "GET", "/api/", lambda r: (200, {}, b"api"), public=lambda m, p: p == "/api/open"
    )
    try:
        assert call(guarded, "/ui")[:3:2] == (200, b"shell")
        assert call(guarded, "/ui", method="HEAD")[0] == 200
        assert call(guarded, "/api/open")[0] == 200
        assert call(guarded, "/api/closed")[0] == 401
        assert call(guarded, "/metrics")[0] == 401
    finally:
        undo_shell()
        undo_api()


def test_token_must_not_be_empty(cap: Captured) -> None:
    """An empty token is refused instead of silently serving unguarded."""
    with pytest.raises(ValueError, match="token"):
        serve_http(cap.otel, port=0, token="")


# -- malformed requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\xff\x16\x03garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /health HTTP/9.9 extra words\r\n\r\n",
        b"G(T /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    ],
)
def test_garbage_is_400_and_the_server_keeps_serving(
    server: HttpServerHandle, payload: bytes
) -> None:
    """Garbage bytes answer 400 and later requests still succeed."""
    answer = raw(server, payload)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    assert call(server, "/ready")[0] == 200


def test_huge_header_line_is_431(server: HttpServerHandle) -> None:
    """A header line over 64 KiB answers 431."""
    answer = raw(server, b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431")
    assert call(server, "/health")[0] == 200


def test_too_many_headers_is_431(server: HttpServerHandle) -> None:
    """More than 100 header lines answer 431."""
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = raw(server, b"GET /health HTTP/1.1\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431")


def test_huge_request_line_is_414(server: HttpServerHandle) -> None:
    """A request line over 64 KiB answers 414."""
    answer = raw(server, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414")


def test_stalled_connection_does_not_block_other_requests(cap: Captured) -> None:
    """A half-sent request neither blocks others nor lives past the connection timeout."""
    with serve_http(cap.otel, port=0, connection_timeout=1.5) as handle:
        stalled = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
        try:
            stalled.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            started = time.monotonic()
            assert call(handle, "/ready")[0] == 200
            assert time.monotonic() - started < 1.0  # answered before the stall timed out
            assert stalled.recv(1024) == b""  # the server dropped the silent connection
        finally:
            stalled.close()


def test_keep_alive_serves_several_requests_on_one_connection(server: HttpServerHandle) -> None:
    """HTTP/1.1 keep-alive: two requests on one connection both succeed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        for path in ("/ready", "/health"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
    finally:
        conn.close()


def test_connections_beyond_the_limit_get_503(
    cap: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_CONNECTIONS open connections a new one is answered 503 and closed."""
    monkeypatch.setattr(flext_http, "MAX_CONNECTIONS", 1)
    with serve_http(cap.otel, port=0) as handle:
        holder = socket.create_connection(("127.0.0.1", handle.port), timeout=5)
        try:
            holder.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
            assert holder.recv(12) == b"HTTP/1.1 200"  # its thread is live now
            assert raw(handle, b"GET /ready HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 503")
        finally:
            holder.close()


def test_request_noise_never_reaches_stderr(
    server: HttpServerHandle, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Requests and errors are logged at DEBUG on flext_otel.web.server, not written to stderr."""
    with caplog.at_level(logging.DEBUG, logger="flext_otel.web.server"):
        call(server, "/ready")
        raw(server, b"\x00garbage\r\n\r\n")
    assert capfd.readouterr().err == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "flext_otel.web.server"]
    assert any("GET /ready" in m for m in messages)
    assert any("400" in m for m in messages)
    assert all(
        r.levelno == logging.DEBUG for r in caplog.records if r.name == "flext_otel.web.server"
    )


# -- the route registry --------------------------------------------------------------------


def test_registered_prefix_route_receives_request_info(
    cap: Captured, server: HttpServerHandle
) -> None:
    """A route registered under /api/ gets method, path, query, headers and the pipeline."""
    seen: list[RequestInfo] = []

    def handler(request: RequestInfo) -> flext_http.Response:
        seen.append(request)
        return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

    unregister = register_route("GET", "/api/", handler)
    try:
        status, headers, body = call(server, "/api/spans?limit=5&limit=6", headers={"X-Test": "1"})
    finally:
        unregister()
    assert (status, body, headers["content-type"]) == (200, b'{"ok": true}', "application/json")
    request = seen[0]
    assert (request.method, request.path) == ("GET", "/api/spans")
    assert request.query["limit"] == ("5", "6")
    assert request.headers["x-test"] == "1"
    assert request.otel is cap.otel
    assert request.pinned is True
    assert call(server, "/api/spans")[0] == 404  # unregistered


def test_registered_post_route_gets_the_body(server: HttpServerHandle) -> None:
    """A POST route receives the request body; GET on it is 405."""
    unregister = register_route("post", "/api/echo", lambda r: (201, {}, r.body[::-1]))
    try:
        assert call(server, "/api/echo", method="POST", body=b"abc")[:3:2] == (201, b"cba")
        status, headers, _ = call(server, "/api/echo")
    finally:
        unregister()
    assert (status, headers["allow"]) == (405, "POST")


def test_longest_prefix_wins_and_root_catches_the_rest(server: HttpServerHandle) -> None:
    """'/' catches unknown paths, but /metrics and a longer /api/ prefix keep theirs."""
    undo_root = register_route("GET", "/", lambda r: (200, {}, b"ui"))
    undo_api = register_route("GET", "/api/", lambda r: (200, {}, b"api"))
    try:
        assert call(server, "/index.html")[2] == b"ui"
        assert call(server, "/api/x")[2] == b"api"
        assert call(server, "/ready")[0] == 200
        assert b"ready" in call(server, "/ready")[2]
    finally:
        undo_root()
        undo_api()


def test_unregistering_a_replacement_restores_the_previous_route(
    server: HttpServerHandle,
) -> None:
    """Replacing a route and unregistering the replacement brings the original back."""
    undo_first = register_route("GET", "/api/layered", lambda r: (200, {}, b"first"))
    try:
        undo_second = register_route("GET", "/api/layered", lambda r: (200, {}, b"second"))
        assert call(server, "/api/layered")[2] == b"second"
        undo_second()
        undo_second()  # idempotent
        assert call(server, "/api/layered")[2] == b"first"
    finally:
        undo_first()
    assert call(server, "/api/layered")[0] == 404


def test_failing_route_is_500_and_the_server_survives(
    server: HttpServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises answers 500 without leaking the error; the server keeps serving."""

    def broken(request: RequestInfo) -> flext_http.Response:
        raise RuntimeError("secret detail")

    unregister = register_route("GET", "/api/broken", broken)
    try:
        status, _, body = call(server, "/api/broken")
    finally:
        unregister()
    assert status == 500
    assert b"secret detail" not in body
    assert call(server, "/ready")[0] == 200


def test_oversized_and_chunked_bodies_are_refused(server: HttpServerHandle) -> None:
    """Bodies over MAX_BODY_BYTES answer 413; chunked bodies answer 411."""
    unregister = register_route("POST", "/api/in", lambda r: (200, {}, b""))
    try:
        too_big = b"POST /api/in HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (
            flext_http.MAX_BODY_BYTES + 1
        )
        assert raw(server, too_big).startswith(b"HTTP/1.1 413")
        chunked = b"POST /api/in HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
        assert raw(server, chunked).startswith(b"HTTP/1.1 411")
    finally:
        unregister()


@pytest.mark.parametrize(
    ("method", "prefix"), [("GET /", "/x"), ("", "/x"), ("GET", "x"), ("GET", "")]
)
def test_register_route_validates(method: str, prefix: str) -> None:
    """Methods must be HTTP tokens and prefixes must start with '/'."""
    with pytest.raises(ValueError, match=r"method|path_prefix"):
        register_route(method, prefix, lambda r: (200, {}, b""))


# -- the handle ----------------------------------------------------------------------------


def test_handle_reports_url_and_binds_loopback(server: HttpServerHandle) -> None:
    """port=0 picks a free port on 127.0.0.1 and the url names it."""
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_close_is_idempotent_and_frees_the_port(cap: Captured) -> None:
    """close() twice is fine, stops answering and frees the port for a new server."""
    handle = serve_http(cap.otel, port=0)
    port = handle.port
    keep_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    keep_alive.request("GET", "/ready")
    keep_alive.getresponse().read()  # an idle keep-alive connection stays open
    handle.close()
    handle.close()
    assert handle.closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with serve_http(cap.otel, port=port) as again:
        assert call(again, "/ready")[0] == 200
    keep_alive.close()


def test_binding_a_busy_port_raises_oserror(server: HttpServerHandle, cap: Captured) -> None:
    """A port already served raises OSError naming the address."""
    with pytest.raises(OSError, match=f"127.0.0.1:{server.port}"):
        serve_http(cap.otel, port=server.port)


def test_serve_http_validates_arguments(cap: Captured) -> None:
    """Out-of-range ports and non-positive timeouts are refused."""
    with pytest.raises(ValueError, match="port"):
        serve_http(cap.otel, port=70_000)
    with pytest.raises(ValueError, match="connection_timeout"):
        serve_http(cap.otel, port=0, connection_timeout=0)
