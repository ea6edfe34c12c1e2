"""Timing harness: interleaved A/B rounds in one process, medians, ratios, a markdown table.

Absolute times on a shared machine drift from one second to the next, so every
comparison runs both sides in the same process, alternating A/B then B/A over
several rounds of N operations each, and reports the median nanoseconds per
operation of each side and the median of the per-round ratios. Like ``timeit``,
the garbage collector is paused while a batch runs and a full collection runs
between batches.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROWS_MARKER = "BENCH-ROWS:"
"""Prefix of the line on which a ``--child`` interpreter prints its rows as JSON."""

Batch = Callable[[int], object]
"""Runs ``n`` operations (the loop lives inside, so both sides pay the same loop cost)."""


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    rounds: int
    batch_seconds: float
    min_ops: int
    max_ops: int
    quick: bool

    @classmethod
    def for_mode(cls, quick: bool, rounds: int | None = None) -> Settings:
        """Full runs: 9 rounds of ~0.1 s batches; quick runs: 3 rounds of ~0.01 s."""
        if quick:
            return cls(rounds or 3, 0.01, 20, 2_000, True)
        return cls(rounds or 9, 0.1, 200, 200_000, False)

    def scaled(self, full: int, quick: int) -> int:
        """``full`` in a full run, ``quick`` in a quick one."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a label, a batch runner and an untimed reset."""

    label: str
    run: Batch
    reset: Callable[[], object] | None = None


@dataclass(frozen=True)
class Comparison:
    """Per-round nanoseconds per operation of both sides."""

    ops: int
    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def a_ns(self) -> float:
        """Median ns/op of side A."""
        return statistics.median(self.a)

    @property
    def b_ns(self) -> float:
        """Median ns/op of side B."""
        return statistics.median(self.b)

    @property
    def ratio(self) -> float:
        """The median of the per-round A/B ratios.

        Each round measures A and B back to back, so a burst of load from
        elsewhere on the machine skews one round's ratio rather than one side's
        median; the median of the paired ratios discards such rounds.
        """
        return statistics.median(self.round_ratios())

    def round_ratios(self) -> list[float]:
        """A/B of each round (both measured back to back)."""
        return [a / b for a, b in zip(self.a, self.b, strict=True)]


def time_batch(side: Side, n: int) -> float:
    """Nanoseconds per operation of one batch of ``n`` operations."""
    if side.reset is not None:
        side.reset()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        side.run(n)
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / n


def calibrate(settings: Settings, *sides: Side) -> int:
    """Operations per batch so the slowest side's batch takes about ``batch_seconds``."""
    n = 8
    while True:
        worst = max(time_batch(side, n) for side in sides)
        if worst * n >= settings.batch_seconds * 1e9 / 10 or n >= settings.max_ops:
            break
        n *= 4
    wanted = int(settings.batch_seconds * 1e9 / max(worst, 1.0))
    return max(settings.min_ops, min(settings.max_ops, wanted))


def interleave(a: Side, b: Side, settings: Settings, ops: int | None = None) -> Comparison:
    """Measure ``a`` and ``b`` alternately (A,B then B,A, ...) after a warm-up batch each."""
    n = ops if ops is not None else calibrate(settings, a, b)
    time_batch(a, n)
    time_batch(b, n)
    a_times: list[float] = []
    b_times: list[float] = []
    for index in range(settings.rounds):
        if index % 2 == 0:
            a_times.append(time_batch(a, n))
            b_times.append(time_batch(b, n))
        else:
            b_times.append(time_batch(b, n))
            a_times.append(time_batch(a, n))
    return Comparison(n, tuple(a_times), tuple(b_times))


def measure(side: Side, settings: Settings) -> tuple[int, float]:
    """``(ops per batch, median ns/op)`` of one side alone (the floors)."""
    n = calibrate(settings, side)
    time_batch(side, n)
    return n, statistics.median(time_batch(side, n) for _ in range(settings.rounds))


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``ratio <= value`` (``op="<="``) or ``ratio >= value`` (``op=">="``).

    An ``absolute`` target is checked against the row's own value (bytes, MB,
    spans) instead of its ratio.
    """

    op: str
    value: float
    suffix: str = "x"
    absolute: bool = False

    def met(self, measured: float) -> bool:
        """Whether ``measured`` meets the target."""
        return measured <= self.value if self.op == "<=" else measured >= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:,g}{self.suffix}"


@dataclass(frozen=True)
class Row:
    """One line of the results table.

    ``value`` is the flext-otel side (ns/op unless ``unit`` says otherwise),
    ``baseline_value`` its twin; ``ratio`` is what ``target`` is checked against.
    ``not_run`` says why a row that belongs in the table was not measured (a peer
    that is not installed): the table shows "NOT RUN" and the reason instead of numbers.
    """

    case: str
    subject: str
    value: float
    unit: str = "ns/op"
    baseline: str = ""
    baseline_value: float | None = None
    ratio: float | None = None
    target: Target | None = None
    spread: tuple[float, float] | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    not_run: str = ""

    @property
    def verdict(self) -> str:
        """``met``, ``MISSED``, ``NOT RUN`` or empty when there is no target."""
        if self.not_run:
            return "NOT RUN"
        if self.target is None:
            return ""
        measured = self.value if self.target.absolute else self.ratio
        if measured is None:
            return ""
        return "met" if self.target.met(measured) else "MISSED"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (rows cross process boundaries as JSON)."""
        return {
            "case": self.case,
            "subject": self.subject,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio,
            "target": None
            if self.target is None
            else [self.target.op, self.target.value, self.target.suffix, self.target.absolute],
            "spread": None if self.spread is None else list(self.spread),
            "note": self.note,
            "extra": self.extra,
            "not_run": self.not_run,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Row:
        """The inverse of :meth:`to_json`."""
        target = data.get("target")
        spread = data.get("spread")
        baseline_value = data.get("baseline_value")
        ratio = data.get("ratio")
        extra = data.get("extra") or {}
        return cls(
            case=str(data["case"]),
            subject=str(data["subject"]),
            value=float(data["value"]),  # type: ignore[arg-type]
            unit=str(data["unit"]),
            baseline=str(data.get("baseline") or ""),
            baseline_value=None if baseline_value is None else float(baseline_value),  # type: ignore[arg-type]
            ratio=None if ratio is None else float(ratio),  # type: ignore[arg-type]
            target=None if not isinstance(target, list) else Target(*target),
            spread=None if not isinstance(spread, list) else (float(spread[0]), float(spread[1])),
            note=str(data.get("note") or ""),
            extra=dict(extra),  # type: ignore[call-overload]
            not_run=str(data.get("not_run") or ""),
        )


def compared(
    case: str,
    flext: str,
    baseline: str,
    result: Comparison,
    target: Target | None,
    note: str = "",
) -> Row:
    """A row for a slowdown comparison: ratio = flext / baseline."""
    rounds = result.round_ratios()
    return Row(
        case=case,
        subject=flext,
        value=result.a_ns,
        baseline=baseline,
        baseline_value=result.b_ns,
        ratio=result.ratio,
        target=target,
        spread=(min(rounds), max(rounds)),
        note=note or f"{len(rounds)} rounds x {result.ops:,} ops",
    )


def _number(value: float, unit: str) -> str:
    if unit == "ns/op":
        return f"{value:,.0f} ns"
    if unit == "spans/s":
        return f"{value:,.0f} spans/s"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "spans":
        return f"{value:,.0f} spans"
    if unit == "MB":
        return f"{value:,.1f} MB"
    return f"{value:,.2f} {unit}"


def markdown_table(rows: list[Row]) -> str:
    """The results as one markdown table."""
    lines = [
        "| case | flext-otel | | baseline | | ratio | target | | range over rounds |",
        "|---|---|--:|---|--:|--:|---|---|---|",
    ]
    for row in rows:
        if row.not_run:
            lines.append(
                f"| {row.case} | {row.subject} | not run | {row.baseline} | | | "
                f"{row.target or ''} | NOT RUN | {row.not_run} |"
            )
            continue
        baseline_value = "" if row.baseline_value is None else _number(row.baseline_value, row.unit)
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
        spread = "" if row.spread is None else f"{row.spread[0]:.2f}-{row.spread[1]:.2f}"
        detail = f"{spread} ({row.note})" if spread and row.note else spread or row.note
        lines.append(
            f"| {row.case} | {row.subject} | {_number(row.value, row.unit)} | {row.baseline} "
            f"| {baseline_value} | {ratio} | {row.target or ''} | {row.verdict} | {detail} |"
        )
    return "\n".join(lines)


def in_subprocess(task: str, settings: Settings, timeout: float = 900.0) -> list[Row]:
    """Run ``task`` (a key of ``run.TASKS``) in a fresh interpreter; its rows."""
    here = Path(__file__).resolve().parent
    command = [sys.executable, str(here / "run.py"), "--child", task]
    if settings.quick:
        command.append("--quick")
    command += ["--rounds", str(settings.rounds)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, cwd=here.parent
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(ROWS_MARKER):
            return [Row.from_json(item) for item in json.loads(line[len(ROWS_MARKER) :])]
    raise RuntimeError(
        f"benchmark task {task!r} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
