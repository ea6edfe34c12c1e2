"""Export throughput: spans to a real OTLP/gRPC receiver, flext-otel vs the raw SDK.

Both sides ship spans with 5 attributes to the same ``OtlpReceiver`` (gRPC, on
127.0.0.1, in this process): flext-otel through ``traces_exporter="otlp"`` (its
batch processor, scrubbing and store included), the raw SDK through
``BatchSpanProcessor(OTLPSpanExporter)`` with the same queue and batch sizes.

The producer never overruns a queue: it keeps at most :data:`WINDOW` spans in
flight (produced but not yet received), so the number measures how fast each
pipeline ships spans end to end with nothing lost, and "lost" must be 0.
Rounds alternate the sides; each round builds a fresh pipeline (untimed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from cases import ATTRIBUTES
from harness import Row, Settings, Target
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import (
    FlextOtel,
)
from flext_otel.testing import OtlpReceiver

WINDOW = 8_192
"""Most spans in flight at once (below every queue size used here)."""
QUEUE_SIZE = 20_480
BATCH_SIZE = 512
DELAY_MS = 1_000

Pipeline = tuple[Any, Callable[[], object], Callable[[], object], Callable[[], dict[str, int]]]
"""(tracer, force_flush, shutdown, drop counts)."""


def flext_pipeline(endpoint: str) -> Pipeline:
    """flext-otel's default pipeline with the OTLP span exporter."""
    otel = FlextOtel(
        resolve_options(
            environ={},
            install_globals=False,
            traces_exporter="otlp",
            otlp_endpoint=endpoint,
            bsp_max_queue_size=QUEUE_SIZE,
            bsp_max_export_batch_size=BATCH_SIZE,
            bsp_schedule_delay_ms=DELAY_MS,
        )
    )

    def dropped() -> dict[str, int]:
        stats = otel.stats().get("traces:otlp")
        return {} if stats is None else {k: v for k, v in stats.dropped.items() if v}

    def shutdown() -> object:
        return otel.shutdown(timeout_millis=30_000)

    return otel.tracer_provider.get_tracer("bench"), otel.force_flush, shutdown, dropped


def raw_pipeline(endpoint: str) -> Pipeline:
    """The raw SDK: ``BatchSpanProcessor(OTLPSpanExporter)``, same queue and batch sizes."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=True),
            max_queue_size=QUEUE_SIZE,
            max_export_batch_size=BATCH_SIZE,
            schedule_delay_millis=DELAY_MS,
        )
    )
    return provider.get_tracer("bench"), provider.force_flush, provider.shutdown, dict


def ship(
    receiver: OtlpReceiver, build: Callable[[str], Pipeline], n: int
) -> tuple[float, int, dict[str, int]]:
    """``(spans per second, spans lost, drops the pipeline counted)`` for ``n`` spans."""
    receiver.clear()
    tracer, flush, shutdown, dropped = build(receiver.endpoint)
    start_span = tracer.start_as_current_span
    started = time.perf_counter()
    produced = 0
    while produced < n:
        if produced >= WINDOW:
            receiver.wait_for_spans(produced - WINDOW, timeout=60.0)
        upto = min(n, produced + BATCH_SIZE)
        for _ in range(produced, upto):
            with start_span("op", attributes=ATTRIBUTES):
                pass
        produced = upto
    flush()  # the last partial batch goes now, not after the schedule delay
    try:
        received = len(receiver.wait_for_spans(n, timeout=60.0))
    except TimeoutError:
        received = len(receiver.spans())
    elapsed = time.perf_counter() - started
    shutdown()
    received = max(received, len(receiver.spans()))
    return n / elapsed, n - received, dropped()


def export(settings: Settings) -> list[Row]:
    """Throughput of both pipelines, alternating, ``rounds`` each."""
    n = settings.scaled(100_000, 2_000)
    rounds = settings.scaled(3, 1) if settings.rounds >= 3 else 1
    rates: dict[str, list[float]] = {"flext": [], "raw": []}
    lost: dict[str, int] = {"flext": 0, "raw": 0}
    drops: dict[str, int] = {}
    sides: dict[str, Callable[[str], Pipeline]] = {"flext": flext_pipeline, "raw": raw_pipeline}
    with OtlpReceiver(protocol="grpc") as receiver:
        ship(receiver, flext_pipeline, min(n, 2_000))  # warm-up: imports, channels
        ship(receiver, raw_pipeline, min(n, 2_000))
        for index in range(rounds):
            order = ("flext", "raw") if index % 2 == 0 else ("raw", "flext")
            for name in order:
                rate, missing, dropped = ship(receiver, sides[name], n)
                rates[name].append(rate)
                lost[name] += missing
                for reason, count in dropped.items():
                    drops[reason] = drops.get(reason, 0) + count
    flext_rate = statistics.median(rates["flext"])
    raw_rate = statistics.median(rates["raw"])
    per_round = [f / r for f, r in zip(rates["flext"], rates["raw"], strict=True)]
    return [
        Row(
            case="export",
            subject=f"{n:,} spans, OTLP/gRPC, flext pipeline",
            value=flext_rate,
            unit="spans/s",
            baseline="BatchSpanProcessor(OTLPSpanExporter)",
            baseline_value=raw_rate,
            ratio=statistics.median(per_round),
            target=Target(">=", 0.95),
            spread=(min(per_round), max(per_round)),
            note=f"{rounds} rounds; lost: flext {lost['flext']}, raw {lost['raw']}"
            + (f"; dropped {drops}" if drops else ""),
        ),
        Row(
            case="export",
            subject="spans lost (flext + raw, all rounds)",
            value=float(lost["flext"] + lost["raw"]),
            unit="spans",
            target=Target("<=", 0, suffix="", absolute=True),
        ),
    ]


__all__ = ["export"]
