"""Shared fixtures and the one missing-backend helper.

Real backends (Debian's ``prometheus`` and ``promtool``, headless ``chromium``,
grpcio / opentelemetry-proto for the OTLP receiver, gunicorn, uvicorn) are part of
the contract where ``FLEXT_OTEL_REQUIRE_BACKENDS=1`` (``.ci/run`` always sets it):
there a missing one fails the test. Elsewhere it skips the test with the reason.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import settings
from prometheus_server import PrometheusServer

from flext_otel.testing import Captured, capture

# Property tests assert behaviour, not speed: no per-example deadline (a loaded 2-core
# machine stretches single examples past hypothesis's default 200 ms).
settings.register_profile("flext", deadline=None)
settings.load_profile("flext")

REQUIRE_BACKENDS_ENV = "FLEXT_OTEL_REQUIRE_BACKENDS"
PROMETHEUS_BIN = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
PROMTOOL_BIN = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")
_CHOSEN = {os.environ[name] for name in ("PROMETHEUS_BIN", "PROMTOOL_BIN") if os.environ.get(name)}
_PROMETHEUS_HINT = "apt-get install -y --no-install-recommends prometheus (also provides promtool)"


COVERAGE_VARIABLES = ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG", "COVERAGE_FILE")


def coverage_env() -> dict[str, str]:
    """Coverage's variables of this process, for a child started with a minimal environment.

    ``.ci/run`` measures every Python process through coverage's ``.pth`` hook, which
    acts only where these variables are set; a test that builds its child's
    environment from scratch spreads this in (``env={**coverage_env(), ...}``).
    """
    return {name: os.environ[name] for name in COVERAGE_VARIABLES if name in os.environ}


def backends_required() -> bool:
    """True where a missing backend is a failure (``FLEXT_OTEL_REQUIRE_BACKENDS=1``)."""
    return os.environ.get(REQUIRE_BACKENDS_ENV, "").strip().lower() in {"1", "true", "yes"}


def missing_backend(reason: str) -> NoReturn:
    """Fail (backends required) or skip the current test because ``reason``."""
    if backends_required():
        pytest.fail(f"required backend missing ({REQUIRE_BACKENDS_ENV}=1): {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(path: str, hint: str = _PROMETHEUS_HINT, *, chosen: bool = False) -> str:
    """An executable for ``path`` (or its name on PATH), else :func:`missing_backend`.

    A path the user chose (``chosen=True``, or the value of ``PROMETHEUS_BIN`` /
    ``PROMTOOL_BIN``) is used as given: a wrong one is missing, not replaced by another.
    """
    if os.access(path, os.X_OK):
        return path
    if chosen or path in _CHOSEN:
        missing_backend(f"{path} is not an executable ({hint})")
    found = shutil.which(Path(path).name)
    if found:
        return found
    missing_backend(f"{path} is not installed ({hint})")


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


@pytest.fixture
def cap(request: pytest.FixtureRequest) -> Iterator[Captured]:
    """A private pipeline (``flext_otel.testing.capture``) for one test; a test module
    may name its service with a module-level ``CAPTURE_SERVICE``."""
    service = getattr(request.module, "CAPTURE_SERVICE", None)
    options = {"service_name": service} if service else {}
    with capture(**options) as captured:
        yield captured


def wait_child(pid: int, timeout: float) -> int | str:
    """A forked child's exit code, or ``"hung"`` (and the child killed) after ``timeout``."""
    pidfd = os.pidfd_open(pid)
    try:
        exited, _, _ = select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    if not exited:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "hung"
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
