"""``flext-otel run`` around real multi-process servers: gunicorn (4 sync workers,
Flask), uvicorn (2 workers, Starlette) and a ``multiprocessing`` spawn pool. One hub
sees every request of every worker, its ``/metrics`` (scraped by a real Prometheus)
counts them all and never goes backwards when a worker is killed, and SIGTERM ends
the run with a report that says nothing was lost."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import missing_backend
from hub_run import HubRun, hammer, wait_http
from prometheus_server import PrometheusServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FLASK_APP = """
import flext_otel
from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor

flext_otel.configure(service_name="{service}")
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)


@app.get("/")
def index():
    flext_otel.metric("{counter}", 1)
    return "ok"
"""

STARLETTE_APP = """
import flext_otel
from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

flext_otel.configure(service_name="{service}")


async def index(request):
    flext_otel.metric("{counter}", 1)
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/", index)])
StarletteInstrumentor.instrument_app(app)
"""

POOL_APP = """
import multiprocessing

import flext_otel


def init():
    flext_otel.configure(service_name="{service}")


def work(n):
    with flext_otel.span("job", n=n):
        flext_otel.metric("{counter}", 1)
    return n


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3, initializer=init) as pool:  # leaving it terminates (SIGTERMs) the workers
        results = pool.map(work, range({jobs}), chunksize=1)
    print("jobs done", len(results))
"""


def _need(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            missing_backend(f"{module} is not installed (pip install 'flext-otel[test]')")


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"hubapp-{suffix}", f"hub_requests_{suffix}_total"


def _counter(prometheus: PrometheusServer, counter: str, value: int) -> None:
    prometheus.wait_for(
        f"sum({counter})",
        lambda r: bool(r) and float(r[0]["value"][1]) == value,
        timeout=60,
    )


def _instances(run: HubRun, service: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = run.api(f"/api/instances?service={service}")["instances"]
    return rows


def _traces(run: HubRun, service: str) -> int:
    count: int = run.api(f"/api/traces?service={service}&limit=1000")["count"]
    return count


def _stop(run: HubRun) -> str:
    status = run.terminate(timeout=10)
    assert status == 0, run.output[-3000:]
    assert "nothing lost" in run.output, run.output[-3000:]
    return run.output


def test_gunicorn_four_workers_one_view_and_a_counter_that_never_resets(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    """gunicorn -w 4: 1,000 traces from 4 instances, a counter of 1,000 that survives kill -9."""
    _need("gunicorn", "flask", "opentelemetry.instrumentation.flask")
    service, counter = _names()
    (tmp_path / "app.py").write_text(FLASK_APP.format(service=service, counter=counter))
    port = free_port()
    run = HubRun(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=tmp_path,
    )
    try:
        app = f"http://127.0.0.1:{port}/"
        # each worker configures at import and exports metrics every second: once
        # the hub has heard of all 4, every worker serves (no request is retried)
        run.wait_until("4 instances", lambda: len(_instances(run, service)) >= 4)
        prometheus.set_targets([run.ui.removeprefix("http://")])
        assert hammer(app, 1000) == 1000
        run.wait_until("1,000 traces", lambda: _traces(run, service) == 1000)
        rows = _instances(run, service)
        assert len(rows) == 4
        assert sum(int(str(r["spans"])) for r in rows) == 1000
        assert all(int(str(r["spans"])) > 0 for r in rows)
        _counter(prometheus, counter, 1000)

        victim = int(str(rows[0]["pid"]))
        os.kill(victim, signal.SIGKILL)  # gunicorn starts a replacement
        run.wait_until("a replacement worker", lambda: len(_instances(run, service)) >= 5)
        assert hammer(app, 200) == 200
        _counter(prometheus, counter, 1200)
        resets = prometheus.wait_for(f"resets({counter}[5m])")
        assert [float(r["value"][1]) for r in resets] == [0.0]
    finally:
        if run.process.poll() is None:
            _stop(run)
        run.kill()


def test_uvicorn_two_workers_report_to_one_hub(
    tmp_path: Path, prometheus: PrometheusServer
) -> None:
    """uvicorn --workers 2 + Starlette: every request is a trace, the counter sums both."""
    _need("uvicorn", "starlette", "opentelemetry.instrumentation.starlette")
    service, counter = _names()
    (tmp_path / "app.py").write_text(STARLETTE_APP.format(service=service, counter=counter))
    port = free_port()
    run = HubRun(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=tmp_path,
    )
    try:
        app = f"http://127.0.0.1:{port}/"
        run.wait_until("2 instances", lambda: len(_instances(run, service)) >= 2)
        wait_http(app)  # uvicorn binds after its workers imported the app
        prometheus.set_targets([run.ui.removeprefix("http://")])
        assert hammer(app, 299) == 299
        run.wait_until("300 traces", lambda: _traces(run, service) == 300)
        assert len(_instances(run, service)) == 2
        _counter(prometheus, counter, 300)
    finally:
        if run.process.poll() is None:
            _stop(run)
        run.kill()


def test_multiprocessing_spawn_pool_reports_every_job(tmp_path: Path) -> None:
    """A spawn pool of 3 ended by ``with``: every job's span reaches the hub, nothing lost."""
    service, counter = _names()
    (tmp_path / "pool.py").write_text(
        textwrap.dedent(POOL_APP.format(service=service, counter=counter, jobs=60))
    )
    run = HubRun([sys.executable, "pool.py"], cwd=tmp_path)
    try:
        status = run.process.wait(60)
        run._reader.join(5)
    finally:
        run.kill()
    assert status == 0, run.output[-3000:]
    assert "jobs done 60" in run.output
    assert "nothing lost" in run.output
    assert "traces: 60 received, 60 stored" in run.output


def test_run_exits_with_the_commands_status(tmp_path: Path) -> None:
    """``flext-otel run -- COMMAND`` exits with COMMAND's own status."""
    run = HubRun([sys.executable, "-c", "raise SystemExit(7)"], cwd=tmp_path)
    try:
        assert run.process.wait(30) == 7
    finally:
        run.kill()


INSTRUMENTED_APP = """
from opentelemetry import trace

tracer = trace.get_tracer("instrumented")
with tracer.start_as_current_span("outer"):
    with tracer.start_as_current_span("inner"):
        pass
"""


def test_opentelemetry_instrument_processes_report_through_the_distro(tmp_path: Path) -> None:
    """A process started by opentelemetry-instrument (no configure() call) reports too."""
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    if not instrument.exists():
        missing_backend("opentelemetry-instrument is installed with flext-otel[instrument]")
    (tmp_path / "app.py").write_text(INSTRUMENTED_APP)
    run = HubRun([str(instrument), sys.executable, "app.py"], cwd=tmp_path)
    try:
        status = run.process.wait(60)
        run._reader.join(5)
    finally:
        run.kill()
    assert status == 0, run.output[-3000:]
    assert "traces: 2 received, 2 stored" in run.output, run.output[-3000:]
    assert "nothing lost" in run.output
