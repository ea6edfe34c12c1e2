"""Fixtures for tests against real backends (Prometheus, promtool).

A missing binary skips the test locally with the reason, and fails it in CI
(``CI=true``), where the backends are part of the contract.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_server import PrometheusServer

PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
PROMTOOL_BIN = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")


def require_binary(path: str) -> str:
    """Return an executable for ``path`` (or its name on PATH); fail in CI, skip locally."""
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(Path(path).name)
    if found:
        return found
    reason = (
        f"{path} is not installed (Debian: apt-get install -y --no-install-recommends "
        "prometheus, which also provides promtool)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of the ``promtool`` binary."""
    return require_binary(PROMTOOL_BIN)


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    """Path of the ``prometheus`` binary (for tests that need a private server)."""
    return require_binary(PROMETHEUS_BIN)


@pytest.fixture(scope="session")
def prometheus(prometheus_bin: str) -> Iterator[PrometheusServer]:
    """One Prometheus for the whole session, started with no targets.

    Tests add theirs with ``prometheus.set_targets([...])`` and wait with ``wait_for``.
    """
    server = PrometheusServer([], binary=prometheus_bin)
    try:
        yield server
    finally:
        server.stop()
