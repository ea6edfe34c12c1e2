"""Quickstart: one configure() call, plain OTel tracing, flext's API and the store."""

from __future__ import annotations

from opentelemetry import trace

import flext_otel


@flext_otel.flext_monitor_function
def price(order_id: int) -> float:
    """A business function: a span plus duration and call metrics per call."""
    return 9.99 * order_id


def main() -> None:
    otel = flext_otel.configure(service_name="checkout")  # once, at startup
    tracer = trace.get_tracer(__name__)  # plain OTel works

    with flext_otel.correlation_scope("req-7f3a"):  # flows into spans, logs, baggage
        with tracer.start_as_current_span("charge-card"):
            flext_otel.metric("orders_total", 1, unit="1", tags={"region": "eu"})
            flext_otel.log("card charged", level="info", context={"order": 42})
            price(42)

    charge = otel.store.spans(name="charge-card")[0]
    print("span:", charge.name, charge.trace_id, "correlation:", charge.correlation_id)
    for root in otel.store.trace(charge.trace_id):
        for depth, span in root.walk():
            print("  " * depth + f"- {span.name} ({span.duration_ms:.3f} ms)")
    print("logs:", [(r.severity_text, r.body, r.correlation_id) for r in otel.store.logs()])
    print("metrics:", sorted({p.name for p in otel.store.metrics()}))
    print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
