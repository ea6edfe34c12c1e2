"""Export spans, metrics and logs over OTLP (here to a local test receiver)."""

from __future__ import annotations

import flext_otel
from flext_otel.testing import OtlpReceiver


def main() -> None:
    with OtlpReceiver("grpc") as collector:  # stands in for an OpenTelemetry Collector
        otel = flext_otel.configure(
            service_name="otlp-demo",
            traces_exporter="otlp",
            metrics_exporter="otlp",
            logs_exporter="otlp",
            otlp_endpoint=collector.endpoint,  # or OTEL_EXPORTER_OTLP_ENDPOINT
        )
        with flext_otel.span("import-orders", source="sftp"):
            flext_otel.metric("orders_imported_total", 25)
            flext_otel.log("imported 25 orders", level="info")
        otel.force_flush(timeout_millis=5_000)
        spans = collector.wait_for_spans(1)
        logs = collector.wait_for_logs(1)
        points = collector.wait_for_metrics(1, name="orders_imported_total")
        print("collector got span:", spans[0].name, spans[0].resource["service.name"])
        print("collector got log:", logs[0].body, logs[0].severity_text)
        print("collector got metric:", points[0].name, points[0].value)
        report = otel.shutdown(timeout_millis=5_000)
        print("pipelines:", {k: (s.accepted, s.exported) for k, s in report.pipelines.items()})
        print("shutdown:", report)


if __name__ == "__main__":
    main()
