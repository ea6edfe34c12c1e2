"""flext-otel demo's export options (in a child process) and check's network diagnoses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flext_otel.cli.main import main
from flext_otel.testing import OtlpReceiver


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or FLEXT_OTEL_* variable from the outer environment leaks in."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "FLEXT_OTEL_")):
            monkeypatch.delenv(name)


def free_port() -> int:
    """A port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def demo(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``flext-otel demo ARGV`` in a child process (it configures the OTel globals)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLEXT_OTEL_"))}
    return subprocess.run(
        [sys.executable, "-m", "flext_otel.cli", "demo", "--seed", "3", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
        check=False,
    )


def test_demo_exports_over_otlp_and_serves_prometheus(tmp_path: Path) -> None:
    """--otlp-endpoint ships the demo's spans, logs and metrics to a collector; nothing lost."""
    with OtlpReceiver("grpc") as receiver:
        done = demo(
            tmp_path,
            "--duration",
            "0.3",
            "--otlp-endpoint",
            receiver.endpoint,
            "--prometheus-port",
            str(free_port()),
        )
        assert done.returncode == 0, done.stderr
        assert receiver.wait_for_spans(1, timeout=10)
        assert receiver.wait_for_logs(1, timeout=10)
    assert "shutdown: nothing lost" in done.stdout
    assert "service 'flext-demo'" in done.stdout


def test_demo_serve_on_a_taken_port_exits_1_and_says_why(tmp_path: Path) -> None:
    """--serve on a port already in use exits 1 with a hint to pick another port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = demo(tmp_path, "--serve", "--port", str(taken.getsockname()[1]))
    assert done.returncode == 1
    assert "try another --port" in done.stderr


def run_check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``flext-otel check`` in process: (exit code, stdout)."""
    code = main(["check", "--timeout", "1"])
    return code, capsys.readouterr().out


def test_check_names_an_unresolvable_collector_host(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collector host that does not resolve is reported as such; exit 1."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://no-such-host.invalid:4317")
    code, out = run_check(capsys)
    assert code == 1
    assert "cannot resolve host 'no-such-host.invalid'" in out


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_check_reports_a_metrics_port_taken_by_a_mute_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, silent_listener: int
) -> None:
    """A /metrics port held by something that never answers HTTP is unreachable; exit 1."""
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(silent_listener))
    code, out = run_check(capsys)
    assert code == 1
    assert f"port {silent_listener} is in use by something that does not speak HTTP" in out


def test_check_reports_a_non_metrics_http_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A /metrics port answering 200 with HTML is in use by something else; exit 1."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(server.server_address[1]))
        monkeypatch.setenv("FLEXT_OTEL_HTTP_TOKEN", "t0k")
        code, out = run_check(capsys)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 1
    assert "is in use by something that does not serve metrics" in out
    assert "t0k" not in out
