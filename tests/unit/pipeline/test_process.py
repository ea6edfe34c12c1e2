"""Process hooks: fork safety, exit and signal flushes, worker identity.

Each test runs its scenario in a fresh interpreter (they fork, exit, install signal
handlers and OTel globals), reporting through an ``OtlpReceiver`` and stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from flext_otel.pipeline import process
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.testing import OtlpReceiver

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_RUN_TIMEOUT_S = 60


@pytest.fixture(params=["http", "grpc"])
def receiver(request: pytest.FixtureRequest) -> Iterator[OtlpReceiver]:
    """An OTLP receiver of either protocol."""
    with OtlpReceiver(request.param) as rx:
        yield rx


def _env(rx: OtlpReceiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLEXT_OTEL_"))}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.endpoint
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc" if rx.protocol == "grpc" else "http/protobuf"
    env["OTEL_BSP_SCHEDULE_DELAY"] = "60000"  # only the exit flush can deliver
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "60000"
    return env


def _run(code: str, rx: OtlpReceiver, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(rx),
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )


FORK_CHILD = """
    import json, os, sys
    import flext_otel
    otel = flext_otel.configure(
        service_name="forked", metrics_exporter="prometheus,otlp", traces_exporter="otlp",
        prometheus_port=0,
    )
    parent = otel.identity
    pid = os.fork()
    if pid == 0:
        flext_otel.metric("child_total", 1)
        with flext_otel.span("child-work"):
            pass
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": status, "parent": parent}))
    otel.shutdown(5000)
"""


def test_forked_child_of_a_metrics_server_exits_and_delivers(receiver: OtlpReceiver) -> None:
    """A child forked from a process serving /metrics exits on sys.exit() and flushes
    its own metrics and spans, under its own service.instance.id."""
    result = _run(FORK_CHILD, receiver)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 0
    spans = receiver.wait_for_spans(1)
    assert [s.name for s in spans] == ["child-work"]
    child = spans[0].resource
    assert child["service.instance.id"] != report["parent"]["service.instance.id"]
    assert child["process.pid"] != report["parent"]["process.pid"]
    points = receiver.wait_for_metrics(1, name="child_total")
    assert points[0].resource["service.instance.id"] == child["service.instance.id"]


MP_CHILD = """
    import json, multiprocessing, os
    import flext_otel

    def work():
        flext_otel.metric("mp_child_total", 1)
        with flext_otel.span("mp-child-work"):
            pass

    if __name__ == "__main__":
        otel = flext_otel.configure(
            service_name="mp", metrics_exporter="prometheus,otlp", traces_exporter="otlp",
            prometheus_port=0,
        )
        child = multiprocessing.get_context("fork").Process(target=work)
        child.start()
        child.join(30)
        print(json.dumps({"exitcode": child.exitcode}))
        otel.shutdown(5000)
"""


def test_fork_context_process_exits_and_delivers(receiver: OtlpReceiver, tmp_path: object) -> None:
    """A fork-context multiprocessing.Process exits and flushes its telemetry."""
    result = _run(MP_CHILD.replace("if __name__", "if True or __name__"), receiver)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"exitcode": 0}
    assert [s.name for s in receiver.wait_for_spans(1)] == ["mp-child-work"]
    assert receiver.wait_for_metrics(1, name="mp_child_total")[0].value == 1


SIGTERM_DEFAULT = """
    import os, signal, sys, time
    import flext_otel
    flext_otel.configure(service_name="sig", traces_exporter="otlp", metrics_exporter="otlp")
    for i in range(20):
        with flext_otel.span(f"work-{i}"):
            flext_otel.metric("work_total", 1)
    print("ready", flush=True)
    time.sleep(60)
"""


def _run_until_ready(code: str, rx: OtlpReceiver) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=_env(rx),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_sigterm_with_the_default_handler_flushes_then_dies_of_it(receiver: OtlpReceiver) -> None:
    """SIGTERM (default disposition) flushes every span and metric, then the process
    still dies of SIGTERM."""
    proc = _run_until_ready(SIGTERM_DEFAULT, receiver)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=_RUN_TIMEOUT_S)
    assert proc.returncode == -signal.SIGTERM, err
    assert len(receiver.wait_for_spans(20)) == 20
    assert receiver.wait_for_metrics(1, name="work_total")[0].value == 20


SIGTERM_REREAISED = """
    import os, signal, sys, threading
    import flext_otel

    stop = threading.Event()
    original = signal.signal(signal.SIGTERM, lambda s, f: stop.set())  # like uvicorn
    flext_otel.configure(service_name="sig", traces_exporter="otlp")
    print("ready", flush=True)
    stop.wait(60)
    for i in range(5):  # the graceful shutdown still produces telemetry
        with flext_otel.span(f"graceful-{i}"):
            pass
    signal.signal(signal.SIGTERM, original)  # restore, then re-raise, as uvicorn does
    signal.raise_signal(signal.SIGTERM)
    print("not reached before exit hooks", flush=True)
"""


def test_signal_reraised_after_a_hosts_graceful_shutdown_is_flushed(
    receiver: OtlpReceiver,
) -> None:
    """A host handler installed first is chained; when the host restores SIG_DFL and
    re-raises after its graceful shutdown, the exit hooks flush first and the process
    still dies of the signal."""
    proc = _run_until_ready(SIGTERM_REREAISED, receiver)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=_RUN_TIMEOUT_S)
    assert proc.returncode == -signal.SIGTERM, err
    assert sorted(s.name for s in receiver.wait_for_spans(5)) == [f"graceful-{i}" for i in range(5)]


HANDLERS = """
    import signal, threading
    import flext_otel
    flext_otel.configure(service_name="h", signal_handlers={flag})
    term = signal.getsignal(signal.SIGTERM)
    print(term is signal.SIG_DFL, signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


@pytest.mark.parametrize(("flag", "expected"), [(True, "False"), (False, "True")])
def test_signal_handlers_option(flag: bool, expected: str) -> None:
    """signal_handlers=True installs a SIGTERM handler; False installs none; SIGINT's
    KeyboardInterrupt handler is always left alone (it reaches atexit)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HANDLERS.format(flag=flag))],
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    term_default, int_default = result.stdout.split()
    assert term_default == expected
    assert int_default == "True"


def test_no_handler_is_installed_outside_the_main_thread() -> None:
    """install_signal_handlers() from another thread installs nothing."""
    found: list[tuple[int, ...]] = []
    worker = threading.Thread(target=lambda: found.append(process.install_signal_handlers(print)))
    worker.start()
    worker.join()
    assert found == [()]


def test_resource_carries_worker_identity() -> None:
    """Every pipeline's resource has service.instance.id and process.pid; one per process."""
    first = FlextOtel(resolve_options(install_globals=False, signal_handlers=False))
    second = FlextOtel(resolve_options(install_globals=False, signal_handlers=False))
    try:
        attributes = first.resource.attributes
        assert attributes["process.pid"] == os.getpid()
        assert attributes["service.instance.id"] == process.instance_id()
        assert second.identity == first.identity
        assert first.health()["instance"]["service.instance.id"] == process.instance_id()
    finally:
        first.shutdown(1000)
        second.shutdown(1000)


def test_instance_id_is_renewed_in_a_forked_child() -> None:
    """instance_id() differs in a forked child, and the child's pipeline carries it."""
    otel = FlextOtel(resolve_options(install_globals=False, signal_handlers=False))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        payload = json.dumps([process.instance_id(), otel.identity["service.instance.id"]])
        os.write(write, payload.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_id, child_pipeline_id = json.loads(pipe.read())
    os.waitpid(pid, 0)
    try:
        assert child_id != process.instance_id()
        assert child_pipeline_id == child_id
        assert otel.identity["service.instance.id"] == process.instance_id()
    finally:
        otel.shutdown(1000)


def test_shutdown_keeps_a_stuck_closer_inside_its_deadline() -> None:
    """A closer that never returns is cut off and named in the report."""
    otel = FlextOtel(resolve_options(install_globals=False, signal_handlers=False))
    release = threading.Event()
    otel.add_closer(lambda: release.wait(30))
    try:
        report = otel.shutdown(300)
        assert not report.ok
        assert any(name.startswith("closer:") for name in report.timed_out)
    finally:
        release.set()


def test_exit_loss_message_names_the_process() -> None:
    """The at-exit loss message carries service, instance and pid."""
    code = """
        import flext_otel
        flext_otel.configure(service_name="lossy", traces_exporter="otlp",
                             otlp_endpoint="http://127.0.0.1:9", otlp_timeout_ms=200,
                             bsp_export_timeout_ms=200)
        with flext_otel.span("never-delivered"):
            pass
        print(flext_otel.configure(service_name="lossy", traces_exporter="otlp",
              otlp_endpoint="http://127.0.0.1:9", otlp_timeout_ms=200,
              bsp_export_timeout_ms=200).identity["service.instance.id"])
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        check=False,
    )
    instance = result.stdout.strip()
    assert "flext-otel at exit (service lossy, instance " + instance in result.stderr
    assert "lost" in result.stderr


def test_reconfiguring_without_signal_handlers_puts_the_previous_ones_back() -> None:
    """configure(signal_handlers=False) after True restores the handler that was there."""
    code = """
        import signal
        import flext_otel
        mine = lambda s, f: None
        signal.signal(signal.SIGTERM, mine)
        flext_otel.configure(service_name="a")
        chained = signal.getsignal(signal.SIGTERM) is not mine
        flext_otel.configure(service_name="b", signal_handlers=False)
        print(chained, signal.getsignal(signal.SIGTERM) is mine)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=_RUN_TIMEOUT_S,
        check=False,
    )
    assert result.stdout.split() == ["True", "True"], result.stderr
