"""FlextResult: every method of the railway-oriented result."""

from __future__ import annotations

import pytest

from flext_otel.domain.result import FlextResult, UnwrapError


def test_ok_holds_value() -> None:
    """A success exposes its value through value, data and unwrap."""
    r = FlextResult.ok(5)
    assert r.is_success
    assert not r.is_failure
    assert r.value == 5
    assert r.data == 5
    assert r.unwrap() == 5
    assert r.error is None
    assert r.error_code is None
    assert bool(r) is True


def test_ok_accepts_none() -> None:
    """None is a legitimate success value."""
    r: FlextResult[None] = FlextResult.ok(None)
    assert r.is_success
    assert r.value is None


def test_fail_holds_error_and_code() -> None:
    """A failure exposes its message and code; value is None."""
    r: FlextResult[int] = FlextResult.fail("bad input", error_code="INVALID")
    assert r.is_failure
    assert not r.is_success
    assert r.error == "bad input"
    assert r.error_code == "INVALID"
    assert r.value is None
    assert r.data is None
    assert bool(r) is False


def test_fail_with_empty_message_still_says_something() -> None:
    """An empty error message is replaced so a failure never reads as blank."""
    assert FlextResult.fail("").error == "unknown error"


def test_unwrap_failure_raises_with_message() -> None:
    """unwrap on a failure raises UnwrapError carrying message and code."""
    with pytest.raises(UnwrapError, match=r"\[E1\] boom") as info:
        FlextResult.fail("boom", error_code="E1").unwrap()
    assert info.value.error == "boom"
    assert info.value.error_code == "E1"


def test_unwrap_or() -> None:
    """unwrap_or returns the value on success and the default on failure."""
    assert FlextResult.ok(1).unwrap_or(9) == 1
    assert FlextResult.fail("x").unwrap_or(9) == 9


def test_map_transforms_success_and_skips_failure() -> None:
    """map applies to successes only."""
    assert FlextResult.ok(2).map(lambda v: v * 3).value == 6
    failed: FlextResult[int] = FlextResult.fail("no")
    assert failed.map(lambda v: v * 3) is failed


def test_map_exception_becomes_failure() -> None:
    """An exception raised inside map's callback turns into a failure."""
    r = FlextResult.ok(1).map(lambda v: v // 0)
    assert r.is_failure
    assert r.error_code == "EXCEPTION"
    assert r.error is not None
    assert "ZeroDivisionError" in r.error


def test_flat_map_chains_and_bind_is_alias() -> None:
    """flat_map chains result-returning callbacks; bind is the same method."""

    def half(v: int) -> FlextResult[int]:
        return FlextResult.ok(v // 2) if v % 2 == 0 else FlextResult.fail("odd", "ODD")

    assert FlextResult.ok(8).flat_map(half).flat_map(half).value == 2
    assert FlextResult.ok(3).bind(half).error_code == "ODD"
    assert FlextResult.bind is FlextResult.flat_map


def test_flat_map_exception_becomes_failure() -> None:
    """An exception inside flat_map's callback turns into a failure."""

    def explode(_: int) -> FlextResult[int]:
        raise KeyError("missing")

    r = FlextResult.ok(1).flat_map(explode)
    assert r.is_failure
    assert r.error_code == "EXCEPTION"
    assert r.error is not None
    assert "KeyError" in r.error


def test_flat_map_rejects_non_result() -> None:
    """A flat_map callback that returns a plain value is reported, not passed on."""
    r = FlextResult.ok(1).flat_map(lambda v: v)  # type: ignore[arg-type,return-value]
    assert r.is_failure
    assert r.error_code == "TYPE_ERROR"


def test_tap_runs_side_effect_and_returns_self() -> None:
    """tap calls its callback on success only and returns the same result."""
    seen: list[int] = []
    r = FlextResult.ok(4)
    assert r.tap(seen.append) is r
    FlextResult.fail("x").tap(seen.append)
    assert seen == [4]


def test_tap_exception_becomes_failure() -> None:
    """An exception in tap's callback becomes a failure."""
    r = FlextResult.ok(4).tap(lambda v: 1 / 0)
    assert r.is_failure
    assert r.error_code == "EXCEPTION"


def test_recover_turns_failure_into_success() -> None:
    """recover maps an error message to a value; successes pass unchanged."""
    assert FlextResult.fail("x").recover(len).value == 1
    ok = FlextResult.ok(7)
    assert ok.recover(lambda e: 0) is ok
    assert FlextResult.fail("x").recover(lambda e: 1 / 0).error_code == "EXCEPTION"


def test_combine_collects_values_or_first_failure() -> None:
    """combine returns all values, or the first failure it meets."""
    assert FlextResult.combine(FlextResult.ok(1), FlextResult.ok("a")).value == [1, "a"]
    first: FlextResult[int] = FlextResult.fail("first", "F1")
    r = FlextResult.combine(FlextResult.ok(1), first, FlextResult.fail("second"))
    assert r.error == "first"
    assert r.error_code == "F1"
    assert FlextResult.combine().value == []
    assert FlextResult.combine(1).error_code == "TYPE_ERROR"  # type: ignore[arg-type]


def test_equality_and_repr() -> None:
    """Results compare by content and read well in reprs."""
    assert FlextResult.ok(1) == FlextResult.ok(1)
    assert FlextResult.ok(1) != FlextResult.ok(2)
    assert FlextResult.fail("a", "C") == FlextResult.fail("a", "C")
    assert repr(FlextResult.ok(1)) == "FlextResult.ok(1)"
    assert "error_code='C'" in repr(FlextResult.fail("a", "C"))


def test_constructor_requires_exactly_one_side() -> None:
    """A result is either a value or an error, never both or neither."""
    with pytest.raises(ValueError, match="exactly one"):
        FlextResult()
    with pytest.raises(ValueError, match="exactly one"):
        FlextResult(1, "error")


def test_from_callable() -> None:
    """from_callable captures a return value or an exception."""
    assert FlextResult.from_callable(lambda: 3).value == 3
    r = FlextResult.from_callable(lambda: int("x"), error_code="PARSE")
    assert r.is_failure
    assert r.error_code == "PARSE"
