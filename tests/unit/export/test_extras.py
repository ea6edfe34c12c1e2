"""The core works without the optional extras; selecting a missing one is a clear error."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK_EXTRAS = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        BLOCKED = ("prometheus_client", "opentelemetry.exporter", "grpc", "structlog")

        def find_spec(self, name, path=None, target=None):
            if name.startswith(self.BLOCKED):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run(body: str) -> subprocess.CompletedProcess[str]:
    code = BLOCK_EXTRAS + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_core_runs_without_extras() -> None:
    """configure(), the store, the simple API and the decorator work with no extra installed."""
    result = _run(
        """
        import flext_otel
        otel = flext_otel.configure(service_name="bare", install_globals=False)

        @flext_otel.flext_monitor_function
        def work():
            return 1

        work()
        assert flext_otel.metric("orders_total", 1).is_success
        assert [s.name for s in otel.store.spans()] == ["work"]
        assert otel.prometheus_registry is None
        print(otel.shutdown())
        """
    )
    assert result.returncode == 0, result.stderr
    assert "nothing lost" in result.stdout


def test_missing_otlp_extra_names_the_install() -> None:
    """Selecting OTLP without the extra is a ConfigError naming the pip install."""
    result = _run(
        """
        import flext_otel
        try:
            flext_otel.configure(traces_exporter="otlp", install_globals=False)
        except flext_otel.ConfigError as exc:
            print("ConfigError:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'flext-otel[otlp]'" in result.stdout


def test_missing_prometheus_extra_names_the_install() -> None:
    """Selecting Prometheus without the extra is a ConfigError naming the pip install."""
    result = _run(
        """
        import flext_otel
        try:
            flext_otel.configure(metrics_exporter="prometheus", install_globals=False)
        except flext_otel.ConfigError as exc:
            print("ConfigError:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'flext-otel[prometheus]'" in result.stdout
