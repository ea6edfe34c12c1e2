"""``flext-otel`` command line: ``demo`` (the main job) and ``check``.

``flext-otel demo`` configures flext-otel on the embedded in-memory default, runs a
small order-processing workload for about two seconds, prints a few traces as
trees and a summary of what the store holds, and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind, Status, StatusCode

from flext_otel.config import ConfigError
from flext_otel.exporters import render_trace
from flext_otel.providers import FlextOtel, configure

_REGIONS = ("eu", "us", "apac")
_ITEMS = ("book", "lamp", "mug", "chair", "pen")


class Workload:
    """A realistic order flow recorded through a :class:`FlextOtel` pipeline."""

    def __init__(self, otel: FlextOtel, seed: int | None = None) -> None:
        self.otel = otel
        self.rng = random.Random(seed)
        self.tracer = otel.tracer_provider.get_tracer("flext_otel.demo")
        meter = otel.meter_provider.get_meter("flext_otel.demo")
        self.orders = meter.create_counter("orders_total", unit="1", description="Orders placed")
        self.amount = meter.create_histogram(
            "order_amount",
            unit="EUR",
            description="Order value",
            explicit_bucket_boundaries_advisory=(5, 10, 25, 50, 100, 250, 500),
        )
        self.checkout_seconds = meter.create_histogram(
            "checkout_duration_seconds",
            unit="s",
            description="Checkout latency",
            explicit_bucket_boundaries_advisory=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
        )
        self.logger = otel.logger_provider.get_logger("flext_otel.demo")
        self.count = 0
        self.failures = 0

    def _log(self, level: SeverityNumber, text: str, message: str, **attrs: Any) -> None:
        self.logger.emit(severity_number=level, severity_text=text, body=message, attributes=attrs)

    def _step(
        self, name: str, low: float, high: float, kind: SpanKind = SpanKind.INTERNAL, **attrs: Any
    ) -> None:
        with self.tracer.start_as_current_span(name, kind=kind, attributes=attrs):
            time.sleep(self.rng.uniform(low, high))

    def order(self) -> None:
        """One checkout: validate, reserve, charge, confirm; about 8 % fail."""
        region = self.rng.choice(_REGIONS)
        item = self.rng.choice(_ITEMS)
        amount = round(self.rng.uniform(3, 400), 2)
        started = time.perf_counter()
        order_id = 1000 + self.count
        self.count += 1
        with self.tracer.start_as_current_span(
            "checkout",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "POST",
                "url.path": "/checkout",
                "order.id": order_id,
                "order.region": region,
            },
        ) as root:
            self._step("validate-cart", 0.0002, 0.001, item=item)
            self._step("reserve-stock", 0.0005, 0.002, kind=SpanKind.CLIENT, item=item)
            with self.tracer.start_as_current_span(
                "charge-card", kind=SpanKind.CLIENT, attributes={"payment.amount": amount}
            ) as charge:
                time.sleep(self.rng.uniform(0.001, 0.004))
                if self.rng.random() < 0.08:
                    error = RuntimeError("card declined")
                    charge.record_exception(error)
                    charge.set_status(Status(StatusCode.ERROR, "card declined"))
                    root.set_status(Status(StatusCode.ERROR, "payment failed"))
                    self.failures += 1
                    self._log(
                        SeverityNumber.ERROR,
                        "ERROR",
                        f"order {order_id} failed: card declined",
                        **{"order.id": order_id},
                    )
                    self.orders.add(1, {"region": region, "outcome": "error"})
                    return
            self._step("send-confirmation", 0.0002, 0.001)
            root.set_status(Status(StatusCode.OK))
        self.orders.add(1, {"region": region, "outcome": "success"})
        self.amount.record(amount, {"region": region})
        self.checkout_seconds.record(time.perf_counter() - started, {"region": region})
        self._log(
            SeverityNumber.INFO,
            "INFO",
            f"order {order_id} placed",
            **{"order.id": order_id, "order.region": region},
        )

    def run(self, seconds: float, *, pause: float = 0.02) -> int:
        """Place orders for ``seconds`` (forever when negative); returns how many."""
        end = time.monotonic() + seconds
        while seconds < 0 or time.monotonic() < end:
            self.order()
            time.sleep(pause)
        return self.count


def summary(otel: FlextOtel) -> str:
    """A short description of what the store holds."""
    store = otel.store
    spans = store.spans()
    traces = {s.trace_id for s in spans}
    logs = store.logs()
    points = store.metrics()
    series = {(p.name, tuple(sorted(p.attributes.items()))) for p in points}
    errors = sum(1 for s in spans if s.status == "error")
    return (
        f"store: {len(spans)} spans in {len(traces)} traces ({errors} error spans), "
        f"{len(logs)} log records, {len(series)} metric series "
        f"({', '.join(sorted({p.name for p in points}))})"
    )


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    options: dict[str, Any] = {"service_name": args.service_name}
    if args.otlp_endpoint:
        options.update(
            otlp_endpoint=args.otlp_endpoint,
            traces_exporter="otlp",
            metrics_exporter="otlp",
            logs_exporter="otlp",
            metric_export_interval_ms=5_000,
        )
    if args.prometheus_port is not None:
        options["prometheus_port"] = args.prometheus_port
    otel = configure(**options)
    workload = Workload(otel, seed=args.seed)
    out.write(
        f"flext-otel demo: service {args.service_name!r}, "
        f"{'until stopped' if args.forever else f'{args.duration:.1f} s'}\n"
    )
    try:
        workload.run(-1 if args.forever else args.duration)
    except KeyboardInterrupt:
        out.write("stopped\n")
    store = otel.store
    shown = 0
    for trace_id in reversed(store.trace_ids()):
        records = store.spans(trace_id=trace_id)
        if shown < 2 or (shown < 3 and any(r.status == "error" for r in records)):
            out.write(render_trace(records, colour=out.isatty()))
            shown += 1
    out.write(f"orders: {workload.count} placed, {workload.failures} failed\n")
    out.write(summary(otel) + "\n")
    report = otel.shutdown(timeout_millis=10_000)
    out.write(f"shutdown: {report}\n")
    return 0


def _check(args: argparse.Namespace, out: TextIO) -> int:
    from flext_otel.config import resolve_options

    options = resolve_options()
    for name, value in options.to_dict().items():
        out.write(f"{name} = {value!r}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``flext-otel`` command."""
    parser = argparse.ArgumentParser(
        prog="flext-otel",
        description="flext-otel: OpenTelemetry with a store, guardrails and lossless export.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run the demo workload on the embedded default",
        description="Run a realistic order workload, print traces and a "
        "summary of the in-memory store.",
    )
    demo.add_argument("--duration", type=float, default=2.0, help="seconds to run (default 2)")
    demo.add_argument("--forever", action="store_true", help="run until interrupted")
    demo.add_argument("--service-name", default="flext-demo", help="service.name")
    demo.add_argument("--otlp-endpoint", help="also export over OTLP to this endpoint")
    demo.add_argument("--prometheus-port", type=int, help="serve /metrics on this port")
    demo.add_argument("--seed", type=int, default=None, help="random seed")
    sub.add_parser(
        "check",
        help="print the effective configuration and reach the exporters",
        description="Validate the configuration and try each exporter endpoint.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flext-otel`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            return _demo(args, sys.stdout)
        return _check(args, sys.stdout)
    except ConfigError as exc:
        sys.stderr.write(f"flext-otel: configuration error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
