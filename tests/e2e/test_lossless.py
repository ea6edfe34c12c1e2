"""Lossless, non-blocking export against real OTLP receivers (gRPC and HTTP).

Every claim of the pipeline's export contract is measured end to end: bursts
arrive whole or their loss is counted exactly, a collector that is down or hangs
never blocks or crashes the application and costs one log line per outage,
flush and shutdown keep their deadlines, outages heal by themselves, forked
children deliver, exports never run on the application's thread, and the
counters (``stats()``, ``/health``, ``flext.pipeline.*``) agree with what the
receiver got.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import wait_child
from lossless_child import RemoteReceiver
from opentelemetry.trace import Tracer

from flext_otel.pipeline.sdk import (
    FlextOtel,
    ShutdownReport,
)
from flext_otel.support.counters import DROP_REASONS, PipelineStats
from flext_otel.testing import OtlpReceiver, capture
from flext_otel.web.server import serve_http

pytestmark = pytest.mark.e2e

PROTOCOLS = {"grpc": "grpc", "http": "http/protobuf"}
CALL_BOUND_S = 0.05
"""The issue's guarantee: no span or metric call takes longer than this."""


# -- helpers ------------------------------------------------------------------


def _otlp(endpoint: str, protocol: str, **options: Any) -> dict[str, Any]:
    """capture() options that send spans to ``endpoint``; everything else default."""
    return {
        "traces_exporter": "otlp",
        "otlp_endpoint": endpoint,
        "otlp_protocol": PROTOCOLS[protocol],
        **options,
    }


def _closed_port_endpoint() -> str:
    """An endpoint on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}"


def _burst(
    tracer: Tracer, n: int, name: str = "work", records: tuple[Callable[[int], None], ...] = ()
) -> float:
    """End ``n`` spans back to back, after each calling every metric ``records``;
    returns the slowest single call in seconds.

    Objects left over by earlier tests are frozen out of the garbage collector
    first, so a collection pass costs what this pipeline's objects cost.
    """
    gc.collect()
    gc.freeze()
    perf = time.perf_counter
    slowest = 0.0
    try:
        for i in range(n):
            start = perf()
            tracer.start_span(name, attributes={"i": i}).end()
            slowest = max(slowest, perf() - start)
            for record in records:
                start = perf()
                record(i)
                slowest = max(slowest, perf() - start)
    finally:
        gc.unfreeze()
    return slowest


def _end(tracer: Tracer, n: int, name: str) -> None:
    """End ``n`` spans back to back (untimed)."""
    for i in range(n):
        tracer.start_span(name, attributes={"i": i}).end()


def _metric_records(otel: FlextOtel) -> tuple[Callable[[int], None], ...]:
    """A counter add and a histogram record, as the application would call them."""
    meter = otel.meter_provider.get_meter("e2e.lossless")
    counter = meter.create_counter("orders_total")
    histogram = meter.create_histogram("order_seconds", unit="s")
    return (
        lambda i: counter.add(1, {"region": ("eu", "us", "ap")[i % 3]}),
        lambda i: histogram.record(i / 1000.0, {"region": "eu"}),
    )


def _balanced(stats: PipelineStats) -> None:
    """Every item handed over is exported or dropped for a known reason; none pending."""
    assert stats.queue_depth == 0
    assert set(stats.dropped) <= set(DROP_REASONS)
    assert stats.accepted == stats.exported + stats.dropped_total


def _assert_report_adds_up(report: ShutdownReport) -> None:
    """The report's total is the sum of its per-pipeline reasons, and says so."""
    parts = [
        f"{key} {reason}={count}"
        for key, stats in report.pipelines.items()
        for reason, count in sorted(stats.dropped.items())
        if count and reason != "sampled_out"
    ]
    assert report.lost == sum(s.lost for s in report.pipelines.values())
    assert report.lost == sum(int(p.rsplit("=", 1)[1]) for p in parts)
    if report.lost:
        assert str(report).startswith(f"{report.lost} items lost: {', '.join(parts)}")
    for stats in report.pipelines.values():
        _balanced(stats)


def _warnings(caplog: pytest.LogCaptureFixture) -> tuple[Counter[str], list[str]]:
    """flext's WARNING-or-worse lines counted by pipeline key, and anyone else's lines."""
    flext: Counter[str] = Counter()
    others: list[str] = []
    for record in caplog.records:
        if record.levelno < logging.WARNING:
            continue
        if record.name.startswith("flext_otel"):
            assert record.exc_info is None, "outage logs carry no traceback"
            flext[record.getMessage().split(": ", 1)[0]] += 1
        else:
            others.append(f"{record.name}: {record.getMessage()}")
    return flext, others


@pytest.fixture(params=sorted(PROTOCOLS))
def protocol(request: pytest.FixtureRequest) -> str:
    """The OTLP transport under test."""
    return str(request.param)


@pytest.fixture
def receiver(protocol: str) -> Iterator[OtlpReceiver]:
    """A running in-process OtlpReceiver for the protocol under test."""
    with OtlpReceiver(protocol) as running:
        yield running


@pytest.fixture(autouse=True)
def _abandoned_exports_end() -> Iterator[None]:
    """Lets export threads a test abandoned finish before the next test (bounded),
    so no test forks while an earlier one's export is still inside the network library."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith("flext-otel"):
            thread.join(15.0)


# -- burst then shutdown ---------------------------------------------------------


def test_burst_of_10000_spans_arrives_whole_with_default_options(
    receiver: OtlpReceiver, protocol: str
) -> None:
    """10,000 spans ended back to back, then shutdown(): all arrive, "nothing lost"."""
    with capture(**_otlp(receiver.endpoint, protocol)) as cap:
        _burst(cap.otel.tracer_provider.get_tracer("e2e"), 10_000)
        report = cap.otel.shutdown()
    received = receiver.spans()  # shutdown returns after the last export was answered
    assert len(received) == 10_000
    assert len({s.span_id for s in received}) == 10_000
    assert sorted(s.attributes["i"] for s in received) == list(range(10_000))
    assert str(report) == "nothing lost"
    assert report.ok
    stats = report.pipelines["traces:otlp"]
    assert (stats.accepted, stats.exported, dict(stats.dropped)) == (10_000, 10_000, {})
    _assert_report_adds_up(report)


def test_burst_beyond_the_queue_counts_every_lost_span_exactly(
    receiver: OtlpReceiver, protocol: str
) -> None:
    """50,000 spans into a 2,048-span queue: received + lost == 50,000, by reason."""
    with capture(**_otlp(receiver.endpoint, protocol, bsp_max_queue_size=2_048)) as cap:
        # A slow collector during the burst: the queue overflows however fast this machine
        # produces spans (a traced, coverage-measured run is slower than the exporter).
        receiver.set_delay(0.2)
        _burst(cap.otel.tracer_provider.get_tracer("e2e"), 50_000)
        receiver.set_delay(0)
        report = cap.otel.shutdown()
    received = receiver.spans()
    stats = report.pipelines["traces:otlp"]
    assert len({s.span_id for s in received}) == len(received) == stats.exported
    assert stats.accepted == 50_000
    assert stats.lost > 0  # the burst did overflow the queue
    assert set(stats.dropped) == {"queue_full"}
    assert len(received) + stats.dropped["queue_full"] == 50_000
    assert report.lost == stats.lost  # no other pipeline lost anything
    assert str(report) == f"{stats.lost} items lost: traces:otlp queue_full={stats.lost}"
    assert not report.ok
    _assert_report_adds_up(report)


# -- collector down or hanging ------------------------------------------------------


@pytest.fixture(params=["down", "hanging"])
def outage_endpoint(request: pytest.FixtureRequest, protocol: str) -> Iterator[str]:
    """An endpoint whose collector is down (port closed) or hangs (answers after 60 s)."""
    if request.param == "down":
        yield _closed_port_endpoint()
        return
    with OtlpReceiver(protocol) as hanging:
        hanging.set_delay(60.0)
        yield hanging.endpoint
        assert hanging.spans() == []  # nothing was delivered, as the report says


def test_outage_never_blocks_or_raises_and_is_logged_once_per_pipeline(
    outage_endpoint: str, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Collector down/hanging, many failed exports: calls stay under 50 ms, one WARNING each."""
    caplog.set_level(logging.WARNING)
    options = _otlp(
        outage_endpoint,
        protocol,
        metrics_exporter="otlp",
        otlp_timeout_ms=300,  # exports fail fast, so the outage spans many failures
        metric_export_interval_ms=100,
    )
    with capture(**options) as cap:
        otel = cap.otel
        tracer = otel.tracer_provider.get_tracer("e2e")
        records = _metric_records(otel)
        slowest, flushes = 0.0, []
        for _ in range(4):
            slowest = max(slowest, _burst(tracer, 500, records=records))
            start = time.monotonic()
            flushes.append((otel.force_flush(timeout_millis=1_000), time.monotonic() - start))
        start = time.monotonic()
        report = otel.shutdown(timeout_millis=5_000)
        shutdown_s = time.monotonic() - start

    assert slowest < CALL_BOUND_S
    assert [ok for ok, _ in flushes] == [False] * 4
    assert max(s for _, s in flushes) < 1.5
    assert shutdown_s < 6.0
    traces, metrics = report.pipelines["traces:otlp"], report.pipelines["metrics:otlp"]
    assert (traces.accepted, traces.exported, traces.lost) == (2_000, 0, 2_000)
    assert traces.dropped["export_failed"] >= 1  # failed exports are counted as such
    assert set(traces.dropped) <= {"export_failed", "shutdown"}
    assert metrics.exported == 0
    assert metrics.accepted == metrics.lost > 0
    assert report.lost == traces.lost + metrics.lost
    assert not report.ok
    _assert_report_adds_up(report)
    flext, others = _warnings(caplog)
    assert flext == {"traces:otlp": 1, "metrics:otlp": 1}  # one line per outage, not per batch
    assert others == []  # the exporters' own per-retry warnings are not at WARNING


def test_outage_keeps_flush_and_shutdown_deadlines_while_an_export_is_stuck(
    outage_endpoint: str, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Default options (exporter stuck up to 10 s): flush False in 1.5 s, shutdown in 6 s, exact."""
    caplog.set_level(logging.WARNING)
    with capture(**_otlp(outage_endpoint, protocol, metrics_exporter="otlp")) as cap:
        otel = cap.otel
        tracer, records = otel.tracer_provider.get_tracer("e2e"), _metric_records(otel)
        slowest = _burst(tracer, 2_000, records=records)
        start = time.monotonic()
        flushed = otel.force_flush(timeout_millis=1_000)
        flush_s = time.monotonic() - start
        slowest = max(slowest, _burst(tracer, 1_000, records=records))
        start = time.monotonic()
        report = otel.shutdown(timeout_millis=5_000)
        shutdown_s = time.monotonic() - start

    assert slowest < CALL_BOUND_S
    assert flushed is False
    assert flush_s < 1.5
    assert shutdown_s < 6.0
    traces, metrics = report.pipelines["traces:otlp"], report.pipelines["metrics:otlp"]
    assert (traces.accepted, traces.exported, traces.lost) == (3_000, 0, 3_000)
    assert set(traces.dropped) <= {"export_failed", "shutdown"}
    assert metrics.exported == 0
    assert metrics.accepted == metrics.lost > 0
    assert report.lost == traces.lost + metrics.lost
    assert not report.ok
    _assert_report_adds_up(report)
    flext, others = _warnings(caplog)
    assert set(flext) <= {"traces:otlp", "metrics:otlp"}
    assert max(flext.values(), default=0) <= 1
    assert others == []


# -- outage then recovery -------------------------------------------------------------


def test_pipeline_recovers_by_itself_when_the_collector_returns(
    receiver: OtlpReceiver, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    """pause() then resume() on the same port: later spans all arrive, outage losses exact."""
    caplog.set_level(logging.INFO, logger="flext_otel")
    options = _otlp(receiver.endpoint, protocol, otlp_timeout_ms=5_000)
    with capture(**options) as cap:
        otel = cap.otel
        tracer = otel.tracer_provider.get_tracer("e2e")
        _burst(tracer, 100, name="before")
        assert otel.force_flush(timeout_millis=10_000) is True
        receiver.pause()
        slowest = _burst(tracer, 300, name="during")
        assert otel.force_flush(timeout_millis=10_000) is False  # the exporter gave up
        during = otel.stats()["traces:otlp"]
        receiver.resume()
        slowest = max(slowest, _burst(tracer, 200, name="after"))
        assert otel.force_flush(timeout_millis=15_000) is True
        report = otel.shutdown(timeout_millis=5_000)

    assert slowest < CALL_BOUND_S
    assert dict(during.dropped) == {"export_failed": 300}
    names = Counter(s.name for s in receiver.spans())
    assert names == {"before": 100, "after": 200}  # every span made after the return
    stats = report.pipelines["traces:otlp"]
    assert stats.accepted == 600
    assert dict(stats.dropped) == {"export_failed": 300}
    assert sum(names.values()) + stats.dropped_total == 600
    assert str(report) == "300 items lost: traces:otlp export_failed=300"
    _assert_report_adds_up(report)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("flext")]
    assert [level for level, _ in lines] == ["WARNING", "INFO"]
    assert "recovered" in lines[1][1]


# -- fork -----------------------------------------------------------------------------


@pytest.fixture
def remote_receiver(protocol: str) -> Iterator[RemoteReceiver]:
    """A receiver in a spawned process (a collector never lives in the forking process)."""
    remote = RemoteReceiver(protocol)
    try:
        yield remote
    finally:
        remote.close()


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs os.fork and os.pidfd_open")
def test_twenty_children_forked_while_the_parent_exports_all_deliver_and_exit(
    remote_receiver: RemoteReceiver, protocol: str
) -> None:
    """20 os.fork() children taken mid-export each deliver their 10 spans and exit 0."""
    children, per_child, per_parent_round = 20, 10, 100
    options = _otlp(remote_receiver.endpoint, protocol, bsp_max_export_batch_size=32)
    with capture(**options) as cap:
        otel = cap.otel
        tracer = otel.tracer_provider.get_tracer("e2e")
        pids, pending = [], []
        for child in range(children):
            _end(tracer, per_parent_round, name="parent")  # full batches: the parent exports
            pending.append(otel.stats()["traces:otlp"].queue_depth)
            pid = os.fork()
            if pid == 0:  # child: the exit code says whether its spans were delivered
                code = 1
                try:
                    _end(tracer, per_child, name=f"child-{child}")
                    report = otel.shutdown(timeout_millis=5_000)
                    stats = report.pipelines["traces:otlp"]
                    delivered = (stats.accepted, stats.exported) == (per_child, per_child)
                    code = 0 if delivered and report.ok else 3
                finally:
                    os._exit(code)
            pids.append(pid)
        codes = [wait_child(pid, 30.0) for pid in pids]
        report = otel.shutdown(timeout_millis=10_000)

    assert codes == [0] * children
    assert min(pending) > 0  # every fork happened while the parent had spans to export
    names = remote_receiver.span_names(children * (per_child + per_parent_round))
    assert names == {
        "parent": children * per_parent_round,
        **{f"child-{child}": per_child for child in range(children)},
    }
    assert str(report) == "nothing lost"
    assert report.pipelines["traces:otlp"].exported == children * per_parent_round


def _multiprocessing_child(tracer: Tracer, n: int) -> None:
    """A multiprocessing target that ends spans and returns without any shutdown."""
    _end(tracer, n, name="mp-child")


def test_multiprocessing_child_that_never_shuts_down_still_delivers(
    remote_receiver: RemoteReceiver, protocol: str
) -> None:
    """A fork-method multiprocessing child returning without shutdown() delivers all its spans."""
    with capture(**_otlp(remote_receiver.endpoint, protocol)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("e2e")
        _end(tracer, 50, name="parent")
        child = multiprocessing.get_context("fork").Process(
            target=_multiprocessing_child, args=(tracer, 25)
        )
        child.start()
        child.join(30.0)
        exitcode = child.exitcode
        if exitcode is None:
            child.kill()
            child.join()
        report = cap.otel.shutdown(timeout_millis=10_000)

    assert exitcode == 0
    names = remote_receiver.span_names(75)
    assert names == {"parent": 50, "mp-child": 25}
    assert str(report) == "nothing lost"


# -- exporters off the caller's thread ------------------------------------------------


def _otlp_exporter_classes(protocol: str) -> list[type[Any]]:
    """The official OTLP span, log and metric exporter classes of one transport."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (  # type: ignore[assignment]
            OTLPLogExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return [OTLPSpanExporter, OTLPLogExporter, OTLPMetricExporter]


def test_network_exporters_never_run_on_the_application_thread(
    receiver: OtlpReceiver, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Span, log and metric OTLP export() calls all run off the thread that records."""
    threads: dict[str, set[int]] = {}
    for cls in _otlp_exporter_classes(protocol):
        original = cls.export
        seen = threads.setdefault(cls.__name__, set())

        def export(
            self: Any, *args: Any, _original: Any = original, _seen: set[int] = seen, **kw: Any
        ) -> Any:
            _seen.add(threading.get_ident())
            return _original(self, *args, **kw)

        monkeypatch.setattr(cls, "export", export)

    options = _otlp(
        receiver.endpoint,
        protocol,
        logs_exporter="otlp",
        metrics_exporter="otlp",
        bsp_max_export_batch_size=64,
        blrp_max_export_batch_size=64,
    )
    with capture(**options) as cap:
        otel = cap.otel
        logger = otel.logger_provider.get_logger("e2e")
        records = (*_metric_records(otel), lambda i: logger.emit(body=f"line {i}"))
        _burst(otel.tracer_provider.get_tracer("e2e"), 500, records=records)
        assert otel.force_flush(timeout_millis=10_000) is True
        report = otel.shutdown(timeout_millis=10_000)

    assert str(report) == "nothing lost"
    assert len(receiver.spans()) == 500
    assert len(receiver.logs()) == 500
    assert receiver.metrics("orders_total")
    assert all(threads.values()), threads  # each exporter did run
    caller = threading.get_ident()
    assert all(caller not in idents for idents in threads.values())


# -- counters agree with the receiver -------------------------------------------------


def _metric_value(otel: FlextOtel, name: str, **attributes: str) -> Any:
    """The one point of ``name`` whose attributes include ``attributes``."""
    points = [
        p
        for p in otel.store.metrics(name)
        if {k: p.attributes.get(k) for k in attributes} == attributes
    ]
    assert len(points) == 1, points
    return points[0].value


def test_stats_health_and_pipeline_metrics_match_the_receiver(
    receiver: OtlpReceiver, protocol: str
) -> None:
    """stats(), /health and flext.pipeline.* agree with the receiver, per drop reason."""
    options = _otlp(
        receiver.endpoint, protocol, bsp_max_queue_size=200, bsp_max_export_batch_size=100
    )
    with capture(**options) as cap:
        otel = cap.otel
        tracer = otel.tracer_provider.get_tracer("e2e")
        receiver.set_failure(400)  # a permanent error: the exporter does not retry
        _burst(tracer, 50, name="refused")
        assert otel.force_flush(timeout_millis=10_000) is False
        receiver.set_failure(None)
        receiver.set_delay(0.2)  # a slow collector: the burst overflows on any machine
        _burst(tracer, 2_000, name="burst")  # overflows the 200-span queue
        receiver.set_delay(0)
        assert otel.force_flush(timeout_millis=10_000) is True

        stats = otel.stats()["traces:otlp"]
        received = receiver.spans()
        with serve_http(otel, port=0) as server:
            with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
                health = json.load(response)
        labels = {"signal": "traces", "exporter": "otlp"}
        metrics = {
            "accepted": _metric_value(otel, "flext.pipeline.accepted", **labels),
            "exported": _metric_value(otel, "flext.pipeline.exported", **labels),
            "dropped": {
                reason: _metric_value(otel, "flext.pipeline.dropped", **labels, reason=reason)
                for reason in DROP_REASONS
            },
        }

    assert stats.exported == len(received) == len({s.span_id for s in received})
    assert stats.accepted == 2_050
    assert stats.dropped["export_failed"] == 50
    assert stats.dropped["queue_full"] > 0
    assert set(stats.dropped) == {"export_failed", "queue_full"}
    assert Counter(s.name for s in received) == {"burst": 2_000 - stats.dropped["queue_full"]}
    _balanced(stats)
    assert health["pipelines"]["traces:otlp"] == stats.to_dict()
    assert metrics == {
        "accepted": stats.accepted,
        "exported": stats.exported,
        "dropped": {reason: stats.dropped.get(reason, 0) for reason in DROP_REASONS},
    }
