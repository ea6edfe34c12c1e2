"""The hub's OTLP receivers against hostile input: each refusal has the right OTLP
status, is counted as ``invalid`` in ``stats()`` and ``/health``, the hub keeps
serving, and what was stored before is still there."""

from __future__ import annotations

import gzip
import http.client
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from flext_otel.hub import Hub, HubServer, start_hub
from flext_otel.hub.ingest import MAX_BODY_BYTES
from flext_otel.pipeline.options import resolve_options

TRACE_ID = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def _request(*span_ids: bytes, trace_id: bytes = TRACE_ID, service: str = "svc") -> bytes:
    request = trace_service_pb2.ExportTraceServiceRequest()
    group = request.resource_spans.add()
    attr = group.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", service
    scope = group.scope_spans.add()
    for n, span_id in enumerate(span_ids):
        span = scope.spans.add()
        span.name = f"span-{n}"
        span.trace_id = trace_id
        span.span_id = span_id
        span.start_time_unix_nano = 1_000 + n
        span.end_time_unix_nano = 2_000 + n
    return bytes(request.SerializeToString())


@pytest.fixture
def server() -> Iterator[HubServer]:
    """A hub on free ports, with one span stored before anything hostile arrives."""
    hub = Hub(resolve_options(install_globals=False, traces_exporter="none"))
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as running:
        status, _, _ = _post(running, "/v1/traces", _request(b"\x01" * 8))
        assert status == 200
        yield running
        # afterwards: the hub still answers and the first span is intact
        assert running.hub.store.spans(trace_id=TRACE_ID.hex())[0].name == "span-0"
        with urllib.request.urlopen(running.ui_url + "/ready", timeout=5) as answer:
            assert answer.status == 200


def _post(
    server: HubServer,
    path: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    chunks: list[bytes] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        sent = {"Content-Type": "application/x-protobuf", **(headers or {})}
        if chunks is not None:
            conn.putrequest("POST", path)
            for name, value in {**sent, "Transfer-Encoding": "chunked"}.items():
                conn.putheader(name, value)
            conn.endheaders()
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request("POST", path, body=body, headers=sent)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def _invalid(server: HubServer) -> int:
    count: int = server.hub.stats()["invalid"]
    return count


def _health(server: HubServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.ui_url + "/health", timeout=5) as answer:
        report: dict[str, Any] = json.loads(answer.read())
    return report


def test_body_over_the_limit_is_413_before_it_is_read(server: HubServer) -> None:
    """A Content-Length over 20 MiB is refused with 413 and counted as invalid."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.putrequest("POST", "/v1/traces")
    conn.putheader("Content-Type", "application/x-protobuf")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()
    answer = conn.getresponse()
    assert answer.status == 413
    status = status_pb2.Status.FromString(answer.read())
    assert "limit" in status.message
    conn.close()
    assert _invalid(server) == 1
    assert _health(server)["invalid"] == 1


def test_gzip_bomb_is_413(server: HubServer) -> None:
    """A small gzip body inflating past the limit is refused (decoded size counts)."""
    bomb = gzip.compress(b"\0" * (MAX_BODY_BYTES + 1024))
    assert len(bomb) < 100_000
    status, _, _ = _post(server, "/v1/traces", bomb, {"Content-Encoding": "gzip"})
    assert status == 413
    assert _invalid(server) == 1


def test_gzip_and_chunked_bodies_are_accepted(server: HubServer) -> None:
    """Gzip bodies and chunked bodies without Content-Length (as JS exporters send) work."""
    body = _request(b"\x02" * 8)
    status, _, _ = _post(server, "/v1/traces", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 200
    status, _, _ = _post(server, "/v1/traces", b"", chunks=[body[:10], body[10:]])
    assert status == 200
    assert len(server.hub.store.spans(trace_id=TRACE_ID.hex())) == 3
    assert _invalid(server) == 0


def test_chunked_body_over_the_limit_is_413() -> None:
    """A chunked body is cut at the limit too."""
    hub = Hub(resolve_options(install_globals=False), max_body_bytes=1024)
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as running:
        status, _, _ = _post(running, "/v1/traces", b"", chunks=[b"x" * 600, b"y" * 600])
        assert status == 413
        assert running.hub.stats()["invalid"] == 1


@pytest.mark.parametrize(
    "body",
    [
        _request(b"\x03" * 8)[:-5],  # truncated
        b"\xff\xfe garbage \x00\x01",
    ],
    ids=["truncated", "garbage"],
)
def test_bad_protobuf_is_400(server: HubServer, body: bytes) -> None:
    """Truncated or garbage protobuf is a 400 with an OTLP Status body."""
    status, headers, answer = _post(server, "/v1/traces", body)
    assert status == 400
    assert headers["Content-Type"] == "application/x-protobuf"
    assert status_pb2.Status.FromString(answer).code == 3  # INVALID_ARGUMENT
    assert _invalid(server) == 1


@pytest.mark.parametrize("body", [b"[]", b'{"resourceSpans": "x"}', b"{not json"])
def test_json_of_the_wrong_shape_is_400(server: HubServer, body: bytes) -> None:
    """OTLP/JSON that is not an export request is a 400 with a JSON Status."""
    status, _, answer = _post(server, "/v1/traces", body, {"Content-Type": "application/json"})
    assert status == 400
    assert json.loads(answer)["code"] == 3
    assert _invalid(server) == 1


def test_wrong_content_type_is_415(server: HubServer) -> None:
    """A body that is neither protobuf nor JSON is a 415."""
    status, _, _ = _post(server, "/v1/traces", b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    assert _invalid(server) == 1


def test_unknown_path_is_404_and_get_is_405(server: HubServer) -> None:
    """Only POST /v1/traces|metrics|logs exist."""
    status, _, _ = _post(server, "/v1/nothing", b"")
    assert status == 404
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", "/v1/traces")
    assert conn.getresponse().status == 405
    conn.close()
    assert _invalid(server) == 2


def test_malformed_span_ids_get_a_partial_success(server: HubServer) -> None:
    """Spans with IDs of the wrong length are refused, the others stored: partial success."""
    status, _, answer = _post(server, "/v1/traces", _request(b"\x04" * 8, b"\x05" * 3))
    assert status == 200
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer)
    assert response.partial_success.rejected_spans == 1
    assert "refused" in response.partial_success.error_message
    assert len(server.hub.store.spans(trace_id=TRACE_ID.hex())) == 2
    assert server.hub.stats()["signals"]["traces"]["invalid"] == 1


def test_grpc_garbage_is_invalid_argument(server: HubServer) -> None:
    """Garbage over gRPC is INVALID_ARGUMENT, counted, and the server keeps serving."""
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as failure:
            export(b"\xff\xfe garbage", timeout=10)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert export(_request(b"\x06" * 8), timeout=10) == b""
    assert _invalid(server) == 1
    assert len(server.hub.store.spans(trace_id=TRACE_ID.hex())) == 2


def test_grpc_message_over_the_limit_is_resource_exhausted() -> None:
    """A gRPC message over the limit is refused by grpcio (RESOURCE_EXHAUSTED)."""
    hub = Hub(resolve_options(install_globals=False), max_body_bytes=1024)
    with (
        start_hub(hub, grpc_port=0, http_port=0, port=0) as running,
        grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel,
    ):
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as failure:
            export(b"\x0a" + b"x" * 2048, timeout=10)
        assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert running.hub.stats()["invalid"] == 1
        with pytest.raises(grpc.RpcError) as beyond:
            export(b"\x0a" + b"x" * 8192, timeout=10)  # grpcio's own limit
        assert beyond.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_api_key_is_required_when_set() -> None:
    """With an API key, ingest without it is 401 / UNAUTHENTICATED; with it, stored."""
    hub = Hub(resolve_options(install_globals=False), api_key="s3cret")
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as running:
        assert _post(running, "/v1/traces", _request(b"\x07" * 8))[0] == 401
        good = {"Authorization": "Bearer s3cret"}
        assert _post(running, "/v1/traces", _request(b"\x07" * 8), good)[0] == 200
        with grpc.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
            )
            with pytest.raises(grpc.RpcError) as failure:
                export(_request(b"\x08" * 8), timeout=10)
            assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
            export(_request(b"\x08" * 8), metadata=(("api-key", "s3cret"),), timeout=10)
        assert len(running.hub.store.spans()) == 2
        assert running.hub.stats()["unauthorized"] == 2


def test_busy_port_is_an_error_naming_it(server: HubServer) -> None:
    """A second hub on a taken port fails with an OSError that names the port."""
    with pytest.raises(OSError, match=str(server.http_port)):
        start_hub(
            Hub(resolve_options(install_globals=False)),
            grpc_port=0,
            http_port=server.http_port,
            port=0,
        )
    with pytest.raises(OSError, match=str(server.grpc_port)):
        start_hub(
            Hub(resolve_options(install_globals=False)),
            grpc_port=server.grpc_port,
            http_port=0,
            port=0,
        )


def test_otlp_json_with_hex_ids_is_stored(server: HubServer) -> None:
    """OTLP/JSON as the JavaScript exporters send it (hex IDs) is decoded and stored."""
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE_ID.hex(),
                                "spanId": "0102030405060708",
                                "name": "from-json",
                                "kind": 2,
                                "startTimeUnixNano": "1000",
                                "endTimeUnixNano": "2000",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    status, headers, answer = _post(
        server, "/v1/traces", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(answer) == {}
    [record] = server.hub.store.spans(name="from-json")
    assert (record.kind, record.resource["service.name"]) == ("server", "js")
    assert server.hub.otel.stats()["requests:hub"].exported == 2


def test_a_request_that_cannot_be_ingested_is_400_not_a_silent_success(
    server: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If storing fails unexpectedly the client hears 400, never a false 200."""

    def broken(request: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.hub, "_spans", broken)
    status, _, answer = _post(server, "/v1/traces", _request(b"\x09" * 8))
    assert status == 400
    assert "boom" in status_pb2.Status.FromString(answer).message
    assert _invalid(server) == 1
    monkeypatch.undo()


def test_a_client_sending_a_whole_oversized_body_reads_the_413(server: HubServer) -> None:
    """A client that writes all of a 21 MiB body still gets the 413, not a reset."""
    status, _, answer = _post(server, "/v1/traces", b"\0" * (MAX_BODY_BYTES + 1024 * 1024))
    assert status == 413
    assert "limit" in status_pb2.Status.FromString(answer).message
    assert _invalid(server) == 1


def test_refusals_with_a_body_keep_the_connection_usable() -> None:
    """After a 401 or a 404 the same keep-alive connection serves the next request."""
    hub = Hub(resolve_options(install_globals=False), api_key="k")
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.http_port, timeout=10)
        body = _request(b"\x0a" * 8)
        protobuf = {"Content-Type": "application/x-protobuf"}
        for path, headers, expected in (
            ("/v1/traces", protobuf, 401),
            ("/v1/nowhere", {**protobuf, "Authorization": "Bearer k"}, 404),
            ("/v1/traces", {**protobuf, "Authorization": "Bearer k"}, 200),
        ):
            conn.request("POST", path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            assert answer.status == expected
        conn.close()
        assert len(running.hub.store.spans()) == 1
