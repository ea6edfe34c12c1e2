"""Export: lossless batch processors, span packing, OTLP / Prometheus / console exporters.

Imports: ``guardrails``, ``store``, ``support`` and ``domain`` below it; OpenTelemetry SDK;
optional extras lazily.
"""
