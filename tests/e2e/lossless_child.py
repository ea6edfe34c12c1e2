"""An OTLP receiver in a separate process, for fork tests.

A collector never runs inside the application that forks, and gRPC skips its fork
handlers while the forking process itself runs gRPC server threads, so the fork
tests talk to an :class:`~flext_otel.testing.OtlpReceiver` in a process started
with the *spawn* method and ask it, over a pipe, what arrived.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

_START_TIMEOUT_S = 60.0
_REPLY_SLACK_S = 10.0


def serve(conn: Connection, protocol: str) -> None:
    """Process body: run a receiver, send its endpoint, answer commands until told to stop.

    Commands: ``("wait", n, timeout)`` answers with the names of every span received
    once at least ``n`` arrived (or the error text after ``timeout`` seconds),
    ``("clear",)`` forgets what arrived, ``("stop",)`` ends the process.
    """
    from flext_otel.testing import OtlpReceiver

    with OtlpReceiver(protocol) as receiver:
        conn.send(receiver.endpoint)
        while True:
            command = conn.recv()
            if command[0] == "wait":
                _, n, timeout = command
                try:
                    conn.send([s.name for s in receiver.wait_for_spans(n, timeout=timeout)])
                except TimeoutError as exc:
                    conn.send(str(exc))
            elif command[0] == "clear":
                receiver.clear()
                conn.send(True)
            else:
                conn.send(True)
                return


class RemoteReceiver:
    """Handle on a receiver running in a spawned process (``.endpoint``, ``.span_names``)."""

    def __init__(self, protocol: str) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.protocol = protocol
        self._conn, child_end = spawn.Pipe()
        self._process: Any = spawn.Process(
            target=serve, args=(child_end, protocol), name=f"otlp-receiver-{protocol}", daemon=True
        )
        self._process.start()
        child_end.close()
        if not self._conn.poll(_START_TIMEOUT_S):
            self.close()
            raise TimeoutError(f"the {protocol} receiver process did not start")
        self.endpoint: str = self._conn.recv()

    def _ask(self, command: tuple[Any, ...], timeout: float) -> Any:
        self._conn.send(command)
        if not self._conn.poll(timeout):
            raise TimeoutError(f"the receiver process did not answer {command[0]!r}")
        return self._conn.recv()

    def span_names(self, n: int, timeout: float = 20.0) -> Counter[str]:
        """Names of the spans received once at least ``n`` arrived; AssertionError if not."""
        answer = self._ask(("wait", n, timeout), timeout + _REPLY_SLACK_S)
        assert isinstance(answer, list), answer
        return Counter(answer)

    def clear(self) -> None:
        """Forget every span received so far."""
        self._ask(("clear",), _REPLY_SLACK_S)

    def close(self) -> None:
        """Stop the receiver process (killed if it does not stop in time)."""
        try:
            if self._process.is_alive():
                self._ask(("stop",), _REPLY_SLACK_S)
        except (OSError, EOFError, TimeoutError):
            pass
        self._process.join(_REPLY_SLACK_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
