"""flext-otel check: prints the masked configuration, reaches each exporter, exit codes."""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from flext_otel.cli.main import main
from flext_otel.testing import OtlpReceiver, capture
from flext_otel.web.server import serve_http


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or FLEXT_OTEL_* variable from the outer environment leaks in."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "FLEXT_OTEL_")):
            monkeypatch.delenv(name)


def closed_port() -> int:
    """A port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``flext-otel check`` in process: (exit code, stdout, stderr)."""
    code = main(["check", "--timeout", "1", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exporter_lines(out: str) -> dict[str, str]:
    """``{"traces:otlp": "<rest of line>", ...}`` from the exporters section."""
    section = out.split("exporters:\n", 1)[1]
    lines = [line.strip() for line in section.splitlines() if line.startswith("  ")]
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in lines}


@pytest.fixture
def grpc_receiver() -> Iterator[Any]:
    """A running OTLP/gRPC receiver."""
    with OtlpReceiver("grpc") as receiver:
        yield receiver


def test_no_exporters_is_ok_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """With nothing configured check exits 0 and says everything stays in the store."""
    code, out, _ = run_check(capsys)
    assert code == 0
    assert "service_name = 'unknown_service'" in out
    assert "none configured" in out


def test_reachable_otlp_endpoints_exit_zero(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, grpc_receiver: Any
) -> None:
    """Every signal pointed at a live receiver reports reachable; exit 0."""
    for signal in ("TRACES", "METRICS", "LOGS"):
        monkeypatch.setenv(f"OTEL_{signal}_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_receiver.endpoint)
    code, out, _ = run_check(capsys)
    lines = exporter_lines(out)
    assert code == 0
    assert set(lines) == {"traces:otlp", "metrics:otlp", "logs:otlp"}
    for line in lines.values():
        assert line.startswith(f"{grpc_receiver.endpoint} (grpc)")
        assert line.endswith(": reachable")
    assert "all 3 exporters reachable" in out


def test_http_protocol_reports_the_signal_paths(capsys: pytest.CaptureFixture[str]) -> None:
    """Over http/protobuf the per-signal /v1/<signal> URL is what gets reached."""
    with OtlpReceiver("http") as receiver:
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        }
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            code, out, _ = run_check(capsys)
    assert code == 0
    assert exporter_lines(out)["traces:otlp"] == (
        f"{receiver.endpoint}/v1/traces (http/protobuf; gzip): reachable"
    )


def test_unreachable_endpoint_exits_one_with_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closed port is reported unreachable with the reason; exit 1."""
    port = closed_port()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    code, out, _ = run_check(capsys)
    assert code == 1
    line = exporter_lines(out)["traces:otlp"]
    assert line.startswith(f"http://127.0.0.1:{port} (grpc): unreachable: ")
    assert "connection refused" in line
    assert "1 of 1 exporters unreachable" in out


def test_mixed_endpoints_report_each_correctly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, grpc_receiver: Any
) -> None:
    """Per-signal endpoints are checked separately: one reachable, one not; exit 1."""
    port = closed_port()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"http://127.0.0.1:{port}")
    code, out, _ = run_check(capsys)
    lines = exporter_lines(out)
    assert code == 1
    assert lines["traces:otlp"].endswith(": reachable")
    assert f"127.0.0.1:{port}" in lines["logs:otlp"]
    assert "unreachable: connection refused" in lines["logs:otlp"]


def test_secrets_are_masked_everywhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, grpc_receiver: Any
) -> None:
    """Header values, per-signal headers, the HTTP token and URL passwords never print."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=hdr-secret-1,x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "authorization=Bearer%20hdr-secret-2")
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        grpc_receiver.endpoint.replace("http://", "http://bob:url-secret-3@"),
    )
    monkeypatch.setenv("FLEXT_OTEL_HTTP_TOKEN", "token-secret-4")
    code, out, err = run_check(capsys)
    assert code == 0, out
    for secret in ("hdr-secret-1", "hdr-secret-2", "url-secret-3", "token-secret-4", "bob"):
        assert secret not in out
        assert secret not in err
    assert "otlp_headers = {'api-key': '****', 'x-tenant': '****'}" in out
    assert "http_token = '****'" in out
    assert "http://****@127.0.0.1" in out
    assert (
        "headers api-key=****,x-tenant=****,authorization=****"
        in exporter_lines(out)["traces:otlp"]
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTEL_TRACES_SAMPLER_ARG", "1.7"), ("OTEL_TRACES_EXPORTER", "zipkin")],
)
def test_bad_configuration_exits_two(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """A ConfigError exits 2 with a message naming the variable."""
    monkeypatch.setenv(variable, value)
    code, out, err = run_check(capsys)
    assert code == 2
    assert variable in err
    assert "exporters:" not in out


def test_missing_otlp_extra_exits_two(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OTLP exporter without the otlp extra is a configuration error naming the install."""
    real_find_spec = importlib.util.find_spec

    def without_otlp(name: str, package: str | None = None) -> Any:
        if name.startswith("opentelemetry.exporter.otlp"):
            return None
        return real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_otlp)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    code, _, err = run_check(capsys)
    assert code == 2
    assert "pip install 'flext-otel[otlp]'" in err


def test_prometheus_free_port_is_reachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A free prometheus port can be bound, so it reports reachable."""
    port = closed_port()
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometheus")
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    code, out, _ = run_check(capsys)
    assert code == 0
    assert exporter_lines(out)["metrics:prometheus"] == (
        f"http://127.0.0.1:{port}/metrics: reachable (port free: flext-otel will serve "
        "/metrics there)"
    )


def test_prometheus_port_already_served_is_reachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port where flext-otel already serves /metrics (with the token) reports reachable."""
    with (
        capture() as cap,
        serve_http(cap.otel, port=0, token="scrape-token") as server,
    ):
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(server.port))
        monkeypatch.setenv("FLEXT_OTEL_HTTP_TOKEN", "scrape-token")
        code, out, _ = run_check(capsys)
    assert code == 0
    assert exporter_lines(out)["metrics:prometheus"].endswith(
        "reachable (already served (HTTP 200))"
    )


def test_prometheus_port_taken_by_something_else_is_unreachable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port held by a non-HTTP listener cannot serve /metrics: unreachable, exit 1."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        def hang_up() -> None:
            conn, _ = squatter.accept()
            conn.sendall(b"SSH-2.0-not-http\r\n")
            conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
        code, out, _ = run_check(capsys)
        thread.join(5)
    assert code == 1
    line = exporter_lines(out)["metrics:prometheus"]
    assert line.startswith(f"http://127.0.0.1:{port}/metrics: unreachable: port {port} is in use")
