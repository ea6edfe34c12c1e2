"""Where a span's time goes in the default pipeline: stage by stage, then cProfile.

    python benchmarks/profile_span.py [--spans N]

Builds the same 5-attribute span on providers that add one stage at a time
(nothing, flext's store processor, the guardrails span transform, correlation
stamping, the whole default pipeline), interleaved like run.py, then prints the
cProfile of the whole pipeline. The numbers behind benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import ATTRIBUTES, private_otel, raw_span_pipeline, span_loop
from harness import Settings, Side, interleave
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from flext_otel.guardrails.facade import guardrails_for
from flext_otel.pipeline.processors import CorrelationSpanProcessor, StoreSpanProcessor
from flext_otel.store.telemetry import TelemetryStore


def _provider(*processors: SpanProcessor) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def main() -> int:
    """Print the stage-by-stage costs and the profile of the default pipeline."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=int, default=30_000, help="spans profiled")
    args = parser.parse_args()
    settings = Settings.for_mode(quick=False)
    with private_otel() as otel:
        transform = guardrails_for(otel).span_transform(count=True)
        raw, exporter = raw_span_pipeline()
        stages = {
            "TracerProvider, no processor": _provider(),
            "+ StoreSpanProcessor": _provider(StoreSpanProcessor(TelemetryStore())),
            "+ guardrails span transform": _provider(
                StoreSpanProcessor(TelemetryStore(), transform)
            ),
            "+ CorrelationSpanProcessor": _provider(
                CorrelationSpanProcessor(), StoreSpanProcessor(TelemetryStore(), transform)
            ),
        }
        baseline = Side("raw", span_loop(raw.get_tracer("bench"), ATTRIBUTES), exporter.clear)
        print("| stage (5 attributes) | ns/span | SimpleSpanProcessor(InMemory) | ratio |")
        print("|---|--:|--:|--:|")
        tracers = {name: p.get_tracer("bench") for name, p in stages.items()}
        tracers["default pipeline (FlextOtel)"] = otel.tracer_provider.get_tracer("bench")
        for name, tracer in tracers.items():
            result = interleave(Side(name, span_loop(tracer, ATTRIBUTES)), baseline, settings)
            print(f"| {name} | {result.a_ns:,.0f} | {result.b_ns:,.0f} | {result.ratio:.2f}x |")
        run = span_loop(otel.tracer_provider.get_tracer("bench"), ATTRIBUTES)
        profile = cProfile.Profile()
        profile.runcall(run, args.spans)
    print()
    pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
