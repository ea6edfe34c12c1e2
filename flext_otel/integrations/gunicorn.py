"""gunicorn server hooks: a config module for ``-c`` or your own config file.

Use it as the whole config::

    gunicorn -c python:flext_otel.integrations.gunicorn -w 4 app:app

or import the hooks into your own ``gunicorn.conf.py``::

    from flext_otel.integrations.gunicorn import post_worker_init, worker_abort, worker_exit

What the hooks do (fork safety itself needs no hook: a worker forked from a
master that configured flext-otel, as with ``--preload`` or
``opentelemetry-instrument``, gets its own pipeline and ``service.instance.id``):

* ``post_worker_init``: once the worker loaded the app, ``flext_otel.configure()``
  from the ``OTEL_*`` environment if neither the app nor the master configured a
  pipeline (so an app without telemetry code is covered too);
* ``worker_exit`` / ``worker_abort``: flush and shut the worker's pipeline down
  within the exit deadline before the worker goes, and log what was lost with the
  worker's identity.

Every name at module level is a gunicorn setting on purpose: gunicorn reads all
of them from a config module.

Imports: ``pipeline`` and ``api`` (through ``flext_otel.api``).
"""

from __future__ import annotations

import os as _os
from typing import Any as _Any

__all__ = ["post_worker_init", "worker_abort", "worker_exit"]


def post_worker_init(worker: _Any) -> None:
    """In a worker that loaded the app: configure flext-otel from the environment
    unless the app (or the master, with ``--preload``) already did."""
    from flext_otel.api import configure
    from flext_otel.pipeline.state import configured

    if configured() is None:
        configure()


def worker_exit(server: _Any, worker: _Any) -> None:
    """In the exiting worker: flush and shut the pipeline down, reporting any loss."""
    if getattr(worker, "pid", None) != _os.getpid():
        return  # gunicorn also calls it in the master for a worker that vanished
    from flext_otel.pipeline.state import shutdown_at_exit

    shutdown_at_exit()


def worker_abort(worker: _Any) -> None:
    """A worker killed for a timeout (SIGABRT): flush what it has before it goes."""
    worker_exit(None, worker)
