"""celery prefork hooks: configure each worker process, flush it before it goes.

    from flext_otel.integrations.celery import connect_worker_hooks

    connect_worker_hooks(service_name="worker")  # next to your Celery() app

``worker_process_init`` runs in every pool process after the fork: it configures
flext-otel there with the options given (a pipeline inherited from the parent is
reassembled for the child anyway, with its own ``service.instance.id``).
``worker_process_shutdown`` flushes and shuts the pipeline down within the exit
deadline: billiard's pool processes leave through ``os._exit``, so neither
``atexit`` nor multiprocessing's finalizers would run. ``worker_shutdown`` does
the same for the main worker process.

Imports: ``pipeline`` and ``api``; celery lazily (an optional dependency).
"""

from __future__ import annotations

from typing import Any


def connect_worker_hooks(**options: Any) -> None:
    """Connect the handlers to celery's worker signals (idempotent)."""
    from celery import signals

    def configure_process(**_kwargs: Any) -> None:
        from flext_otel.api import configure

        configure(**options)

    signals.worker_process_init.connect(configure_process, weak=False, dispatch_uid="flext-otel")
    signals.worker_process_shutdown.connect(flush, weak=False, dispatch_uid="flext-otel")
    signals.worker_shutdown.connect(flush, weak=False, dispatch_uid="flext-otel")


def flush(**_kwargs: Any) -> None:
    """Flush and shut down the configured pipeline, reporting any loss."""
    from flext_otel.pipeline.state import shutdown_at_exit

    shutdown_at_exit()


__all__ = ["connect_worker_hooks", "flush"]
