"""Peers: flext-otel against logfire, configured locally, in one (child) process.

``logfire.configure(send_to_logfire=False, console=False)`` installs OTel
globals, so this module runs in its own interpreter (``run.py`` spawns it).
flext-otel records into a private pipeline made current with ``use()``; logfire
into the providers it configured. Ratios read "how many times faster flext-otel
is" (logfire ns / flext-otel ns).

logfire is pinned by the ``bench`` extra (``pip install -e '.[bench]'``, which
``nox -s bench`` and ``.ci/run`` install). Without it the peer rows are still in
the table, marked NOT RUN with the reason, and ``run.py --require-peers`` fails.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from cases import private_otel
from harness import Comparison, Row, Settings, Side, Target, interleave

import flext_otel


def _calling(func: Callable[[], object]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            func()

    return run


def _spans(start: Callable[[str], Any]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            with start("op"):
                pass

    return run


def _faster(subject: str, baseline: str, result: Comparison, target: Target | None) -> Row:
    rounds = [b / a for a, b in zip(result.a, result.b, strict=True)]
    return Row(
        case="peer",
        subject=subject,
        value=result.a_ns,
        baseline=baseline,
        baseline_value=result.b_ns,
        ratio=statistics.median(rounds),
        target=target,
        spread=(min(rounds), max(rounds)),
        note=f"x faster; {len(rounds)} rounds x {result.ops:,} ops",
    )


SPAN_ONLY = "@flext_monitor_function(metrics=False) no-op"
FULL = "@flext_monitor_function no-op (span + duration + calls)"
SPAN = 'flext_otel.span("op")'
INSTRUMENT = "@logfire.instrument()"
LOGFIRE_SPAN = 'logfire.span("op")'
SPAN_ONLY_TARGET = Target(">=", 3)
FULL_TARGET = Target(">=", 1.5)
PINNED = ">=5.4,<6"
"""The range the ``bench`` extra pins (pyproject.toml); other versions are reported."""


def not_run(reason: str) -> list[Row]:
    """The peer rows, each marked NOT RUN with ``reason`` (the table keeps its shape)."""
    return [
        Row("peer", SPAN_ONLY, 0.0, baseline=INSTRUMENT, target=SPAN_ONLY_TARGET, not_run=reason),
        Row("peer", FULL, 0.0, baseline=INSTRUMENT, target=FULL_TARGET, not_run=reason),
        Row("peer", SPAN, 0.0, baseline=LOGFIRE_SPAN, not_run=reason),
    ]


def peers(settings: Settings) -> list[Row]:
    """Decorated no-op and span: flext-otel vs logfire (NOT RUN rows when logfire is absent)."""
    try:
        import logfire
    except ImportError:
        return not_run(f"logfire is not installed: pip install -e '.[bench]' (logfire{PINNED})")
    logfire.configure(send_to_logfire=False, console=False)

    @logfire.instrument()
    def logfire_noop() -> None:
        return None

    rows = []
    with private_otel():

        @flext_otel.flext_monitor_function(metrics=False)
        def span_only() -> None:
            return None

        @flext_otel.flext_monitor_function
        def full() -> None:
            return None

        result = interleave(
            Side("flext", _calling(span_only)), Side("logfire", _calling(logfire_noop)), settings
        )
        rows.append(_faster(SPAN_ONLY, INSTRUMENT, result, SPAN_ONLY_TARGET))
        result = interleave(
            Side("flext", _calling(full)), Side("logfire", _calling(logfire_noop)), settings
        )
        rows.append(_faster(FULL, INSTRUMENT, result, FULL_TARGET))
        result = interleave(
            Side("flext", _spans(flext_otel.span)), Side("logfire", _spans(logfire.span)), settings
        )
        rows.append(_faster(SPAN, LOGFIRE_SPAN, result, None))
    return rows


__all__ = ["not_run", "peers"]
