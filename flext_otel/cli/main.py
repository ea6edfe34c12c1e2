"""``flext-otel`` command line: ``demo`` (the main job), ``check``, ``serve`` and ``run``.

``serve`` and ``run`` (the hub) live in :mod:`flext_otel.cli.hub`.

``flext-otel demo`` configures flext-otel on the embedded in-memory default, runs a
small order-processing workload for about two seconds, prints a few traces as
trees and a summary of what the store holds, and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from opentelemetry.trace import SpanKind, Status, StatusCode, get_current_span

from flext_otel.api import FlextObservabilityMasterFactory, configure
from flext_otel.export.exporters import render_trace
from flext_otel.instrument.decorators import flext_monitor_function
from flext_otel.pipeline.correlation import correlation_scope
from flext_otel.pipeline.sdk import (
    FlextOtel,
)
from flext_otel.pipeline.state import (
    use,
)
from flext_otel.support.errors import ConfigError

_REGIONS = ("eu", "us", "apac")
_ITEMS = ("book", "lamp", "mug", "chair", "pen")


class CardDeclinedError(RuntimeError):
    """The payment provider refused the card."""


class Workload:
    """A realistic order flow recorded through a :class:`FlextOtel` pipeline.

    Uses plain OTel spans for the request, ``@flext_monitor_function`` for the
    steps, the simple API for metrics, logs, alerts and health checks, and a
    correlation scope per order.
    """

    def __init__(
        self, otel: FlextOtel, seed: int | None = None, *, decline_rate: float = 0.08
    ) -> None:
        self.otel = otel
        self.rng = random.Random(seed)
        self.decline_rate = decline_rate
        self.tracer = otel.tracer_provider.get_tracer("flext_otel.demo")
        self.flext = FlextObservabilityMasterFactory(otel)
        self.count = 0
        self.failures = 0
        self._recent: list[bool] = []

    def _pause(self, low: float, high: float) -> None:
        time.sleep(self.rng.uniform(low, high))

    @flext_monitor_function("validate-cart")
    def validate_cart(self, item: str) -> None:
        """Check the cart (fast, never fails)."""
        self._pause(0.0002, 0.001)

    @flext_monitor_function("reserve-stock")
    def reserve_stock(self, item: str) -> None:
        """Reserve the item in the warehouse."""
        self._pause(0.0005, 0.002)

    @flext_monitor_function("charge-card")
    def charge_card(self, amount: float) -> None:
        """Charge the card; ``decline_rate`` of them (8 % by default) are declined."""
        get_current_span().set_attribute("payment.amount", amount)
        self._pause(0.001, 0.004)
        if self.rng.random() < self.decline_rate:
            raise CardDeclinedError("card declined")

    @flext_monitor_function("send-confirmation")
    def send_confirmation(self, order_id: int) -> None:
        """Send the confirmation e-mail."""
        self._pause(0.0002, 0.001)

    def order(self) -> None:
        """One checkout under its own correlation ID."""
        region = self.rng.choice(_REGIONS)
        item = self.rng.choice(_ITEMS)
        amount = round(self.rng.uniform(3, 400), 2)
        order_id = 1000 + self.count
        self.count += 1
        started = time.perf_counter()
        attributes: dict[str, str | int] = {
            "http.request.method": "POST",
            "url.path": "/checkout",
            "order.id": order_id,
            "order.region": region,
        }
        with (
            correlation_scope(f"order-{order_id}"),
            self.tracer.start_as_current_span(
                "checkout", kind=SpanKind.SERVER, attributes=attributes
            ) as root,
        ):
            self.validate_cart(item)
            self.reserve_stock(item)
            try:
                self.charge_card(amount)
            except CardDeclinedError:
                root.set_status(Status(StatusCode.ERROR, "payment failed"))
                self._failed(order_id, region)
                return
            self.send_confirmation(order_id)
            root.set_status(Status(StatusCode.OK))
            self._recent.append(True)
            self.flext.metric("orders_total", 1, tags={"region": region, "outcome": "success"})
            self.flext.metric(
                "order_amount", amount, unit="EUR", metric_type="histogram", tags={"region": region}
            )
            self.flext.metric(
                "checkout_duration_seconds",
                time.perf_counter() - started,
                unit="s",
                tags={"region": region},
            )
            self.flext.log(
                f"order {order_id} placed",
                level="info",
                context={"order.id": order_id, "order.region": region},
            )
        self._health()

    def _failed(self, order_id: int, region: str) -> None:
        self.failures += 1
        self._recent.append(False)
        self.flext.metric("orders_total", 1, tags={"region": region, "outcome": "error"})
        self.flext.log(
            f"order {order_id} failed: card declined", level="error", context={"order.id": order_id}
        )
        severity = "critical" if self.failures % 4 == 0 else "high"
        self.flext.alert(
            "Card declined",
            f"order {order_id} could not be charged",
            severity=severity,
            tags={"region": region},
        )
        self._health()

    def _health(self) -> None:
        if self.count % 10 != 1:
            return
        recent = self._recent[-20:]
        failure_rate = recent.count(False) / max(len(recent), 1)
        status = (
            "healthy" if failure_rate < 0.1 else "degraded" if failure_rate < 0.5 else ("unhealthy")
        )
        self.flext.health_check("payments", status, message=f"{failure_rate:.0%} declined")
        self.flext.health_check("inventory", "healthy", message="stock service reachable")
        self.flext.health_check("database", "healthy", details={"pool.size": 10})

    def run(
        self, seconds: float, *, pause: float = 0.02, stop: threading.Event | None = None
    ) -> int:
        """Place orders for ``seconds`` (forever when negative, or until ``stop`` is set)."""
        end = time.monotonic() + seconds
        with use(self.otel):
            self.flext.health_check("payments", "healthy", message="starting")
            while (seconds < 0 or time.monotonic() < end) and not (stop and stop.is_set()):
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
    forever = args.forever or args.serve
    out.write(
        f"flext-otel demo: service {args.service_name!r}, "
        f"{'until stopped' if forever else f'{args.duration:.1f} s'}\n"
    )
    if args.serve:
        from urllib.parse import quote

        from flext_otel.web.server import serve_http

        try:
            server = serve_http(otel, host="127.0.0.1", port=args.port)
        except OSError as exc:
            sys.stderr.write(f"flext-otel: {exc.strerror or exc} (try another --port)\n")
            otel.shutdown(timeout_millis=5_000)
            return 1
        otel.add_closer(server.close)
        token = otel.options.http_token
        link = f"{server.url}/" + (f"?token={quote(token, safe='')}" if token else "")
        out.write(f"live view: {link} (Ctrl-C to stop)\n")
        out.flush()
    try:
        workload.run(-1 if forever else args.duration)
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


def _check_safe_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by a mask."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="****@" + parts.netloc.rpartition("@")[2]))


def _check_connect(host: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection to ``host:port`` opens within ``timeout``, else why not."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r} ({exc.strerror})"
    except ConnectionRefusedError:
        return f"connection refused by {host}:{port} (is the collector running?)"
    except TimeoutError:
        return f"no answer from {host}:{port} within {timeout:g} s"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"


def _check_otlp(signal: str, options: Any, timeout: float) -> tuple[str, str | None]:
    """``(description, problem)`` for one signal's OTLP exporter."""
    import importlib.util
    from urllib.parse import urlsplit

    from flext_otel.pipeline.options import mask

    otlp = options.otlp(signal)
    module = "opentelemetry.exporter.otlp.proto." + ("grpc" if otlp.protocol == "grpc" else "http")
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    if not found:
        raise ConfigError(
            f"OTEL_{signal.upper()}_EXPORTER=otlp needs an optional extra that is not "
            f"installed: pip install 'flext-otel[otlp]' ({module})"
        )
    parts = urlsplit(otlp.endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    extras = [otlp.protocol]
    if otlp.compression:
        extras.append(otlp.compression)
    if otlp.headers:
        extras.append("headers " + ",".join(f"{key}={mask(v)}" for key, v in otlp.headers.items()))
    described = f"{_check_safe_url(otlp.endpoint)} ({'; '.join(extras)})"
    return described, _check_connect(parts.hostname or "localhost", port, timeout)


def _check_prometheus(options: Any, timeout: float) -> tuple[str, str | None, str]:
    """``(description, problem, how)`` for the ``/metrics`` endpoint flext-otel serves."""
    import errno
    import http.client
    import socket
    import urllib.error
    import urllib.request

    from flext_otel.export.exporters import prometheus_available
    from flext_otel.web.server import DEFAULT_PORT

    if not prometheus_available():
        raise ConfigError(
            "the prometheus exporter needs an optional extra that is not installed: "
            "pip install 'flext-otel[prometheus]'"
        )
    host = options.prometheus_host
    port = options.prometheus_port if options.prometheus_port is not None else DEFAULT_PORT
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/metrics"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        return url, None, "port free: flext-otel will serve /metrics there"
    except socket.gaierror as exc:
        return url, f"cannot resolve host {host!r} ({exc.strerror})", ""
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return url, f"cannot bind {host}:{port}: {exc.strerror or exc}", ""
    served = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, shown_host)
    request = urllib.request.Request(f"http://{served}:{port}/metrics")
    if options.http_token:
        request.add_header("Authorization", f"Bearer {options.http_token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            kind = response.headers.get("Content-Type", "")
            if response.status == 200 and ("text/plain" in kind or "openmetrics" in kind):
                return url, None, "already served (HTTP 200)"
            return url, f"port {port} is in use by something that does not serve metrics", ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return url, f"port {port} is in use; GET /metrics answered HTTP {exc.code}", ""
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:120]
        return url, f"port {port} is in use by something that does not speak HTTP ({reason})", ""


def _check(args: argparse.Namespace, out: TextIO) -> int:
    """Print the effective configuration (secrets masked) and try each exporter.

    Exit status: 0 when every configured exporter is reachable and the installed
    OpenTelemetry packages agree on their versions, 1 otherwise;
    a bad configuration raises ``ConfigError`` (``main`` turns it into 2).
    """
    from flext_otel.pipeline.options import resolve_options

    options = resolve_options()
    out.write("effective configuration (secrets masked):\n")
    for name, value in options.to_dict().items():
        shown = _check_safe_url(value) if isinstance(value, str) and "endpoint" in name else value
        out.write(f"  {name} = {shown!r}\n")
    mismatched = _check_versions(out)
    checks: list[tuple[str, str, str | None, str]] = []
    for signal in ("traces", "metrics", "logs"):
        if "otlp" in getattr(options, f"{signal}_exporter"):
            described, problem = _check_otlp(signal, options, args.timeout)
            checks.append((f"{signal}:otlp", described, problem, ""))
    if "prometheus" in options.metrics_exporter or options.prometheus_port is not None:
        checks.append(("metrics:prometheus", *_check_prometheus(options, args.timeout)))
    out.write("exporters:\n")
    if not checks:
        out.write("  none configured: telemetry stays in the in-memory store\n")
        return 1 if mismatched else 0
    failed = 0
    for key, described, problem, how in checks:
        if problem is None:
            out.write(f"  {key} {described}: reachable{f' ({how})' if how else ''}\n")
        else:
            failed += 1
            out.write(f"  {key} {described}: unreachable: {problem}\n")
    if failed:
        out.write(f"{failed} of {len(checks)} exporters unreachable\n")
        return 1
    out.write(f"all {len(checks)} exporters reachable\n")
    return 1 if mismatched else 0


def _check_versions(out: TextIO) -> bool:
    """Print the installed OpenTelemetry packages; True when their versions mismatch."""
    from flext_otel.cli.versions import installed_otel, version_mismatches

    installed = installed_otel()
    out.write("opentelemetry packages:\n")
    for name, version in installed.items():
        out.write(f"  {name} {version}\n")
    problems = version_mismatches(installed)
    from flext_otel.guardrails.facade import SDK_HAS_CARDINALITY_LIMITS

    if not SDK_HAS_CARDINALITY_LIMITS:
        out.write("  note: metric cardinality limits need opentelemetry-sdk >= 1.45.2\n")
    for problem in problems:
        out.write(f"  version mismatch: {problem}\n")
    if problems:
        out.write(
            "  fix: install matching versions together, e.g. "
            "pip install --upgrade 'flext-otel[all]' and your instrumentations in one command\n"
        )
    return bool(problems)


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
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep running and serve the live view (traces, logs, metrics, health) "
        "on 127.0.0.1 until interrupted",
    )
    demo.add_argument(
        "--port", type=int, default=8765, help="live view port with --serve (default 8765)"
    )
    check = sub.add_parser(
        "check",
        help="print the effective configuration and reach the exporters",
        description="Validate the configuration (OTEL_* and FLEXT_OTEL_* variables), print it "
        "with secrets masked, and try each configured exporter endpoint. Exits 0 when all are "
        "reachable, 1 when one is not, 2 on a configuration error.",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=2.0,
        help="seconds to wait for each endpoint (default 2)",
    )
    from flext_otel.cli.hub import add_parsers

    add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flext-otel`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "demo":
            return _demo(args, sys.stdout)
        if args.command in ("serve", "run"):
            from flext_otel.cli.hub import run_hub_command

            return run_hub_command(args)
        return _check(args, sys.stdout)
    except ConfigError as exc:
        sys.stderr.write(f"flext-otel: configuration error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
