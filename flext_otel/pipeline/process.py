"""Process hooks: worker identity, fork, exit and signals.

* **Identity.** :func:`instance_id` is a random ``service.instance.id`` for this
  process, renewed in a forked child (it is keyed by the pid), so the workers of a
  pre-fork server export distinguishable streams.
* **Fork.** Objects that hold threads, sockets or locks register with
  :func:`on_fork`; one set of ``os.register_at_fork`` hooks calls their
  ``_before_fork`` (reverse order) / ``_after_fork_in_parent`` /
  ``_after_fork_in_child`` methods in registration order, then every
  ``_after_fork_renewed`` (held weakly: registering never keeps an object alive).
  In the child nothing may wait on a thread of the parent: those threads do not
  exist there.
* **Exit.** :func:`at_exit` runs a callback once when the process ends normally:
  ``atexit`` for ordinary interpreters, a ``multiprocessing`` finalizer in
  multiprocessing children (fork or spawn), which leave through ``os._exit``.
* **Signals.** :func:`install_signal_handlers` makes SIGTERM and SIGINT flush
  before the process goes. The rule (``signal_handlers=True``, the default):

  - only from the main thread of the main interpreter (Python's own rule);
  - a signal whose handler is ``SIG_IGN`` or was set outside Python is left alone;
  - SIGINT with Python's ``default_int_handler`` is left alone: the
    ``KeyboardInterrupt`` ends the process through ``atexit``, which flushes;
  - ``SIG_DFL`` (SIGTERM's default: die without ``atexit``): the handler flushes
    within the exit deadline, puts ``SIG_DFL`` back and raises the signal again,
    so the process still dies of it;
  - a Python handler someone installed first (uvicorn, gunicorn, celery) is
    called first, unchanged. The signal is then held back *in the main thread
    only*, so a server that restores the original disposition and raises the
    signal again after its graceful shutdown (uvicorn does) reaches ``atexit``,
    which flushes and then lets the held signal through: the process still dies
    of it. A second signal sent from outside still reaches the handlers while
    another thread (an exporter's, say) can take it; else it waits for the exit
    hooks too.

  ``signal_handlers=False`` (``FLEXT_OTEL_SIGNAL_HANDLERS=false``) installs
  nothing; call ``shutdown()`` from your own handler then.

Imports: the standard library only (``pipeline.sdk`` and ``pipeline.state`` import
this module).

Threading: fork hooks run in the forking thread; signal handlers in the main
thread. Every hook catches its own failures (a hook must never break
``os.fork()``, an exit or a signal) and logs them once.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import uuid
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

_logger = logging.getLogger("flext_otel")

# -- identity -----------------------------------------------------------------

_identity: tuple[int, str] = (-1, "")
_identity_lock = threading.Lock()


def instance_id() -> str:
    """This process's ``service.instance.id``: random, renewed in every forked child."""
    global _identity
    pid = os.getpid()
    found = _identity
    if found[0] == pid:
        return found[1]
    with _identity_lock:
        if _identity[0] != pid:
            _identity = (pid, str(uuid.uuid4()))
        return _identity[1]


def describe(identity: dict[str, Any]) -> str:
    """``service checkout, instance 1f0c..., pid 4242`` for log messages."""
    return (
        f"service {identity.get('service.name', '?')}, "
        f"instance {identity.get('service.instance.id', '?')}, "
        f"pid {identity.get('process.pid', os.getpid())}"
    )


# -- fork -----------------------------------------------------------------------

_participants: list[weakref.ref[Any]] = []
_participants_lock = threading.Lock()
_fork_hooks_installed = False


def on_fork(obj: Any) -> None:
    """Call ``obj``'s ``_before_fork`` / ``_after_fork_in_parent`` /
    ``_after_fork_in_child`` methods (those it has) around every ``os.fork()``."""
    global _fork_hooks_installed
    with _participants_lock:
        _participants[:] = [ref for ref in _participants if ref() is not None]
        _participants.append(weakref.ref(obj))
        if not _fork_hooks_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=_before_fork,
                after_in_parent=_after_in_parent,
                after_in_child=_after_in_child,
            )
            _fork_hooks_installed = True


def _call_all(method: str, reverse: bool = False) -> None:
    refs = list(reversed(_participants) if reverse else _participants)
    for ref in refs:
        obj = ref()
        hook = getattr(obj, method, None) if obj is not None else None
        if hook is None:
            continue
        try:
            hook()
        except Exception as exc:  # a fork hook must never break os.fork()
            _logger.debug("flext-otel %s hook of %r failed: %r", method, obj, exc)


def _before_fork() -> None:
    _participants_lock.acquire()
    _call_all("_before_fork", reverse=True)


def _after_in_parent() -> None:
    try:
        _call_all("_after_fork_in_parent")
    finally:
        _participants_lock.release()


def _after_in_child() -> None:
    global _participants_lock, _identity_lock
    _participants_lock = threading.Lock()  # held by the parent's forking thread
    _identity_lock = threading.Lock()
    _call_all("_after_fork_in_child")
    _call_all("_after_fork_renewed")


# -- exit -----------------------------------------------------------------------

_exit_callbacks: list[Callable[[], None]] = []
_exit_ran: set[int] = set()
_exiting: set[int] = set()
_atexit_installed = False


class _FinalizerKey:
    """What ``multiprocessing.util.register_after_fork`` holds weakly (lists cannot be)."""


_FINALIZER_KEY = _FinalizerKey()


def at_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once when this process (or a multiprocessing child) ends."""
    global _atexit_installed
    if callback not in _exit_callbacks:
        _exit_callbacks.append(callback)
    if not _atexit_installed:
        atexit.register(run_exit_callbacks)
        # a multiprocessing child leaves through os._exit: run them from its finalizers
        multiprocessing.util.register_after_fork(_FINALIZER_KEY, _register_finalizer)
        _atexit_installed = True
    if multiprocessing.parent_process() is not None:
        _register_finalizer(_FINALIZER_KEY)


def flush_when_child_ends(obj: Any, shutdown: Callable[[Any], object]) -> None:
    """In every multiprocessing child forked from here, call ``shutdown(obj)`` as the
    child ends (children leave through ``os._exit``: no ``atexit``); ``obj`` weakly held."""
    multiprocessing.util.register_after_fork(obj, functools.partial(_finalize, shutdown))


def _finalize(shutdown: Callable[[Any], object], obj: Any) -> None:
    multiprocessing.util.Finalize(obj, shutdown, args=(obj,), exitpriority=10)


def _register_finalizer(_key: object) -> None:
    multiprocessing.util.Finalize(None, run_exit_callbacks, exitpriority=10)


def run_exit_callbacks() -> None:
    """Run the exit callbacks, once per process (later calls do nothing)."""
    pid = os.getpid()
    if pid in _exit_ran:
        return
    _exit_ran.add(pid)
    _exiting.add(pid)
    try:
        for callback in list(_exit_callbacks):
            try:
                callback()
            except Exception as exc:
                _logger.warning("flext-otel exit hook %r failed: %r", callback, exc)
    finally:
        _exiting.discard(pid)
        _release_held_signals()


# -- signals --------------------------------------------------------------------

_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name)
)
_previous: dict[int, Any] = {}
_held: set[int] = set()
_flush_on_signal: Callable[[int], bool] | None = None


def install_signal_handlers(flush: Callable[[int], bool]) -> tuple[int, ...]:
    """Make SIGTERM and SIGINT call ``flush(signum)`` first, by the rule in the module
    docstring; returns the signals now handled (empty when nothing was safe).

    ``flush`` returns False when it cannot flush now because the interrupted main
    thread is itself flushing: the signal is then held until the exit hooks ran."""
    global _flush_on_signal
    if threading.current_thread() is not threading.main_thread():
        return ()
    _flush_on_signal = flush
    installed: list[int] = []
    for signum in _STOP_SIGNALS:
        try:
            current = signal.getsignal(signum)
        except (ValueError, OSError):
            continue
        if current is _handle_signal:
            installed.append(signum)
            continue
        if current in (signal.SIG_IGN, None):
            continue
        if signum == signal.SIGINT and current is signal.default_int_handler:
            continue
        try:
            signal.signal(signum, _handle_signal)
        except (ValueError, OSError):  # not the main interpreter, or not allowed
            continue
        _previous[signum] = current
        installed.append(signum)
    return tuple(installed)


def uninstall_signal_handlers() -> None:
    """Put back the handlers :func:`install_signal_handlers` replaced (main thread)."""
    for signum, previous in list(_previous.items()):
        try:
            if signal.getsignal(signum) is _handle_signal:
                signal.signal(signum, previous)
        except (ValueError, OSError):  # not the main thread: ours stays, and chains
            continue
        _previous.pop(signum, None)


def _handle_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)  # the host's own handler decides how to stop
        _hold(signum)
        return
    flushed = True
    if os.getpid() in _exiting:
        flushed = False  # the interrupted thread is flushing already
    elif _flush_on_signal is not None:
        try:
            flushed = _flush_on_signal(signum) is not False
        except Exception as exc:
            _logger.warning("flext-otel flush on signal %d failed: %r", signum, exc)
    if not flushed:
        # let the interrupted flush finish: the signal waits until the exit hooks ran
        _hold(signum)
        if signum in _held:
            signal.raise_signal(signum)
            return
    _exit_ran.add(os.getpid())
    # never swallow the signal: the process dies of it as it would have
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    signal.raise_signal(signum)


def _hold(signum: int) -> None:
    """Hold ``signum`` back in the main thread until the exit hooks have flushed."""
    if not hasattr(signal, "pthread_sigmask"):
        return
    with contextlib.suppress(ValueError, OSError):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
        _held.add(signum)


def _release_held_signals() -> None:
    """After the exit flush: deliver a held signal that was raised again, else unblock."""
    if not _held or threading.current_thread() is not threading.main_thread():
        return
    held = set(_held)
    _held.clear()
    with contextlib.suppress(ValueError, OSError):
        pending = signal.sigpending() & held
        for signum in pending:  # raised again by the host after its own shutdown
            handler = signal.getsignal(signum)
            if handler in (_handle_signal, signal.default_int_handler, signal.SIG_DFL):
                signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


__all__ = [
    "at_exit",
    "describe",
    "flush_when_child_ends",
    "install_signal_handlers",
    "instance_id",
    "on_fork",
    "run_exit_callbacks",
    "uninstall_signal_handlers",
]
