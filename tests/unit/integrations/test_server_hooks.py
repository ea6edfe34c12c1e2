"""gunicorn and celery hooks, called the way the servers call them (in a subprocess:
they configure the process-wide pipeline)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

GUNICORN = """
    import os
    from types import SimpleNamespace
    from flext_otel.integrations import gunicorn
    from flext_otel.pipeline.state import configured
    worker = SimpleNamespace(pid=os.getpid())
    gunicorn.post_worker_init(worker)
    otel = configured()
    gunicorn.post_worker_init(worker)  # configured already: same pipeline
    same = configured() is otel
    gunicorn.worker_exit(None, SimpleNamespace(pid=-1))  # the master's call: nothing
    before = otel.is_shutdown
    gunicorn.worker_exit(None, worker)
    print(same, before, otel.is_shutdown)
"""

CELERY = """
    from celery import signals
    from flext_otel.integrations.celery import connect_worker_hooks
    from flext_otel.pipeline.state import configured
    connect_worker_hooks(service_name="worker")
    connect_worker_hooks(service_name="worker")  # idempotent
    signals.worker_process_init.send(sender=None)
    otel = configured()
    signals.worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
    print(otel.options.service_name, otel.is_shutdown)
"""


def _run(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_gunicorn_hooks_configure_once_and_flush_only_in_the_worker() -> None:
    """post_worker_init configures an unconfigured worker once; worker_exit shuts it
    down in the worker and does nothing when the master calls it."""
    assert _run(GUNICORN) == ["True", "False", "True"]


def test_celery_hooks_configure_and_flush_each_pool_process() -> None:
    """worker_process_init configures with the options given; worker_process_shutdown
    shuts the pipeline down."""
    assert _run(CELERY) == ["worker", "True"]
