"""serve_http and the live view on their edges: broken rules, short bodies, odd queries."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from flext_otel.testing import Captured
from flext_otel.web import liveview
from flext_otel.web.server import HttpServerHandle, RequestInfo, register_route, serve_http


@pytest.fixture
def server(cap: Captured) -> Iterator[HttpServerHandle]:
    """A server with the token 'tok'."""
    with serve_http(cap.otel, port=0, token="tok") as handle:
        yield handle


def raw(server: HttpServerHandle, request: bytes) -> bytes:
    """Send raw bytes, half-close, read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65_536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_public_rule_that_raises_keeps_the_route_guarded(server: HttpServerHandle) -> None:
    """A broken public rule is treated as 'not public': the token is still required."""

    def broken(method: str, path: str) -> bool:
        raise RuntimeError("rule bug")

    undo = register_route("GET", "/odd", lambda r: (200, {}, b"odd"), public=broken)
    try:
        assert raw(server, b"GET /odd HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 401")
        answer = raw(server, b"GET /odd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        undo()


def test_a_body_shorter_than_its_length_is_not_handed_to_the_route(
    server: HttpServerHandle,
) -> None:
    """A POST whose body ends before Content-Length never reaches the handler."""
    seen: list[RequestInfo] = []

    def handler(request: RequestInfo) -> tuple[int, dict[str, str], bytes]:
        seen.append(request)
        return 200, {}, b"ok"

    undo = register_route("POST", "/ingest", handler)
    try:
        answer = raw(
            server,
            b"POST /ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\n"
            b"Content-Length: 100\r\n\r\nonly a few bytes",
        )
    finally:
        undo()
    assert seen == []
    assert b"200" not in answer.split(b"\r\n", 1)[0]


def test_register_route_refuses_a_handler_that_is_not_callable() -> None:
    """A non-callable handler is a TypeError at registration, not a 500 later."""
    with pytest.raises(TypeError, match="handler must be callable"):
        register_route("GET", "/x", "not a function")  # type: ignore[arg-type]


def test_handle_repr_says_when_it_is_closed(cap: Captured) -> None:
    """The handle's repr names its URL, and 'closed' once closed."""
    handle = serve_http(cap.otel, port=0)
    assert repr(handle) == f"HttpServerHandle({handle.url!r})"
    handle.close()
    assert repr(handle).endswith(", closed)")


def test_too_many_query_parameters_are_a_400(cap: Captured) -> None:
    """A query string with more parameters than the live view reads is refused."""
    query = "&".join(f"p{i}=1" for i in range(liveview.MAX_PARAMS + 5))
    answer = liveview.handle("GET", "/api/traces", query, cap.otel)
    assert answer is not None
    assert answer[0] == 400
    assert b"malformed query string" in answer[2]


def test_parsed_query_mappings_are_accepted(cap: Captured) -> None:
    """Parameters given as a mapping of strings or of lists read the same as a query string."""
    for query in ({"limit": "1"}, {"limit": ["1"]}):
        answer = liveview.handle("GET", "/api/logs", query, cap.otel)
        assert answer is not None
        assert answer[0] == 200


def test_level_names_cover_the_whole_severity_range() -> None:
    """Severity numbers map to OTel range names; 0 is unspecified."""
    assert liveview.level_name(0) == "unspecified"
    assert liveview.level_name(1) == "trace"
    assert liveview.level_name(9) == "info"
    assert liveview.level_name(24) == "fatal"
