"""Real pre-fork and multi-worker servers on 127.0.0.1 exporting to an OtlpReceiver.

Each case boots the server with the README's recipe, waits until every worker
answers, sends 200 requests, sends SIGTERM to the master right away, and checks
that every trace and every request in the HTTP-server duration histogram arrived,
from as many distinct ``service.instance.id`` values as there are workers.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import missing_backend

from flext_otel.testing import OtlpReceiver
from flext_otel.testing.receiver import ReceivedMetricPoint, ReceivedSpan

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APPS = Path(__file__).parent / "apps"
BIN = Path(sys.executable).parent
REQUESTS = 200
CLIENTS = 16
BOOT_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 10.0
DURATION_HISTOGRAMS = ("http.server.duration", "http.server.request.duration")

# The README's commands, verbatim (tests/e2e/test_process_models_readme.py checks them);
# the tests add only a free port to bind.
GUNICORN = "gunicorn -c python:flext_otel.integrations.gunicorn -w 4 flask_app:app"
GUNICORN_PRELOAD = (
    "gunicorn -c python:flext_otel.integrations.gunicorn -w 4 --preload flask_app:app"
)
INSTRUMENTED = (
    "OTEL_PYTHON_DISTRO=flext_otel opentelemetry-instrument "
    "gunicorn -c python:flext_otel.integrations.gunicorn -w 4 flask_plain:app"
)
UVICORN_WORKERS = "uvicorn starlette_app:app --workers 2"
UVICORN = "uvicorn starlette_app:app"
UVICORN_LIFESPAN = "uvicorn starlette_lifespan:app"
CELERY = "celery -A celery_app worker -P prefork -c 2"
BATCH = "python batch_jobs.py"  # then the start method and the kind of pool
COMMANDS = (
    GUNICORN,
    GUNICORN_PRELOAD,
    INSTRUMENTED,
    UVICORN_WORKERS,
    UVICORN,
    UVICORN_LIFESPAN,
    CELERY,
    BATCH,
)


def command_line(command: str, *extra: str) -> tuple[list[str], dict[str, str]]:
    """``command`` as argv (its tools from this environment, ``-b``/``--port`` style
    ``extra`` arguments inserted before the app) and its leading ``VAR=value`` words."""
    words = shlex.split(command)
    env: dict[str, str] = {}
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    argv = [sys.executable if words[0] == "python" else _tool(words[0]), *words[1:]]
    if extra:
        app_at = max(i for i, w in enumerate(argv) if ":app" in w or w.endswith(".py"))
        argv[app_at:app_at] = list(extra)
    return argv, env


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            missing_backend(f"{name} is not installed (pip install -e '.[test]')")
        return str(found)
    return str(path)


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def otel_env(rx: OtlpReceiver, **extra: str) -> dict[str, str]:
    """The environment of a served app: OTLP export of traces and metrics to ``rx``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLEXT_OTEL_"))}
    env.update(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=rx.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc" if rx.protocol == "grpc" else "http/protobuf",
        OTEL_PYTHON_EXCLUDED_URLS="health",
        PYTHONPATH=str(APPS),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # the tools of this environment
    )
    env.update(extra)
    return env


class Served:
    """A server process group started from ``command``; ``stop()`` sends SIGTERM."""

    def __init__(self, command: Sequence[str], env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            list(command),
            env=env,
            cwd=APPS,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return str(r.read().decode())

    def wait_for_workers(self, workers: int) -> set[str]:
        """Ask /health (left out of the telemetry) until ``workers`` pids answered."""
        pids: set[str] = set()
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        with ThreadPoolExecutor(CLIENTS) as pool:
            while len(pids) < workers:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not boot {workers} workers:\n{self.output()}")
                try:
                    pids.update(pool.map(lambda _: self.get("/health"), range(CLIENTS)))
                except OSError:
                    time.sleep(0.1)  # not listening yet: nothing to wait on but time
        return pids

    def burst(self, n: int = REQUESTS) -> None:
        """``n`` requests to ``/`` from several clients; every one must succeed."""
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(lambda _: self.get("/"), range(n)))
        assert answers == ["ok"] * n

    def stop(self) -> int:
        """SIGTERM to the master; its exit status (it must exit within EXIT_TIMEOUT_S)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"master did not exit within {EXIT_TIMEOUT_S}s:\n{self.output()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-6000:]

    def close(self) -> None:
        self.kill()
        self._log_file.close()


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """A gRPC OTLP receiver (the exporters' default protocol)."""
    with OtlpReceiver("grpc") as rx:
        yield rx


def server_spans(rx: OtlpReceiver, n: int) -> list[ReceivedSpan]:
    """Wait for ``n`` server spans of ``GET /``."""
    rx.wait_for_spans(n, timeout=15)
    return [s for s in rx.spans() if s.kind == 2]


def requests_in_histogram(points: list[ReceivedMetricPoint]) -> int:
    """Requests counted by the HTTP-server duration histograms: the latest cumulative
    point of each (instance, attribute set), summed."""
    latest: dict[tuple[object, ...], ReceivedMetricPoint] = {}
    for point in points:
        if point.name not in DURATION_HISTOGRAMS:
            continue
        key = (
            point.name,
            point.resource.get("service.instance.id"),
            tuple(sorted(point.attributes.items())),
        )
        if key not in latest or latest[key].time_ns <= point.time_ns:
            latest[key] = point
    names = {name for name, *_ in latest}
    assert len(names) == 1, f"expected one duration histogram, got {names}"
    return sum(p.count or 0 for p in latest.values())


def check_delivery(rx: OtlpReceiver, server: Served, workers: int) -> None:
    """Every trace and every request in the histogram arrived, from ``workers`` instances."""
    spans = server_spans(rx, REQUESTS)
    assert len(spans) == REQUESTS, server.output()
    assert len({s.trace_id for s in spans}) == REQUESTS
    instances = {s.resource["service.instance.id"] for s in spans}
    assert len(instances) == workers, server.output()
    assert len({s.resource["process.pid"] for s in spans}) == workers
    counted = 0
    for _ in range(15):  # each worker's exit flush brings its points; wait for more
        counted = requests_in_histogram(rx.metrics())
        if counted >= REQUESTS:
            break
        with contextlib.suppress(TimeoutError):
            rx.wait_for_metrics(len(rx.metrics()) + 1, timeout=1)
    assert counted == REQUESTS, server.output()


@pytest.mark.parametrize("preload", [False, True], ids=["configure-per-worker", "preload"])
def test_gunicorn_four_workers(receiver: OtlpReceiver, tmp_path: Path, preload: bool) -> None:
    """gunicorn -w 4 (with and without --preload) serving the instrumented Flask app:
    all 200 traces and histogram counts arrive after SIGTERM, from 4 instances."""
    port, metrics_port = free_port(), free_port()
    argv, _ = command_line(GUNICORN_PRELOAD if preload else GUNICORN, "-b", f"127.0.0.1:{port}")
    env = otel_env(
        receiver,
        OTEL_METRICS_EXPORTER="otlp,prometheus",  # every process wants the /metrics port
        OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
    )
    server = Served(argv, env, port, tmp_path / "gunicorn.log")
    try:
        workers = server.wait_for_workers(4)
        server.burst()
        assert server.stop() == 0, server.output()
        check_delivery(receiver, server, 4)
        # one warning per process that cannot serve /metrics, naming the one that does
        output = server.output()
        if preload:
            owner = str(server.proc.pid)  # the master bound it before forking
            assert output.count(f"is served by process {owner}, the parent") == 4, output
        else:
            owners = {o for o in workers if f"process {o} (" in output}
            assert len(owners) == 1, output
            assert output.count("serves that port") == 3, output
        assert "flext-otel run --" in output
    finally:
        server.close()


def test_gunicorn_under_opentelemetry_instrument(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """opentelemetry-instrument gunicorn -w 4 with flext-otel as the distro (Prometheus
    /metrics on too): the master exits promptly and all 200 requests arrive."""
    port = free_port()
    command, variables = command_line(INSTRUMENTED, "-b", f"127.0.0.1:{port}")
    env = otel_env(
        receiver,
        **variables,
        OTEL_METRICS_EXPORTER="otlp,prometheus",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(free_port()),
        OTEL_SERVICE_NAME="shop",
    )
    server = Served(command, env, port, tmp_path / "gunicorn.log")
    try:
        server.wait_for_workers(4)
        server.burst()
        assert server.stop() == 0, server.output()
        check_delivery(receiver, server, 4)
    finally:
        server.close()


def test_uvicorn_two_workers(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """uvicorn --workers 2 serving the instrumented Starlette app: everything arrives
    after SIGTERM, from 2 instances."""
    port = free_port()
    command, _ = command_line(UVICORN_WORKERS, "--port", str(port), "--no-access-log")
    server = Served(command, otel_env(receiver), port, tmp_path / "uvicorn.log")
    try:
        server.wait_for_workers(2)
        server.burst()
        server.stop()
        check_delivery(receiver, server, 2)
    finally:
        server.close()


@pytest.mark.parametrize("command", [UVICORN, UVICORN_LIFESPAN], ids=["at-import", "lifespan"])
def test_single_uvicorn_stopped_right_after_a_burst(
    receiver: OtlpReceiver, tmp_path: Path, command: str
) -> None:
    """A single uvicorn process stopped by SIGTERM right after a burst flushes every
    trace and histogram count (configured at import, or in the app's lifespan)."""
    port = free_port()
    argv, _ = command_line(command, "--port", str(port), "--no-access-log")
    server = Served(argv, otel_env(receiver), port, tmp_path / "uvicorn.log")
    try:
        server.wait_for_workers(1)
        server.burst()
        status = server.stop()
        assert status in (0, -signal.SIGTERM), server.output()
        check_delivery(receiver, server, 1)
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["executor", "pool"])
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_process_pools(receiver: OtlpReceiver, start_method: str, kind: str) -> None:
    """ProcessPoolExecutor and multiprocessing.Pool, fork and spawn: every worker's
    spans and metrics arrive, each worker under its own service.instance.id."""
    argv, _ = command_line(BATCH)
    argv += [start_method, kind]
    result = subprocess.run(
        argv,
        env=otel_env(receiver),
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(sum(i * 1.5 for i in range(20)))
    spans = receiver.wait_for_spans(20, timeout=15)
    assert sorted(s.attributes["order"] for s in spans) == list(range(20))
    workers = {s.resource["service.instance.id"] for s in spans}
    points = receiver.wait_for_metrics(1, name="orders_priced_total")
    latest: dict[object, ReceivedMetricPoint] = {}
    for point in receiver.metrics("orders_priced_total"):
        latest[point.resource["service.instance.id"]] = point
    assert points
    assert set(latest) == workers
    assert sum(p.value or 0 for p in latest.values()) == 20


def test_celery_prefork_workers(receiver: OtlpReceiver, tmp_path: Path) -> None:
    """celery prefork (-c 2) with the worker_process_init / worker_process_shutdown
    hooks: after SIGTERM (warm shutdown) every task's span and metric arrived."""
    env = otel_env(receiver, CELERY_DATA_DIR=str(tmp_path / "broker"))
    env["OTEL_BSP_SCHEDULE_DELAY"] = "60000"  # only the shutdown flush delivers
    command, _ = command_line(CELERY)
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "info"]
    worker = Served(command, env, 0, tmp_path / "celery.log")
    try:
        producer = subprocess.run(
            [
                sys.executable,
                "-c",
                "from celery_app import price\n"
                "results = [price.delay(i) for i in range(20)]\n"
                "print(sum(r.get(timeout=60) for r in results))",
            ],
            env=env,
            cwd=APPS,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert producer.returncode == 0, producer.stderr + worker.output()
        assert producer.stdout.strip() == str(sum(i * 1.5 for i in range(20)))
        assert worker.stop() == 0, worker.output()
        spans = receiver.wait_for_spans(20, timeout=15)
        assert sorted(s.attributes["order"] for s in spans) == list(range(20))
        latest = {
            p.resource["service.instance.id"]: p for p in receiver.metrics("orders_priced_total")
        }
        assert sum(p.value or 0 for p in latest.values()) == 20
        assert set(latest) == {s.resource["service.instance.id"] for s in spans}
    finally:
        worker.close()
