"""flext_otel.testing: capture(), the flext_capture fixture and the receiver export."""

from __future__ import annotations

import pytest

import flext_otel
from flext_otel.pipeline import state as providers
from flext_otel.testing import Captured, OtlpReceiver, capture


def test_flext_capture_fixture_records_flext_api(flext_capture: Captured) -> None:
    """The pytest11 fixture gives each test a private pipeline that flext's API records into."""
    with flext_otel.span("fixture-span"):
        flext_otel.metric("fixture_calls_total", 2)
        flext_otel.log("from the fixture", level="warning")
    assert [s.name for s in flext_capture.spans()] == ["fixture-span"]
    assert flext_capture.metrics("fixture_calls_total")[0].value == 2
    assert [r.body for r in flext_capture.logs(min_level="warning")] == ["from the fixture"]


def test_capture_is_private_and_restores_previous() -> None:
    """Nested captures do not see each other's data; the outer one is current again after."""
    with capture() as outer:
        with capture() as inner:
            assert providers.current() is inner.otel
            with flext_otel.span("inner"):
                pass
        assert providers.current() is outer.otel
        with flext_otel.span("outer"):
            pass
    assert [s.name for s in inner.spans()] == ["inner"]
    assert [s.name for s in outer.spans()] == ["outer"]
    assert inner.report is not None
    assert inner.report.ok


def test_capture_accepts_configure_options_and_ignores_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """capture(**options) takes configure()'s options; OTEL_* variables do not leak in."""
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    with capture(store_capacity=3) as cap:
        for i in range(5):
            with flext_otel.span(f"s{i}"):
                pass
        assert [s.name for s in cap.spans()] == ["s2", "s3", "s4"]
        assert cap.spans()[0].resource["service.name"] == "flext-otel-test"


def test_receiver_is_exported_from_testing() -> None:
    """OtlpReceiver is available from flext_otel.testing and works as a context manager."""
    with OtlpReceiver("http") as receiver:
        assert receiver.endpoint.startswith("http://127.0.0.1:")
