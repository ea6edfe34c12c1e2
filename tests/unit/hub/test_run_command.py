"""``flext-otel run``: the command's environment, signal forwarding and exit status."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from flext_otel.cli.hub import child_environment
from flext_otel.hub import Hub, HubServer, start_hub
from flext_otel.pipeline.options import resolve_options

RUN = (sys.executable, "-m", "flext_otel.cli", "run")
FREE = ("--grpc-port", "0", "--http-port", "0", "--port", "0")


@pytest.fixture
def server() -> Iterator[HubServer]:
    """A hub on free ports."""
    with start_hub(
        Hub(resolve_options(install_globals=False)), grpc_port=0, http_port=0, port=0
    ) as running:
        yield running


def test_child_environment_points_every_signal_at_the_hub(server: HubServer) -> None:
    """All signals go over OTLP/gRPC to the hub; no Prometheus port; fast metric export."""
    env = child_environment(
        server,
        {
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "9464",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-secret=1",
            "PATH": "/usr/bin",
        },
        api_key="k3y",
    )
    assert env["OTEL_TRACES_EXPORTER"] == env["OTEL_LOGS_EXPORTER"] == "otlp"
    assert env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == server.grpc_url
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert env["OTEL_METRIC_EXPORT_INTERVAL"] == "1000"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == "authorization=Bearer k3y"
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" not in env
    assert "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" not in env
    assert env["OTEL_PYTHON_DISTRO"] == "flext_otel"
    assert env["PATH"] == "/usr/bin"
    options = resolve_options(environ=env, install_globals=False)
    assert options.prometheus_port is None
    assert options.otlp("traces").endpoint == server.grpc_url


def test_sigterm_is_forwarded_and_the_commands_status_returned() -> None:
    """SIGTERM to ``run`` reaches COMMAND; ``run`` exits with COMMAND's status."""
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))\n"
        "print('child ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [*RUN, *FREE, "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        while not any("child ready" in line for line in seen):
            line = process.stdout.readline()
            assert line, seen
            seen.append(line)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3
    assert "exited with status 3" in output
    assert "nothing lost" in output


def test_run_without_a_command_is_a_usage_error() -> None:
    """``flext-otel run`` with nothing after ``--`` exits 2 and says why."""
    done = subprocess.run(
        [*RUN, *FREE, "--"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "give a command" in done.stderr


def test_a_command_that_cannot_start_is_127() -> None:
    """A missing executable is reported and the exit status is 127, like a shell's."""
    done = subprocess.run(
        [*RUN, *FREE, "--", "/nonexistent/flext-otel-test-binary"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 127, done.stderr
    assert "cannot start" in done.stderr
