"""Every example runs as `python examples/NAME.py`, finishes in seconds and says what it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "quickstart.py": ["correlation: req-7f3a", "- price", "orders_total", "nothing lost"],
    "domain_entities.py": [
        "invalid metric: INVALID_NAME",
        "FlextHealthCheck  ok",
        "'status': 'degraded'",
        "nothing lost",
    ],
    "otlp_export.py": [
        "collector got span: import-orders otlp-demo",
        "collector got metric: orders_imported_total 25",
        "nothing lost",
    ],
    "prometheus_endpoint.py": ['region="eu"} 2.0', "health: healthy healthy", "nothing lost"],
    "logging_and_structlog.py": [
        '"correlation_id":"req-42"',
        '"event": "payment captured"',
        "stored: ERROR inventory check failed",
        "nothing lost",
    ],
    "asyncio_correlation.py": ["spans without an id: 0", "nothing lost"],
    "wsgi_service.py": [
        "same trace: True",
        "server span parent is the client span: True",
        "correlation id crossed the hop: order-981",
        "server span kind: server",
        "nothing lost",
    ],
}


def test_every_example_is_listed() -> None:
    """Each script in examples/ has expectations here."""
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    """The example exits 0 and prints what it demonstrates."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for expected in EXPECTED[name]:
        assert expected in result.stdout, (expected, result.stdout)
