"""nox sessions: tests, floor, newest, lint, typecheck, bench, examples."""

from __future__ import annotations

import runpy
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (real Prometheus and OTLP receivers included)."""
    session.install("-e", ".[all,test]")
    session.run("pytest", *session.posargs)


def floor_pins() -> list[str]:
    """``opentelemetry-*==lowest`` for every OpenTelemetry requirement of pyproject.toml."""
    helper = runpy.run_path(str(Path(__file__).parent / ".ci" / "floor_pins.py"))
    pins: list[str] = helper["floor_pins"](Path(__file__).parent / "pyproject.toml")
    return pins


@nox.session
def floor(session: nox.Session) -> None:
    """The whole suite with every OpenTelemetry package at the lowest version
    pyproject.toml allows (the same as ``.ci/floor``)."""
    session.install("-e", ".[all,test]", *floor_pins())
    session.run("flext-otel", "check", success_codes=[0, 1])  # prints the versions in use
    session.run("pytest", *session.posargs)


@nox.session
def newest(session: nox.Session) -> None:
    """The whole suite with the newest OpenTelemetry packages pip can resolve together."""
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", ".[all,test]")
    session.run("flext-otel", "check", success_codes=[0, 1])
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[all,test]")
    session.run("mypy", "--strict")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against the raw SDK and peers; writes benchmarks/results.md.

    The ``bench`` extra pins the logfire peer (``logfire>=5.4,<6``); a peer that did not
    run fails the session (``--require-peers``) instead of vanishing from the table.
    """
    session.install("-e", ".[all,test,bench]")  # bench extra: logfire>=5.4,<6 (the peer)
    session.run("python", "benchmarks/run.py", "--require-peers", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every example script."""
    session.install("-e", ".[all,test]")
    session.run("pytest", "tests/test_examples.py", *session.posargs)
