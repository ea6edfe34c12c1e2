"""stdlib logging and structlog with trace, span and correlation IDs injected."""

from __future__ import annotations

import logging
import sys

import structlog

import flext_otel


def main() -> None:
    otel = flext_otel.configure(service_name="logging-demo")

    # stdlib: JSON lines on stdout, and real OTel log records through the pipeline
    logger = logging.getLogger("shop")
    logger.setLevel(logging.INFO)
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(flext_otel.JsonFormatter())
    logger.addHandler(console)
    logger.addHandler(flext_otel.FlextLoggingHandler())

    # structlog: the same IDs added by a processor
    structlog.configure(
        processors=[flext_otel.structlog_processor, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
    )
    slog = structlog.get_logger()

    with flext_otel.correlation_scope("req-42"), flext_otel.span("checkout"):
        logger.info("order placed", extra={"order_id": 42})
        slog.info("payment captured", amount=19.9)
        try:
            raise ValueError("stock mismatch")
        except ValueError:
            logger.exception("inventory check failed")

    for record in otel.store.logs():
        print("stored:", record.severity_text, record.body, record.trace_id, record.correlation_id)
    print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
