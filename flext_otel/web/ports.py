"""One ``/metrics`` port, several processes: who serves it, and the warnings.

Until every process of a multi-process server sends its telemetry to one place
(the hub, ``flext-otel run``), only one process can serve ``/metrics`` and the live
view on a port. The others say so once, naming the process that serves it, that
their own telemetry is not in it, and the fix.

Imports: ``pipeline`` (the current pipeline's identity) and the standard library.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os

from flext_otel.pipeline import process
from flext_otel.pipeline.state import chosen

_logger = logging.getLogger("flext_otel.web.server")

HUB_FIX = (
    "to see every process's telemetry in one place, run the server under the hub "
    "(`flext-otel run -- gunicorn ...`), which collects them all over OTLP; or export "
    "with OTLP (OTEL_METRICS_EXPORTER=otlp) to a collector"
)


def port_owner(port: int) -> int | None:
    """The pid of a process listening on TCP ``port`` (Linux ``/proc``; else None)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as lines:
                rows = lines.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            listening = len(fields) > 9 and fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{entry.name}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{entry.name}/fd/{fd}") in inodes:
                            return int(entry.name)
    return None


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            words = raw.read().split(b"\0")
    except OSError:
        return ""
    return " ".join(w.decode(errors="replace") for w in words if w)[:80]


def _this_process() -> str:
    otel = chosen()
    if otel is not None:
        return process.describe(otel.identity)
    return f"instance {process.instance_id()}, pid {os.getpid()}"


def port_conflict_message(host: str, port: int, error: OSError) -> str:
    """The warning for a process that cannot bind ``/metrics`` because another serves it:
    which process serves the port, that this one's telemetry is not in it, and the fix."""
    owner = port_owner(port) if getattr(error, "errno", None) == errno.EADDRINUSE else None
    if owner is None:
        who = "another process"
    else:
        name = _process_name(owner)
        who = f"process {owner}" + (f" ({name})" if name else "")
    return (
        f"flext-otel could not serve /metrics on {host}:{port} ({error.strerror or error}): "
        f"{who} serves that port, so /metrics and the live view there show that "
        f"process's telemetry only; this process ({_this_process()}) is not in them. "
        f"Fix: {HUB_FIX}"
    )


_warned_not_served: set[int] = set()
_warned_conflicts: set[tuple[int, str, int]] = set()


def warn_port_conflict(host: str, port: int, error: OSError) -> None:
    """Log :func:`port_conflict_message` once per process and address (a process that
    reconfigures tries the port again)."""
    key = (os.getpid(), host, port)
    if key in _warned_conflicts:
        return
    _warned_conflicts.add(key)
    _logger.warning("%s", port_conflict_message(host, port, error))


def warn_not_served_here(url: str, owner_pid: int) -> None:
    """In a forked child of the process serving ``url``: say once that this process's
    telemetry is not served there."""
    if os.getpid() in _warned_not_served:
        return
    _warned_not_served.add(os.getpid())
    _logger.warning(
        "flext-otel: %s (/metrics, /health and the live view) is served by process %d, "
        "the parent of this one, and shows that process's telemetry only; this process "
        "(%s) is not in it. Fix: %s",
        url,
        owner_pid,
        _this_process(),
        HUB_FIX,
    )


__all__ = [
    "HUB_FIX",
    "port_conflict_message",
    "port_owner",
    "warn_not_served_here",
    "warn_port_conflict",
]
