"""Cost of secret scrubbing per span (target: at most 15% over a span without it).

Runs spans with five innocent attributes through two private pipelines (the
embedded store only), one with ``scrubbing=False`` and one with the default
scrubbing, in interleaved rounds, and reports the best per-span time of each.
Also reports the scrubbing transform alone on one finished span.

    python benchmarks/bench_scrubbing.py            # report
    python benchmarks/bench_scrubbing.py --check    # exit 1 above the 15% target
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from flext_otel.guardrails.facade import Scrubber, make_span_transform
from flext_otel.testing import capture

ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET",
    "http.route": "/users/{id}",
    "http.response.status_code": 200,
    "server.address": "api.example.com",
    "user.id": 42,
}
TARGET = 0.15


def _per_span(tracer: Any, n: int, *, unique: bool = False) -> float:
    """Seconds per span; ``unique`` replaces ``user.id`` by a string new to every span."""
    batches = [{**ATTRIBUTES, "user.id": f"u-{i:08d}"} if unique else ATTRIBUTES for i in range(n)]
    start = time.perf_counter()
    for attributes in batches:
        with tracer.start_as_current_span("op", attributes=attributes):
            pass
    return (time.perf_counter() - start) / n


def main() -> int:
    """Print the per-span costs; with ``--check``, fail above the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=20_000, help="spans per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--check", action="store_true", help="exit 1 above the target")
    args = parser.parse_args()
    with (
        capture(scrubbing=False, store_capacity=1_000) as plain,
        capture(store_capacity=1_000) as scrubbed,
    ):
        tracers = {
            "off": plain.otel.tracer_provider.get_tracer("bench"),
            "on": scrubbed.otel.tracer_provider.get_tracer("bench"),
        }
        best = dict.fromkeys(("off", "on", "off-unique", "on-unique"), float("inf"))
        for _ in range(args.rounds):
            for name, tracer in tracers.items():
                best[name] = min(best[name], _per_span(tracer, args.spans))
                unique = _per_span(tracer, args.spans, unique=True)
                best[f"{name}-unique"] = min(best[f"{name}-unique"], unique)
        span = plain.otel.tracer_provider.get_tracer("one")
        with span.start_as_current_span("op", attributes=ATTRIBUTES):
            pass
        finished = plain.store.spans()[-1]
    transform = make_span_transform(Scrubber())
    assert transform is not None
    exporter_span = _readable(plain)
    start = time.perf_counter()
    for _ in range(args.spans):
        transform(exporter_span)
    alone = (time.perf_counter() - start) / args.spans
    overhead = best["on"] / best["off"] - 1.0
    unique_overhead = best["on-unique"] / best["off-unique"] - 1.0
    print(f"span, scrubbing off:  {best['off'] * 1e6:7.2f} us")
    print(f"span, scrubbing on:   {best['on'] * 1e6:7.2f} us")
    print(f"overhead:             {overhead * 100:7.1f} % (target <= {TARGET * 100:.0f} %)")
    print(f"with a unique value:  {best['off-unique'] * 1e6:7.2f} us off, ", end="")
    print(f"{best['on-unique'] * 1e6:.2f} us on, overhead {unique_overhead * 100:.1f} %")
    print(f"transform alone:      {alone * 1e6:7.2f} us ({len(finished.attributes)} attributes)")
    return 1 if args.check and max(overhead, unique_overhead) > TARGET else 0


def _readable(captured: Any) -> Any:
    """A finished SDK span with the benchmark's attributes."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=captured.otel.resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("bench").start_as_current_span("op", attributes=ATTRIBUTES):
        pass
    provider.shutdown()
    return exporter.get_finished_spans()[0]


if __name__ == "__main__":
    sys.exit(main())
