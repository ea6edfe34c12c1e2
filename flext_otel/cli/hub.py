"""``flext-otel serve`` (the hub alone) and ``flext-otel run -- COMMAND`` (the hub around it).

``serve`` starts the hub (:func:`flext_otel.hub.start_hub`), prints one line per
endpoint when ready (``OTLP/gRPC``, ``OTLP/HTTP``, ``UI``, each with its
``http://`` URL), serves until SIGINT/SIGTERM, then flushes, prints what was
received and lost, and exits 0.

``run`` does the same around COMMAND: it starts the hub, then COMMAND with an
environment (:func:`child_environment`) that sends every Python process's
telemetry to the hub, through ``configure()`` and the ``opentelemetry-instrument``
distro alike: all three signals over OTLP/gRPC to the hub, metrics exported every
second, no ``/metrics`` server of their own. SIGINT/SIGTERM are forwarded to
COMMAND; once COMMAND has exited and the hub has flushed, one report adds up the
workers' numbers (their ``flext.pipeline.*`` counters, merged by the hub) and the
hub's, and ``run`` exits with COMMAND's status (128 + N for a signal N).

Imports: ``hub``, ``pipeline.options``. Threading: the main thread waits; signal
handlers only set an event or forward the signal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from flext_otel.pipeline.options import FlextOtelOptions, resolve_options

if TYPE_CHECKING:  # the hub needs the otlp extra (grpcio, opentelemetry-proto): lazy
    from flext_otel.hub import Hub, HubServer

__all__ = ["add_parsers", "child_environment", "run_command", "serve_command"]

API_KEY_ENV = "FLEXT_OTEL_HUB_API_KEY"
HUB_URL_ENV = "FLEXT_OTEL_HUB_URL"
_CHILD_DROPPED = (
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
)
_PER_SIGNAL = ("ENDPOINT", "PROTOCOL", "HEADERS", "COMPRESSION", "TIMEOUT", "INSECURE")
_SHUTDOWN_MS = 8_000


def _hub_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--grpc-port", type=int, default=4317, help="OTLP/gRPC port (default 4317, 0: any free)"
    )
    parser.add_argument(
        "--http-port", type=int, default=4318, help="OTLP/HTTP port (default 4318, 0: any free)"
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="UI, /api, /metrics port (default 8765, 0: any)"
    )
    parser.add_argument(
        "--forward",
        metavar="URL",
        help="forward everything received to this OTLP endpoint (default: the "
        "OTEL_*_EXPORTER=otlp settings, if any)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"require this key on ingest (Authorization: Bearer KEY); default ${API_KEY_ENV}",
    )


def add_parsers(sub: Any) -> None:
    """Add ``serve`` and ``run`` to the ``flext-otel`` sub-command parsers."""
    serve = sub.add_parser(
        "serve",
        help="the hub: OTLP in from every process, one live view, /api, /metrics",
        description="Receive OTLP (gRPC and HTTP) from every process of a service, keep it in "
        "one bounded store and serve the live view, /api/*, /metrics and /health for all of "
        "them. SIGINT/SIGTERM: flush, report, exit 0.",
    )
    _hub_options(serve)
    run = sub.add_parser(
        "run",
        help="run COMMAND with every process it starts reporting to a hub",
        description="Start the hub, run COMMAND with an environment that sends the telemetry "
        "of every Python process it starts (workers included) to the hub, forward "
        "SIGINT/SIGTERM, and exit with COMMAND's status after a report.",
    )
    _hub_options(run)
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")


def _options(args: argparse.Namespace, environ: Mapping[str, str]) -> FlextOtelOptions:
    extra: dict[str, Any] = {"install_globals": False}
    if args.forward:
        protocol = "http/protobuf" if args.forward.rstrip("/").endswith("4318") else "grpc"
        extra.update(
            traces_exporter="otlp",
            metrics_exporter="otlp",
            logs_exporter="otlp",
            otlp_endpoint=args.forward,
            otlp_protocol=environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        )
    return resolve_options(environ=environ, **extra)


def _start(args: argparse.Namespace, err: TextIO) -> HubServer | None:
    try:
        from flext_otel.hub import Hub, start_hub
    except ImportError as exc:
        err.write(
            f"flext-otel: the hub needs the otlp extra: pip install 'flext-otel[otlp]' ({exc})\n"
        )
        return None
    environ = dict(os.environ)
    api_key = args.api_key if args.api_key is not None else environ.get(API_KEY_ENV)
    hub = Hub(_options(args, environ), api_key=api_key)
    try:
        return start_hub(
            hub, host=args.host, grpc_port=args.grpc_port, http_port=args.http_port, port=args.port
        )
    except OSError as exc:
        err.write(f"flext-otel: {exc}\n")
        hub.shutdown(0)
        return None


def _announce(server: HubServer, out: TextIO) -> None:
    for line in server.ready_lines():
        out.write(line + "\n")
    out.flush()


def serve_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``flext-otel serve``: serve until SIGINT/SIGTERM, then report and exit 0."""
    server = _start(args, err)
    if server is None:
        return 1
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        _announce(server, out)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close(_SHUTDOWN_MS)
    out.write(report(server.hub) + "\n")
    out.flush()
    return 0


def child_environment(
    server: HubServer, environ: Mapping[str, str], api_key: str | None = None
) -> dict[str, str]:
    """The environment of COMMAND: every Python process reports to the hub."""
    env = {
        key: value
        for key, value in environ.items()
        if key not in _CHILD_DROPPED
        and not any(
            key == f"OTEL_EXPORTER_OTLP_{signal_name}_{part}"
            for signal_name in ("TRACES", "METRICS", "LOGS")
            for part in _PER_SIGNAL
        )
    }
    env.update(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",  # never "prometheus": no port per worker
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": server.grpc_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",  # the hub's /metrics ~1 s behind
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OTEL_BLRP_SCHEDULE_DELAY": "500",
            HUB_URL_ENV: server.ui_url,
        }
    )
    env.pop("OTEL_EXPORTER_OTLP_HEADERS", None)
    if api_key:
        env["OTEL_EXPORTER_OTLP_HEADERS"] = f"authorization=Bearer {api_key}"
    env.setdefault("OTEL_PYTHON_DISTRO", "flext_otel")
    env.setdefault("OTEL_PYTHON_CONFIGURATOR", "flext_otel")
    return env


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``flext-otel run -- COMMAND``: exit with COMMAND's status after the hub flushed."""
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        err.write("flext-otel run: give a command after --, e.g. flext-otel run -- python app.py\n")
        return 2
    server = _start(args, err)
    if server is None:
        return 1
    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    _announce(server, out)
    try:
        child = subprocess.Popen(  # the user's own command, by design
            command, env=child_environment(server, os.environ, api_key), start_new_session=True
        )
    except OSError as exc:
        err.write(f"flext-otel run: cannot start {command[0]!r}: {exc}\n")
        server.close(_SHUTDOWN_MS)
        return 127

    def forward(signum: int, _frame: Any) -> None:
        with contextlib.suppress(OSError):  # already gone
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close(_SHUTDOWN_MS)
    out.write(f"flext-otel run: {command[0]} exited with status {status}\n")
    out.write(report(server.hub) + "\n")
    out.flush()
    return status if status >= 0 else 128 - status


def _worker_numbers(hub: Hub) -> dict[str, dict[str, float]]:
    """Per signal, the workers' own ``flext.pipeline.*`` counters for their OTLP export."""
    numbers: dict[str, dict[str, float]] = {}
    for point in hub.metric_points():
        if not point.name.startswith("flext.pipeline.") or point.value is None:
            continue
        if point.attributes.get("exporter") != "otlp":
            continue
        sig = str(point.attributes.get("signal", "?"))
        what = point.name.rsplit(".", 1)[-1]
        row = numbers.setdefault(sig, {"accepted": 0, "exported": 0, "dropped": 0})
        row[what] = row.get(what, 0) + float(point.value)
    return numbers


def report(hub: Hub) -> str:
    """One report: what the workers sent and dropped, what the hub received,
    stored, evicted, refused and forwarded, and the total lost."""
    stats = hub.stats()
    lines = []
    workers = _worker_numbers(hub)
    worker_lost = int(sum(row.get("dropped", 0) for row in workers.values()))
    instances = stats["instances"]
    if workers:
        parts = [
            f"{sig} {int(row['accepted'])} accepted, {int(row.get('dropped', 0))} dropped"
            for sig, row in sorted(workers.items())
        ]
        lines.append(f"  workers ({len(instances)} instances): " + "; ".join(parts))
    else:
        lines.append(f"  instances: {len(instances)}")
    for name, row in stats["signals"].items():
        text = (
            f"  hub {name}: {row['received']} received, {row['stored']} stored, "
            f"{row.get('evicted', 0)} evicted, {row['invalid']} invalid"
        )
        if "forwarded" in row:
            text += f", {row['forwarded']} forwarded, {row['dropped']} dropped"
        lines.append(text)
    if stats["invalid_requests"] or stats["unauthorized"]:
        lines.append(
            f"  refused requests: {stats['invalid_requests']} invalid, "
            f"{stats['unauthorized']} unauthorized"
        )
    lost = worker_lost + hub.lost()
    verdict = "nothing lost" if lost == 0 else f"{lost} items lost"
    return "flext-otel hub: " + verdict + "\n" + "\n".join(lines)


def run_hub_command(args: argparse.Namespace) -> int:
    """Dispatch ``serve`` or ``run`` (called by :func:`flext_otel.cli.main.main`)."""
    if args.command == "serve":
        return serve_command(args, sys.stdout, sys.stderr)
    return run_command(args, sys.stdout, sys.stderr)
