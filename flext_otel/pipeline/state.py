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

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api

from flext_otel.pipeline import process
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
from flext_otel.support.otel_private import logs_api

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

    def _after_fork_in_child(self) -> None:
        self.lock = threading.RLock()  # another thread may have held it at fork

    def _after_fork_renewed(self) -> None:
        """Every pipeline was reassembled for the child: proxies and caches re-resolve."""
        self.generation += 1
        SWITCH.changed()

    def refresh(self) -> None:
        target = self.overrides[-1] if self.overrides else self.configured or self.default
        if target is not self.current:
            self.current = target
            self.generation += 1
            SWITCH.changed()


_state = _State()
process.on_fork(_state)


def current() -> FlextOtel:
    """The active pipeline: a test capture, else the configured one, else the embedded default."""
    otel = _state.current
    if otel is not None:
        return otel
    with _state.lock:
        otel = _state.current
        if otel is None:  # no capture, nothing configured: the embedded default
            otel = _state.default = FlextOtel(resolve_options(install_globals=False))
            _state.refresh()
        return otel


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
        process.at_exit(shutdown_at_exit)
        if resolved.signal_handlers:
            process.install_signal_handlers(_shutdown_on_signal)
        else:  # the host asked for none: put back any this process installed
            process.uninstall_signal_handlers()
    if old is not None and not old.is_shutdown:
        old.shutdown()
    return otel


def shutdown_at_exit() -> None:
    """Flush and stop the configured pipeline as the process ends; report any loss."""
    otel = _state.configured
    if otel is not None:
        otel.shutdown_at_exit()


def _shutdown_on_signal(signum: int) -> bool:
    """From a signal handler: the exit flush on a helper thread, bounded by the exit
    deadline (the interrupted main thread may hold a lock the flush needs). False
    when the interrupted thread is shutting the pipeline down itself."""
    otel = _state.configured
    if otel is not None and otel.shutting_down_in == threading.main_thread().ident:
        return False
    done = threading.Event()

    def run() -> None:
        try:
            shutdown_at_exit()
        finally:
            done.set()

    threading.Thread(target=run, name="flext-otel-signal-flush", daemon=True).start()
    if not done.wait(EXIT_TIMEOUT_MILLIS / 1000.0 + 1.0):
        _logger.warning("flext-otel: flush on signal %d did not finish in time", signum)
    return True


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
