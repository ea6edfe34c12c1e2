"""The domain layer: ``FlextResult`` and the five validated entities.

Pure Python: imports no OpenTelemetry and no other flext_otel package.
"""
