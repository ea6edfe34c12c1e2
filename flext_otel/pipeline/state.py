"""The process-wide current pipeline: ``configure()``, ``use()``, ``current()`` and the
OTel globals.

flext's own API and the proxy providers record through :func:`current`: a test's
``capture()`` (or any ``use()`` block), else the pipeline ``configure()`` installed,
else an embedded default built on first use. ``configure()`` installs the proxy
providers as the OTel globals once; switching pipelines bumps a generation so the
proxies re-resolve.

Imports: ``pipeline.sdk``, ``pipeline.proxies``, ``pipeline.options``; the OTel API.

Threading: every function may be called from any thread; switches take one
re-entrant lock, :func:`current` reads without it once a pipeline exists.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import _logs as logs_api
from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.proxies import (
    PROXY_LOGGER_PROVIDER,
    PROXY_METER_PROVIDER,
    PROXY_TRACER_PROVIDER,
    SWITCH,
)
from flext_otel.pipeline.sdk import (
    EXIT_TIMEOUT_MILLIS,
    PACKAGE_VERSION,
    FlextOtel,
)

_logger = logging.getLogger("flext_otel")


class _State:
    """Which FlextOtel is current (for flext's API and the proxies), and a generation counter."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.configured: FlextOtel | None = None
        self.default: FlextOtel | None = None
        self.overrides: list[FlextOtel] = []
        self.generation = 0
        self.current: FlextOtel | None = None
        self.globals_installed = False
        self.atexit_registered = False

    def refresh(self) -> None:
        target = self.overrides[-1] if self.overrides else self.configured or self.default
        if target is not self.current:
            self.current = target
            self.generation += 1
            SWITCH.changed()


_state = _State()


def current() -> FlextOtel:
    """The active pipeline: a test capture, else the configured one, else the embedded default."""
    otel = _state.current
    if otel is not None:
        return otel
    with _state.lock:
        if _state.current is None:
            _state.default = FlextOtel(resolve_options(install_globals=False))
            _state.refresh()
        assert _state.current is not None
        return _state.current


SWITCH.current = current


def configured() -> FlextOtel | None:
    """The pipeline installed by :func:`configure`, if any."""
    return _state.configured


def chosen() -> FlextOtel | None:
    """The pipeline someone chose: a test capture (or ``use()`` block), else the
    configured one; ``None`` while only the embedded default exists."""
    overrides = _state.overrides
    return overrides[-1] if overrides else _state.configured


def configure(**options: Any) -> FlextOtel:
    """Install tracer, meter and logger providers once, at startup; returns the handle.

    Options (see ``flext_otel.config.OPTIONS``) resolve as argument > ``OTEL_*``
    environment > default; a bad value raises ``ConfigError`` before anything is
    installed. Calling it again with the same options returns the same handle;
    with new options the new pipeline takes over (tracers and meters obtained
    earlier follow it) and the old one is flushed and shut down.

    >>> otel = configure(service_name="doc-example", install_globals=False)
    >>> otel is configure(service_name="doc-example", install_globals=False)
    True
    >>> otel.shutdown().ok
    True
    """
    resolved = resolve_options(**options)
    with _state.lock:
        old = _state.configured
        if old is not None and not old.is_shutdown and old.options == resolved:
            return old
        otel = FlextOtel(resolved)
        _state.configured = otel
        _state.refresh()
        if resolved.install_globals:
            _install_globals()
        if not _state.atexit_registered:
            atexit.register(_shutdown_at_exit)
            _state.atexit_registered = True
            _flush_on_sigterm_in_multiprocessing_child()
    if old is not None and not old.is_shutdown:
        old.shutdown()
    return otel


_exit_started = threading.Event()


def _shutdown_at_exit() -> None:
    _exit_started.set()
    otel = _state.configured
    if otel is not None and not otel.is_shutdown:
        report = otel.shutdown(EXIT_TIMEOUT_MILLIS)
        if not report.ok:
            _logger.warning("flext-otel at exit: %s", report)


def _flush_on_sigterm_in_multiprocessing_child() -> None:
    """``Pool.terminate()`` (the end of ``with Pool()``) SIGTERMs its workers, which die
    without atexit: in a multiprocessing child that left SIGTERM at its default, flush
    first, then die of the signal as before."""
    if multiprocessing.parent_process() is None or (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        return

    def flush_then_die(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not re-enter shutdown
        if _exit_started.is_set():
            return  # the process is already exiting and flushing: let it finish
        _shutdown_at_exit()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, flush_then_die)


@contextmanager
def use(otel: FlextOtel) -> Iterator[FlextOtel]:
    """Make ``otel`` current (for proxies and flext's API) inside the block."""
    with _state.lock:
        _state.overrides.append(otel)
        _state.refresh()
    try:
        yield otel
    finally:
        with _state.lock:
            if otel in _state.overrides:
                _state.overrides.remove(otel)
            _state.refresh()


def _install_globals() -> None:
    if _state.globals_installed:
        return
    _state.globals_installed = True
    trace_api.set_tracer_provider(PROXY_TRACER_PROVIDER)
    metrics_api.set_meter_provider(PROXY_METER_PROVIDER)
    logs_api.set_logger_provider(PROXY_LOGGER_PROVIDER)
    installed = (
        trace_api.get_tracer_provider() is PROXY_TRACER_PROVIDER,
        metrics_api.get_meter_provider() is PROXY_METER_PROVIDER,
        logs_api.get_logger_provider() is PROXY_LOGGER_PROVIDER,
    )
    if not all(installed):
        _logger.warning(
            "another OpenTelemetry provider was installed first; flext-otel keeps its own "
            "pipeline, but some OTel globals keep pointing at the other one"
        )


__all__ = [
    "PACKAGE_VERSION",
    "PROXY_LOGGER_PROVIDER",
    "PROXY_METER_PROVIDER",
    "PROXY_TRACER_PROVIDER",
    "FlextOtel",
    "chosen",
    "configure",
    "configured",
    "current",
    "use",
]
