"""The flext-otel command: demo and help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flext_otel.cli.main import main


def test_demo_runs_and_summarises() -> None:
    """demo runs the workload, prints traces as trees and a store summary, exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "flext_otel.cli", "demo", "--duration", "0.3", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "trace " in out
    assert "checkout" in out
    assert "└─ charge-card" in out
    assert "store:" in out
    assert "spans in" in out
    assert "log records" in out
    assert "metric series" in out
    assert "orders_total" in out
    assert "shutdown: nothing lost" in out


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["check", "--help"]])
def test_help_works(argv: list[str]) -> None:
    """--help prints usage and exits 0 for the command and its subcommands."""
    result = subprocess.run(
        [sys.executable, "-m", "flext_otel.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: flext-otel" in result.stdout


def test_bad_configuration_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad OTEL_* value is reported as a configuration error with exit code 2."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    assert main(["demo", "--duration", "0"]) == 2
    assert "OTEL_TRACES_EXPORTER='zipkin'" in capsys.readouterr().err
