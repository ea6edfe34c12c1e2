"""The five domain entities, validated, and the master factory that records them."""

from __future__ import annotations

import flext_otel
from flext_otel import FlextObservabilityMasterFactory


def main() -> None:
    otel = flext_otel.configure(service_name="entities-demo")
    factory = FlextObservabilityMasterFactory(otel)

    # Build and validate only: nothing is recorded.
    bad = flext_otel.flext_create_metric("9 lives", float("nan"))
    print("invalid metric:", bad.error_code, "-", bad.error)

    # Build, validate and record through the pipeline.
    results = [
        factory.metric("orders_total", 3, tags={"region": "eu"}),
        factory.metric("checkout_duration_seconds", 0.42),
        factory.trace("import-batch", attributes={"rows": 1200}, duration_ms=35.0, status="ok"),
        factory.log("batch imported", level="info", context={"rows": 1200}),
        factory.alert("Disk almost full", "volume /data at 93%", severity="high"),
        factory.health_check("database", "healthy", message="p99 4 ms"),
        factory.health_check("cache", "degraded", message="evictions high"),
    ]
    for result in results:
        entity = result.unwrap()
        print(f"{type(entity).__name__:17} ok  id={entity.id[:8]}")

    print("health:", factory.health_status().unwrap())
    print("alerts in store:", [a.title for a in otel.store.alerts(severity="high")])
    print(
        "metric types:",
        {
            p.name: p.kind
            for p in otel.store.metrics()
            if p.name in ("orders_total", "checkout_duration_seconds")
        },
    )
    print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
