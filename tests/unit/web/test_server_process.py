"""The HTTP server across processes: fork release, port conflicts, worker identity."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from flext_otel.testing import capture
from flext_otel.web.server import port_conflict_message, port_owner, serve_http

LISTENER = (
    "import socket, sys, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
    "print(s.getsockname()[1], flush=True); time.sleep(60)\n"
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_releases_the_server_without_waiting_and_the_parent_keeps_serving() -> None:
    """close() of an inherited handle in a child returns at once (no serve loop to wait
    for) and leaves the parent's server answering."""
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0 if server.closed else 1  # released by the fork hook already
            server.close()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        with urllib.request.urlopen(server.url + "/ready", timeout=5) as answer:
            assert answer.status == 200
        assert not server.closed


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc")
def test_port_conflict_message_names_the_serving_process_and_the_fix() -> None:
    """The warning names the pid holding the port, says this process's telemetry is
    not there, and names the hub as the fix."""
    listener = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        port = int(listener.stdout.readline())
        assert port_owner(port) == listener.pid
        error = OSError(errno.EADDRINUSE, "Address already in use")
        message = port_conflict_message("127.0.0.1", port, error)
        assert f"process {listener.pid}" in message
        assert f"pid {os.getpid()}" in message
        assert "is not in them" in message
        assert "flext-otel run --" in message
    finally:
        listener.kill()
        listener.wait()


def test_health_shows_the_worker_identity() -> None:
    """/health carries service.instance.id and process.pid."""
    with capture() as cap, serve_http(cap.otel, port=0) as server:
        with urllib.request.urlopen(server.url + "/health", timeout=5) as answer:
            body = json.loads(answer.read())
    assert body["instance"] == {
        "service.name": cap.otel.options.service_name,
        "service.instance.id": cap.otel.identity["service.instance.id"],
        "process.pid": os.getpid(),
    }
