"""Pure helpers every layer may use: loss counters, the failure ledger, log-once, shared keys,
errors.

Imports: the standard library only (and OpenTelemetry SDK names in ``otel_private``).
This is the bottom of the package; it imports no other flext_otel package.
"""
