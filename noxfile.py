"""nox sessions: tests, lint, typecheck, bench, examples."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (real Prometheus and OTLP receivers included)."""
    session.install("-e", ".[all,test]")
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
