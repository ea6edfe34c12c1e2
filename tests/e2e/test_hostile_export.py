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
