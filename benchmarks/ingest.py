"""Hub ingest: spans/s from 4 producer processes, and memory at store capacity.

Throughput: 4 producer processes (spawned before timing) send pre-encoded OTLP
export requests (512 spans of 5 attributes each) as fast as the server answers,
over OTLP/HTTP (protobuf, keep-alive) and OTLP/gRPC, to

* the hub (:func:`flext_otel.hub.start_hub`): decode into store records, count per
  instance, store in the bounded ring buffer;
* ``OtlpReceiver`` (the test receiver), whose plain decode into frozen records
  appended to a list is the baseline.

Producers import, encode and connect before a barrier; the clock starts when all
four are through it. Each request is answered after its spans are stored, so when every producer is
done everything has arrived; the rate is spans / wall time. Ratio = hub / receiver.

Memory: 1,000,000 spans (20,000 with ``--quick``) go through ``Hub.ingest`` with
the default store capacity (10,000); RSS is read after the store is full and at
the end: the growth must stay small (the store is bounded, nothing else grows).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from typing import Any

from harness import Row, Settings, Target

from flext_otel.hub import Hub, start_hub
from flext_otel.hub import ingest as hub_ingest
from flext_otel.pipeline.options import resolve_options
from flext_otel.testing import OtlpReceiver

PRODUCERS = 4
SPANS_PER_REQUEST = 512
_TRACE_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def encoded_request(producer: int, index: int) -> bytes:
    """One export request: 512 spans with 5 attributes, from one producer instance."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    request = trace_service_pb2.ExportTraceServiceRequest()
    group = request.resource_spans.add()
    for key, value in (
        ("service.name", "bench"),
        ("service.instance.id", f"producer-{producer}"),
    ):
        attr = group.resource.attributes.add()
        attr.key, attr.value.string_value = key, value
    scope = group.scope_spans.add()
    scope.scope.name = "bench"
    base = (producer << 40) | (index << 16)
    for n in range(SPANS_PER_REQUEST):
        span = scope.spans.add()
        span.name = "GET /orders/{id}"
        span.trace_id = (base + n + 1).to_bytes(16, "big")
        span.span_id = (base + n + 1).to_bytes(8, "big")
        span.kind = 2
        span.start_time_unix_nano = 1_700_000_000_000_000_000 + n
        span.end_time_unix_nano = 1_700_000_000_000_500_000 + n
        for key, value in (
            ("http.method", "GET"),
            ("http.route", "/orders/{id}"),
            ("http.status_code", 200),
            ("user.id", "u-123"),
            ("region", "eu-west-1"),
        ):
            attr = span.attributes.add()
            attr.key = key
            if isinstance(value, int):
                attr.value.int_value = value
            else:
                attr.value.string_value = value
    return bytes(request.SerializeToString())


def _produce(
    protocol: str, address: str, producer: int, requests: int, start: Any, done: Any
) -> None:
    """A producer process: connect, meet the others at ``start`` (a barrier), send."""
    body = encoded_request(producer, 0)
    if protocol == "http":
        import http.client

        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.connect()
        start.wait()
        for _ in range(requests):
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise SystemExit(f"HTTP {answer.status}")
        done.wait()
        conn.close()
    else:
        import grpc

        with grpc.insecure_channel(address) as channel:
            export = channel.unary_unary(_TRACE_PATH)
            export(body, timeout=60)  # connect before timing
            start.wait()
            for _ in range(requests - 1):
                export(body, timeout=60)
            done.wait()


def _blast(protocol: str, address: str, requests: int) -> float:
    """Seconds for PRODUCERS processes to send ``requests`` requests each."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PRODUCERS + 1)
    done = context.Barrier(PRODUCERS + 1)
    producers = [
        context.Process(target=_produce, args=(protocol, address, p, requests, start, done))
        for p in range(PRODUCERS)
    ]
    for process in producers:
        process.start()
    start.wait(120)  # every producer imported, built its request and connected (untimed)
    began = time.perf_counter()
    done.wait(600)  # every producer had its last request answered
    seconds = time.perf_counter() - began
    for process in producers:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"producer failed with exit code {process.exitcode}")
    return seconds


def _hub_rate(protocol: str, requests: int) -> float:
    hub = Hub(resolve_options(environ={}, install_globals=False))
    with start_hub(hub, grpc_port=0, http_port=0, port=0) as server:
        port = server.grpc_port if protocol == "grpc" else server.http_port
        seconds = _blast(protocol, f"127.0.0.1:{port}", requests)
        received = hub.stats()["signals"]["traces"]["received"]
    if received != PRODUCERS * requests * SPANS_PER_REQUEST:
        raise RuntimeError(f"hub received {received} spans")
    return received / seconds


def _receiver_rate(protocol: str, requests: int) -> float:
    with OtlpReceiver(protocol) as receiver:  # type: ignore[arg-type]
        seconds = _blast(protocol, f"127.0.0.1:{receiver.port}", requests)
        received = len(receiver.spans())
    if received != PRODUCERS * requests * SPANS_PER_REQUEST:
        raise RuntimeError(f"receiver received {received} spans")
    return received / seconds


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def memory_row(total: int) -> Row:
    """RSS growth while ``total`` spans pass through a hub at store capacity."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    hub = Hub(resolve_options(environ={}, install_globals=False))
    capacity = hub.store.stats()["spans"].capacity
    requests = [
        trace_service_pb2.ExportTraceServiceRequest.FromString(encoded_request(p, i))
        for p in range(PRODUCERS)
        for i in range(2)
    ]
    sent = 0
    full_at: float | None = None
    while sent < total:
        hub.ingest(hub_ingest.TRACES, requests[(sent // SPANS_PER_REQUEST) % len(requests)])
        sent += SPANS_PER_REQUEST
        if full_at is None and sent >= 2 * capacity:
            full_at = _rss_mb()
    end = _rss_mb()
    growth = end - (full_at or end)
    stats = hub.store.stats()["spans"]
    return Row(
        case="ingest",
        subject=f"RSS growth over {sent:,} spans, store full ({capacity:,})",
        value=growth,
        unit="MB",
        target=Target("<=", 20.0, suffix=" MB", absolute=True),
        note=f"RSS {end:.0f} MB at the end; store size {stats.size:,}, evicted {stats.evicted:,}",
    )


def ingest(settings: Settings) -> list[Row]:
    """Hub vs OtlpReceiver over HTTP and gRPC, then the memory row."""
    requests = settings.scaled(100, 4)
    rounds = settings.scaled(3, 1)
    rows = []
    for protocol, label in (("http", "OTLP/HTTP protobuf"), ("grpc", "OTLP/gRPC")):
        hub_rates, rx_rates = [], []
        for index in range(rounds):
            sides = [_hub_rate, _receiver_rate]
            if index % 2:
                sides.reverse()
            for side in sides:
                rate = side(protocol, requests)
                (hub_rates if side is _hub_rate else rx_rates).append(rate)
        per_round = [h / r for h, r in zip(hub_rates, rx_rates, strict=True)]
        total = PRODUCERS * requests * SPANS_PER_REQUEST
        rows.append(
            Row(
                case="ingest",
                subject=f"{total:,} spans from {PRODUCERS} processes, {label}, into the hub",
                value=statistics.median(hub_rates),
                unit="spans/s",
                baseline="OtlpReceiver (plain decode)",
                baseline_value=statistics.median(rx_rates),
                ratio=statistics.median(per_round),
                target=Target(">=", 0.8),
                spread=(min(per_round), max(per_round)),
                note=f"{rounds} rounds",
            )
        )
    rows.append(memory_row(settings.scaled(1_000_000, 20_000)))
    return rows


__all__ = ["encoded_request", "ingest", "memory_row"]
