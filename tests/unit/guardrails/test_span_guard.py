"""SpanGuard: one check per span, shared by the store and every exporter downstream."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from flext_otel.guardrails.rules import SCRUBBED_KEYS_ATTRIBUTE
from flext_otel.guardrails.scrubber import GuardrailCounters, Scrubber
from flext_otel.guardrails.scrubbing import SpanGuard, make_span_transform
from flext_otel.pipeline.processors import StoreSpanProcessor
from flext_otel.store.telemetry import TelemetryStore


class _Collect(SpanProcessor):
    """A downstream processor that keeps what it is handed."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.rejected: list[str] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)

    def reject(self, reason: str) -> None:
        self.rejected.append(reason)


class _CountingGuard(SpanGuard):
    """A SpanGuard that counts its checks."""

    __slots__ = ("checks",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.checks = 0

    def check(self, span: ReadableSpan, attributes: dict[str, Any], fields: Any = None) -> Any:
        self.checks += 1
        return super().check(span, attributes, fields)


def _pipeline(guard: Any) -> tuple[TracerProvider, TelemetryStore, _Collect, _Collect]:
    store = TelemetryStore(100)
    first, second = _Collect(), _Collect()
    processor = StoreSpanProcessor(store, guard, downstream=[first])
    processor.add_downstream(second)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider, store, first, second


def test_a_secret_is_redacted_once_for_the_store_and_every_exporter() -> None:
    """Store and downstream processors all get the redacted span; the check runs once."""
    guard = _CountingGuard(Scrubber(), GuardrailCounters(), 8192)
    provider, store, first, second = _pipeline(guard)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("login", attributes={"password": "hunter2", "user": "u"}):
        pass
    assert guard.checks == 1
    (record,) = store.spans()
    assert record.attributes["password"] == "[REDACTED]"
    assert record.attributes[SCRUBBED_KEYS_ATTRIBUTE] == ("password",)
    for downstream in (first, second):
        (span,) = downstream.spans
        assert span.attributes is not None
        assert span.attributes["password"] == "[REDACTED]"


def test_a_clean_span_passes_through_unchanged() -> None:
    """Nothing to scrub: downstream gets the SDK's own span object, the record the values."""
    guard = make_span_transform(Scrubber(), GuardrailCounters(), 8192)
    provider, store, first, _ = _pipeline(guard)
    tracer = provider.get_tracer("t")
    for _ in range(3):  # the second and third take the known-clean path
        with tracer.start_as_current_span("ok", attributes={"http.route": "/a", "n": 1}):
            pass
    assert [dict(r.attributes) for r in store.spans()] == [{"http.route": "/a", "n": 1}] * 3
    assert all(type(span) is ReadableSpan for span in first.spans)
    assert len(first.spans) == 3


def test_a_failing_guard_drops_the_span_everywhere_and_counts_it() -> None:
    """Fail closed: a guard that raises keeps the span from the store and every exporter."""

    class Broken(SpanGuard):
        __slots__ = ()

        def check(self, span: ReadableSpan, attributes: Any, fields: Any = None) -> Any:
            raise RuntimeError("guard bug")

    provider, store, first, second = _pipeline(Broken(Scrubber(), None, None))
    with provider.get_tracer("t").start_as_current_span("x", attributes={"k": "not seen yet"}):
        pass
    assert store.spans() == []
    assert first.spans == second.spans == []
    assert first.rejected == second.rejected == ["invalid"]


def test_truncated_values_are_counted_once_per_span() -> None:
    """A value at the length limit is counted by the one check, not per destination."""
    counters = GuardrailCounters()
    provider, _, first, _ = _pipeline(make_span_transform(Scrubber(), counters, 10))
    with provider.get_tracer("t").start_as_current_span("x", attributes={"note": "a" * 10}):
        pass
    assert counters.snapshot()["truncated"] == 1
    assert len(first.spans) == 1


def test_ids_with_few_digits_skip_the_number_scan_but_secrets_are_still_found() -> None:
    """The digit prefilter passes IDs by and still catches card numbers and SSNs."""
    from flext_otel.guardrails.rules import may_hold_number_secret

    assert not may_hold_number_secret("/users/12345")
    assert not may_hold_number_secret("h12345.example.com")
    assert may_hold_number_secret("card 4111 1111 1111 1111")
    assert may_hold_number_secret("ssn 123-45-6789")
    scrubber = Scrubber()
    assert scrubber.scrub_text("/users/12345") == "/users/12345"
    assert "4111" not in scrubber.scrub_text("paid with 4111-1111-1111-1111 today")
    assert "6789" not in scrubber.scrub_text("ssn is 123-45-6789.")
