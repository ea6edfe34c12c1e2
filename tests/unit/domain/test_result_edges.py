"""FlextResult's equality, hashing and failure propagation; PipelineCounters' edges."""

from __future__ import annotations

from flext_otel.domain.result import FlextResult
from flext_otel.support.counters import PipelineCounters


def test_flat_map_on_a_failure_returns_the_same_failure_without_calling() -> None:
    """A failure short-circuits flat_map: the function is not called, the failure is kept."""
    calls: list[int] = []

    def step(value: int) -> FlextResult[int]:
        calls.append(value)
        return FlextResult.ok(value + 1)

    failed: FlextResult[int] = FlextResult.fail("no", error_code="E")
    assert failed.flat_map(step) is failed
    assert calls == []


def test_results_compare_by_value_and_hash_by_error() -> None:
    """Equal results are equal and hash alike; a result never equals a non-result."""
    assert FlextResult.ok(1) == FlextResult.ok(1)
    assert FlextResult.ok(1) != FlextResult.ok(2)
    assert FlextResult.fail("x", error_code="E") == FlextResult.fail("x", error_code="E")
    assert FlextResult.ok(1) != 1
    assert hash(FlextResult.fail("x", "E")) == hash(FlextResult.fail("x", "E"))
    assert len({FlextResult.ok(1), FlextResult.ok(1)}) == 1


def test_counters_ignore_empty_drops_and_survive_a_broken_depth_probe() -> None:
    """drop(n<=0) changes nothing; failed() records the error; a raising depth probe reads 0."""

    def broken() -> int:
        raise RuntimeError("queue gone")

    counters = PipelineCounters("traces:edge", depth=broken)
    counters.accept(3)
    counters.drop("queue_full", 0)
    counters.drop("queue_full", -2)
    counters.failed("collector said no", time_ns=42)
    stats = counters.snapshot()
    assert (stats.accepted, dict(stats.dropped), stats.queue_depth) == (3, {}, 0)
    assert (stats.last_export_ok, stats.last_error, stats.last_export_time_ns) == (
        False,
        "collector said no",
        42,
    )
