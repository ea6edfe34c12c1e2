"""flext-otel as an OpenTelemetry configurator/distro under opentelemetry-instrument."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import coverage_env

from flext_otel.testing import OtlpReceiver

pytestmark = pytest.mark.e2e

APP = textwrap.dedent(
    """
    from opentelemetry import trace
    import flext_otel.pipeline.state as providers

    tracer = trace.get_tracer("distro-app")
    with tracer.start_as_current_span("distro-root"):
        with tracer.start_as_current_span("distro-child"):
            pass
    otel = providers.configured()
    print("configured-by-flext", otel is not None)
    print("store-spans", len(otel.store.spans()) if otel else -1)
    """
)


def _instrument_command() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    assert found, "opentelemetry-instrument is installed with flext-otel[instrument]"
    return found


@pytest.mark.parametrize(
    "selector",
    [{"OTEL_PYTHON_CONFIGURATOR": "flext_otel"}, {"OTEL_PYTHON_DISTRO": "flext_otel"}],
    ids=["configurator", "distro"],
)
def test_opentelemetry_instrument_uses_flext(tmp_path: Path, selector: dict[str, str]) -> None:
    """An app run under opentelemetry-instrument gets flext's pipeline; spans reach OTLP."""
    app = tmp_path / "app.py"
    app.write_text(APP, encoding="utf-8")
    with OtlpReceiver("grpc") as receiver:
        env = {
            **coverage_env(),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "OTEL_SERVICE_NAME": "distro-app",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            **selector,
        }
        result = subprocess.run(
            [_instrument_command(), sys.executable, str(app)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "configured-by-flext True" in result.stdout
        assert "store-spans 2" in result.stdout
        spans = receiver.wait_for_spans(2, timeout=10)
    names = sorted(s.name for s in spans)
    assert names == ["distro-child", "distro-root"]
    assert all(s.resource["service.name"] == "distro-app" for s in spans)
    child = next(s for s in spans if s.name == "distro-child")
    root = next(s for s in spans if s.name == "distro-root")
    assert child.parent_span_id == root.span_id
