"""OtlpReceiver over HTTP refuses malformed requests with the right status and keeps serving."""

from __future__ import annotations

import gzip
import http.client
import socket
import zlib
from collections.abc import Callable, Iterator

import pytest
from conftest import missing_backend

try:
    from flext_otel.testing import OtlpReceiver
except ImportError as exc:  # grpcio / opentelemetry-proto missing
    missing_backend(f"OtlpReceiver needs grpcio and opentelemetry-proto: {exc}")

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A running HTTP receiver."""
    with OtlpReceiver("http") as running:
        yield running


def post(
    receiver: OtlpReceiver, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One POST on a fresh connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        conn.request("POST", path, body=body, headers={**PROTOBUF, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw(receiver: OtlpReceiver, request: bytes) -> bytes:
    """Send raw bytes, read the answer until the server closes or 5 s pass."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65_536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_empty_export_is_accepted_in_protobuf_and_json(receiver: OtlpReceiver) -> None:
    """An empty protobuf body and an empty JSON object are valid export requests."""
    assert post(receiver, "/v1/traces", b"")[0] == 200
    status, body = post(receiver, "/v1/logs", b"{}", {"Content-Type": "application/json"})
    assert status == 200
    assert body.startswith(b"{")
    assert receiver.rejected == 0


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/v1/nothing", b"", {}, 404),
        ("/v1/traces", b"abc", {"Content-Encoding": "br"}, 415),
        ("/v1/traces", b"not gzip at all", {"Content-Encoding": "gzip"}, 400),
        ("/v1/traces", b"\xff\xfe garbage", {}, 400),
        ("/v1/traces", b"{not json", {"Content-Type": "application/json"}, 400),
    ],
)
def test_bad_requests_are_refused_and_counted(
    receiver: OtlpReceiver, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    """Unknown paths, encodings, corrupt bodies and bad JSON get 4xx and count as rejected."""
    got, _ = post(receiver, path, body, headers)
    assert got == status
    assert receiver.rejected == 1
    assert post(receiver, "/v1/traces", b"")[0] == 200  # and the receiver keeps serving


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib header
    ],
)
def test_compressed_bodies_are_accepted(
    receiver: OtlpReceiver, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    """gzip, zlib-wrapped and raw deflate bodies decode."""
    body = compress(b"{}")
    headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
    assert post(receiver, "/v1/metrics", body, headers)[0] == 200


def test_a_decompression_bomb_is_refused(receiver: OtlpReceiver) -> None:
    """A small gzip body that inflates past the size limit is a 413."""
    bomb = gzip.compress(b"\0" * (70 * 1024 * 1024))
    assert post(receiver, "/v1/traces", bomb, {"Content-Encoding": "gzip"})[0] == 413


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"", b"411"),
        (b"Content-Length: lots\r\n", b"400"),
        (b"Content-Length: -5\r\n", b"413"),
        (b"Content-Length: 999999999999\r\n", b"413"),
        (b"Content-Length: 100\r\n", b"400"),  # the body ends early
    ],
)
def test_body_length_problems_are_refused(
    receiver: OtlpReceiver, headers: bytes, status: bytes
) -> None:
    """Missing, malformed, negative, huge or unmet Content-Length get 411/400/413."""
    answer = raw(
        receiver,
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        + headers
        + b"\r\nshort",
    )
    assert answer.split(b" ", 2)[1] == status


@pytest.mark.parametrize("status", [429, 503, 500, 400])
def test_injected_http_failures_use_the_status(receiver: OtlpReceiver, status: int) -> None:
    """set_failure(status) answers every export with that status until cleared."""
    receiver.set_failure(status)
    assert post(receiver, "/v1/traces", b"")[0] == status
    receiver.set_failure(None)
    assert post(receiver, "/v1/traces", b"")[0] == 200


def test_argument_checks() -> None:
    """Bad ports and signals are refused with ValueError."""
    with pytest.raises(ValueError, match="port"):
        OtlpReceiver("http", port=70_000)
    with pytest.raises(ValueError, match="signal"):
        OtlpReceiver("http").signal_endpoint("profiles")  # type: ignore[arg-type]
    grpc_receiver = OtlpReceiver("grpc", port=1234)
    assert grpc_receiver.signal_endpoint("traces") == "http://127.0.0.1:1234"
    assert OtlpReceiver("http", host="::1", port=1).endpoint == "http://[::1]:1"
