"""Hostile text in spans never costs the innocent spans exported with it."""

from __future__ import annotations

import pytest

import flext_otel
from flext_otel.testing import OtlpReceiver, capture

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_lone_surrogates_do_not_fail_the_export_batch(protocol: str) -> None:
    """A span whose name, attributes and events hold lone surrogates is exported with them
    replaced, together with every innocent span of its batch; nothing is counted lost."""
    with OtlpReceiver(protocol) as receiver:
        with capture(
            traces_exporter="otlp",
            otlp_endpoint=receiver.endpoint,
            otlp_protocol="grpc" if protocol == "grpc" else "http/protobuf",
        ) as cap:
            for i in range(5):
                with flext_otel.span(f"good{i}"):
                    pass
            with flext_otel.span(
                "bad\ud800", **{"k\ud801": "v\ud802", "list": ["a", "b\udc00"]}
            ) as s:
                s.add_event("event\ud800", {"x": "y\ud800"})
            assert cap.otel.force_flush(5_000) is True
            stats = cap.otel.stats()["traces:otlp"]
        spans = receiver.wait_for_spans(6)
    assert stats.exported == 6
    assert sum(stats.dropped.values()) == 0
    assert [s.name for s in spans[:5]] == [f"good{i}" for i in range(5)]
    bad = spans[5]
    assert bad.name == "bad?"
    assert bad.attributes == {"k?": "v?", "list": ("a", "b?")}
    assert bad.events[0][0] == "event?"
    assert cap.report is not None
    assert cap.report.ok


def test_huge_span_and_event_names_are_bounded_in_store_and_export() -> None:
    """A 10 MB span name and a 100 kB event name are cut to 8,192 characters before the
    store and before the exporter."""
    with OtlpReceiver("grpc") as receiver:
        with capture(traces_exporter="otlp", otlp_endpoint=receiver.endpoint) as cap:
            with flext_otel.span("x" * 10_000_000) as span:
                span.add_event("e" * 100_000)
            assert cap.otel.force_flush(5_000)
            (stored,) = cap.spans()
            assert len(stored.name) == 8_192
            assert len(stored.events[0][0]) == 8_192
        (received,) = receiver.wait_for_spans(1)
    assert len(received.name) == 8_192
    assert len(received.events[0][0]) == 8_192
