"""A real Prometheus server for tests: a plain child process on a free 127.0.0.1 port.

``PrometheusServer`` writes its own configuration (and optional rule files) into a
private temporary directory, starts ``/usr/bin/prometheus`` with ``--web.enable-lifecycle``
so the scrape targets can be changed later with a config rewrite and ``POST /-/reload``,
and waits for ``/-/ready``. Everything it starts it stops by PID.

    server = PrometheusServer(["127.0.0.1:9464"])
    server.wait_for_targets_up()
    server.wait_for('flext_function_calls_total', lambda result: len(result) > 0)
    server.stop()

Prometheus 2.42 applies a new target set only every ~5 s, so the first scrape of a new
target arrives about 5 s after ``start()`` or ``set_targets()``: share one server per test
session, use distinct metric names per test and wait with ``wait_for`` (a bounded polling
loop with short waits), never with a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_BINARY = "/usr/bin/prometheus"

Result = list[dict[str, Any]]
"""The ``data.result`` list of an ``/api/v1/query`` answer."""


class PrometheusError(RuntimeError):
    """Prometheus did not start, rejected a request, or answered with an error."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _static_configs(targets: Iterable[str]) -> list[dict[str, Any]]:
    """Turn ``host:port`` or ``http(s)://host:port/path`` targets into static_configs.

    Targets with another scheme or path carry ``__scheme__``/``__metrics_path__`` labels, so
    every target stays in the one job (Prometheus only fills these labels when absent).
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for target in targets:
        if "://" in target:
            parsed = urllib.parse.urlsplit(target)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"unsupported scrape target URL: {target!r}")
            if parsed.query or parsed.fragment:
                raise ValueError(f"scrape target URL must not carry a query: {target!r}")
            key = (parsed.scheme, parsed.path or "/metrics")
            address = parsed.netloc
        else:
            key = ("http", "/metrics")
            address = target
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"scrape target needs host:port: {target!r}")
        groups.setdefault(key, []).append(address)
    configs: list[dict[str, Any]] = []
    for (scheme, path), addresses in groups.items():
        config: dict[str, Any] = {"targets": addresses}
        if (scheme, path) != ("http", "/metrics"):
            config["labels"] = {"__scheme__": scheme, "__metrics_path__": path}
        configs.append(config)
    return configs


class PrometheusServer:
    """One Prometheus process with a private config, data dir and port.

    ``targets`` are ``host:port`` (scraped at ``/metrics``) or full ``http://host:port/path``
    URLs; they all belong to one scrape job named ``job_name``. ``rule_files`` are copied
    into the private directory and loaded (their alerts show at ``/api/v1/alerts``).
    Starts at construction unless ``start=False``. Usable as a context manager.
    """

    def __init__(
        self,
        targets: Sequence[str] = (),
        scrape_interval: str = "1s",
        *,
        rule_files: Sequence[str | Path] = (),
        job_name: str = "flext",
        binary: str = DEFAULT_BINARY,
        startup_timeout: float = 30.0,
        start: bool = True,
    ) -> None:
        self.scrape_interval = scrape_interval
        self.job_name = job_name
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._targets: list[str] = list(targets)
        self._rule_sources = [Path(p) for p in rule_files]
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        _static_configs(self._targets)  # validate before starting anything
        if start:
            self.start()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:43121``."""
        if self._port is None:
            raise PrometheusError("Prometheus is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def pid(self) -> int | None:
        """PID of the running process, or ``None``."""
        return self._process.pid if self._process is not None else None

    @property
    def directory(self) -> Path:
        """The private directory holding config, rules, data and ``prometheus.log``."""
        if self._dir is None:
            raise PrometheusError("Prometheus is not running")
        return self._dir

    @property
    def config_path(self) -> Path:
        """The generated ``prometheus.yml``."""
        return self.directory / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.directory / "prometheus.log"

    @property
    def targets(self) -> list[str]:
        """The configured scrape targets (a copy)."""
        return list(self._targets)

    def start(self) -> None:
        """Start the process and wait until ``/-/ready`` answers 200."""
        if self._process is not None:
            return
        self._dir = Path(tempfile.mkdtemp(prefix="flext-prometheus-"))
        rules_dir = self._dir / "rules"
        rules_dir.mkdir()
        for index, source in enumerate(self._rule_sources):
            shutil.copyfile(source, rules_dir / f"{index:02d}-{source.name}")
        self._write_config()
        last_error = ""
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self._port = free_port()
            self._spawn()
            try:
                self._wait_ready()
                return
            except PrometheusError as exc:
                last_error = str(exc)
                self._terminate()
                if "address already in use" not in last_error:
                    break
        self.stop()
        raise PrometheusError(last_error)

    def stop(self) -> None:
        """Stop the process by PID (terminate, then kill) and remove its directory."""
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._port = None

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines Prometheus logged (for failure messages)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, PrometheusError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- configuration -----------------------------------------------------------------

    def set_targets(self, targets: Sequence[str]) -> None:
        """Replace the scrape targets: rewrite the config and ``POST /-/reload``."""
        _static_configs(targets)
        self._targets = list(targets)
        self._write_config()
        self.reload()

    def reload(self) -> None:
        """Ask Prometheus to re-read its config; raises ``PrometheusError`` if rejected."""
        status, body = self._request("/-/reload", method="POST")
        if status != 200:
            raise PrometheusError(f"reload failed ({status}): {body.decode(errors='replace')}")

    def _write_config(self) -> None:
        rule_files = sorted(str(p) for p in (self.directory / "rules").iterdir())
        scrape_configs: list[dict[str, Any]] = []
        if self._targets:
            scrape_configs.append(
                {
                    "job_name": self.job_name,
                    "scrape_interval": self.scrape_interval,
                    "scrape_timeout": self.scrape_interval,
                    "static_configs": _static_configs(self._targets),
                }
            )
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "rule_files": rule_files,
            "scrape_configs": scrape_configs,
        }
        # JSON is valid YAML; write-then-rename so a reload never reads half a file.
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=2))
        tmp.replace(self.config_path)

    # -- process -----------------------------------------------------------------------

    def _spawn(self) -> None:
        data_dir = self.directory / "data"
        data_dir.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{self._port}",
                    "--web.enable-lifecycle",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            process = self._process
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise PrometheusError(f"prometheus exited ({code}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = self._request("/-/ready", timeout=1.0)
                if status == 200:
                    return
            if time.monotonic() >= deadline:
                raise PrometheusError(
                    f"prometheus not ready after {self.startup_timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    # -- HTTP API ----------------------------------------------------------------------

    def _request(
        self,
        path: str,
        *,
        method: str = "GET",
        params: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, bytes]:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, bytes(exc.read())

    def api(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET an HTTP API path (e.g. ``/api/v1/rules``) and return its JSON, errors included."""
        status, body = self._request(path, params=params)
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise PrometheusError(
                f"{path} answered {status} with non-JSON: {body[:200]!r}"
            ) from exc
        if not isinstance(answer, dict):
            raise PrometheusError(f"{path} answered {status} with {answer!r}")
        return answer

    def query(self, promql: str, at: float | None = None) -> dict[str, Any]:
        """Evaluate ``promql`` at unix time ``at`` (default now) through ``/api/v1/query``.

        Returns the API's JSON as is: ``{"status": "success", "data": {"resultType", "result"}}``
        or, for an expression that does not parse (HTTP 400) or fails to evaluate,
        ``{"status": "error", "errorType": ..., "error": ...}``.
        """
        params = {"query": promql}
        if at is not None:
            params["time"] = repr(at)
        return self.api("/api/v1/query", params)

    def wait_for(
        self,
        promql: str,
        predicate: Callable[[Result], bool] = bool,
        timeout: float = 30.0,
        interval: float = 0.1,
    ) -> Result:
        """Poll ``promql`` until ``predicate(result)`` holds; return that result.

        ``result`` is ``data.result`` of the answer (a list of series for vector queries).
        The default predicate waits for a non-empty result. An expression Prometheus rejects
        raises ``PrometheusError`` at once; running out of time raises ``TimeoutError``
        carrying the last answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            answer = self.query(promql)
            if answer.get("status") != "success":
                raise PrometheusError(f"query {promql!r} failed: {answer}")
            result = answer["data"]["result"]
            if predicate(result):
                return list(result)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{promql!r} did not satisfy the predicate in {timeout}s; last: {answer}"
                )
            time.sleep(interval)

    def active_targets(self) -> list[dict[str, Any]]:
        """The ``activeTargets`` of ``/api/v1/targets`` (health, lastError, labels...)."""
        answer = self.api("/api/v1/targets", {"state": "active"})
        targets: list[dict[str, Any]] = answer.get("data", {}).get("activeTargets", [])
        return targets

    def wait_for_targets_up(
        self, timeout: float = 30.0, interval: float = 0.1
    ) -> list[dict[str, Any]]:
        """Wait until every configured target has been scraped successfully; return them."""
        wanted = {t.split("://", 1)[-1].split("/", 1)[0] for t in self._targets}
        deadline = time.monotonic() + timeout
        while True:
            active = self.active_targets()
            up = {t["labels"].get("instance") for t in active if t.get("health") == "up"}
            if wanted <= up:
                return [t for t in active if t["labels"].get("instance") in wanted]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"targets {sorted(wanted - up)} not up in {timeout}s: {active}")
            time.sleep(interval)
