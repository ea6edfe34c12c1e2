"""Helpers for the hub's end-to-end tests: ``flext-otel run`` as a subprocess.

:class:`HubRun` starts ``flext-otel run --grpc-port 0 --http-port 0 --port 0 -- COMMAND``,
reads the endpoint lines it prints when ready, and gives the test the hub's UI URL,
its JSON API and a way to stop it (SIGTERM) and read its report.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_URL = re.compile(r"(http://\S+?)/?$")


class HubRun:
    """``flext-otel run -- COMMAND`` in a subprocess; output collected on a thread."""

    def __init__(
        self, command: Sequence[str], cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flext_otel.cli",
                "run",
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--port",
                "0",
                "--",
                *command,
            ],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.urls: dict[str, str] = {}
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(30):
            self.process.kill()
            raise RuntimeError("flext-otel run never printed its endpoints:\n" + self.output)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            for word in ("OTLP/gRPC", "OTLP/HTTP", "UI"):
                match = _URL.search(line.strip())
                if word in line and match and word not in self.urls:
                    self.urls[word] = match.group(1)
            if len(self.urls) == 3:
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        """Everything printed so far (the command's output included)."""
        return "\n".join(self.lines)

    @property
    def ui(self) -> str:
        """Base URL of the hub's UI and API."""
        return self.urls["UI"]

    def api(self, path: str) -> Any:
        """GET ``path`` on the hub's UI server, decoded JSON."""
        with urllib.request.urlopen(self.ui + path, timeout=10) as answer:
            return json.loads(answer.read())

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll ``check`` until it holds (raises with the output after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.output[-3000:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"flext-otel run exited early\n{self.output[-3000:]}")
            time.sleep(0.2)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM ``flext-otel run``; its exit status (raises if not within ``timeout``)."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout)
        self._reader.join(5)
        return status

    def kill(self) -> None:
        """Kill the run and its command's process group (test cleanup)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def get(url: str, timeout: float = 10.0) -> int:
    """GET ``url`` on a fresh connection; its status."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        answer.read()
        return int(answer.status)


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hammer(url: str, n: int, threads: int = 8) -> int:
    """``n`` GETs of ``url`` from ``threads`` threads; how many answered 200."""
    ok = [0] * threads

    def worker(index: int) -> None:
        for _ in range(index, n, threads):
            if get(url) == 200:
                ok[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(ok)
