"""Proxy providers: a pipeline switch during resolution never pins the old pipeline."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.proxies import (
    PROXY_LOGGER_PROVIDER,
    PROXY_METER_PROVIDER,
    PROXY_TRACER_PROVIDER,
)
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.pipeline.state import use


def _pipeline() -> FlextOtel:
    return FlextOtel(resolve_options(environ={}, install_globals=False))


@pytest.fixture
def pipelines() -> Iterator[tuple[FlextOtel, FlextOtel]]:
    """Two private pipelines, shut down after the test."""
    first, second = _pipeline(), _pipeline()
    yield first, second
    first.shutdown(2_000)
    second.shutdown(2_000)


def _switch_during(
    otel: FlextOtel, provider_attr: str, getter: str, to: FlextOtel, switches: ExitStack
) -> None:
    """Make ``otel``'s ``provider_attr.getter`` switch the current pipeline to ``to``
    right after it resolved (once): the switch lands in the middle of a proxy's
    resolution."""
    provider = getattr(otel, provider_attr)
    real: Callable[..., Any] = getattr(provider, getter)
    done: list[bool] = []

    def resolve_then_switch(*args: Any, **kwargs: Any) -> Any:
        resolved = real(*args, **kwargs)
        if not done:
            done.append(True)
            switches.enter_context(use(to))
        return resolved

    setattr(provider, getter, resolve_then_switch)


def _counter_total(otel: FlextOtel, name: str) -> float:
    return sum(p.value or 0 for p in otel.store.metrics(name))


def test_tracer_switched_during_resolution_follows_the_new_pipeline(
    pipelines: tuple[FlextOtel, FlextOtel],
) -> None:
    """A switch while the proxy tracer resolves: the next span lands in the new pipeline."""
    old, new = pipelines
    with use(old), ExitStack() as switches:
        tracer = PROXY_TRACER_PROVIDER.get_tracer("race.tracer")
        _switch_during(old, "tracer_provider", "get_tracer", new, switches)
        with tracer.start_as_current_span("during"):
            pass
        with tracer.start_as_current_span("after"):
            pass
    assert [s.name for s in new.store.spans()] == ["after"]
    assert [s.name for s in old.store.spans()] == ["during"]


def test_meter_switched_during_resolution_follows_the_new_pipeline(
    pipelines: tuple[FlextOtel, FlextOtel],
) -> None:
    """A switch while a proxy instrument resolves its meter: the next add lands in the new one."""
    old, new = pipelines
    with use(old), ExitStack() as switches:
        counter = PROXY_METER_PROVIDER.get_meter("race.meter").create_counter("race_total")
        _switch_during(old, "meter_provider", "get_meter", new, switches)
        counter.add(1)
        counter.add(10)
    assert _counter_total(new, "race_total") == 10
    assert _counter_total(old, "race_total") == 1


def test_logger_switched_during_resolution_follows_the_new_pipeline(
    pipelines: tuple[FlextOtel, FlextOtel],
) -> None:
    """A switch while the proxy logger resolves: the next record lands in the new pipeline."""
    old, new = pipelines
    with use(old), ExitStack() as switches:
        logger = PROXY_LOGGER_PROVIDER.get_logger("race.logger")
        _switch_during(old, "logger_provider", "get_logger", new, switches)
        logger.emit(body="during")
        logger.emit(body="after")
    assert [r.body for r in new.store.logs()] == ["after"]
    assert [r.body for r in old.store.logs()] == ["during"]


@contextmanager
def _fast_thread_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


THREADS = 4
SWITCHES = 400
HELD = 16


def test_stress_threads_resolving_while_pipelines_switch() -> None:
    """Threads create and use proxies while the current pipeline switches hundreds of
    times; afterwards every measurement, span and record lands in the current one."""
    churn = [_pipeline() for _ in range(3)]
    base, final = _pipeline(), _pipeline()
    stop = threading.Event()
    switched_to_final = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []
    held_counts: list[int] = []

    def worker(index: int) -> None:
        try:
            meter = PROXY_METER_PROVIDER.get_meter(f"stress.{index}")
            tracer = PROXY_TRACER_PROVIDER.get_tracer(f"stress.{index}")
            logger = PROXY_LOGGER_PROVIDER.get_logger(f"stress.{index}")
            held: list[Any] = []
            while not stop.is_set():
                counter = meter.create_counter("stress_total")  # a fresh proxy resolves
                counter.add(1, {"phase": "churn"})
                held = [*held[-(HELD - 1) :], counter]
                with tracer.start_as_current_span("churn"):
                    pass
                logger.emit(body="churn")
            switched_to_final.wait(timeout=30)
            for counter in held:
                counter.add(1, {"phase": "final"})
            with tracer.start_as_current_span("final"):
                pass
            logger.emit(body="final")
            held_counts.append(len(held))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    try:
        with _fast_thread_switching(), use(base):
            for thread in threads:
                thread.start()
            for i in range(SWITCHES):
                with use(churn[i % len(churn)]):
                    pass
            with use(final):
                stop.set()
                switched_to_final.wait(timeout=30)
                for thread in threads:
                    thread.join(timeout=30)
        assert errors == []
        finals = [
            p for p in final.store.metrics("stress_total") if p.attributes["phase"] == "final"
        ]
        assert sum(p.value or 0 for p in finals) == sum(held_counts)
        assert len(final.store.spans("final")) == THREADS
        assert [r.body for r in final.store.logs()].count("final") == THREADS
        for other in (*churn, base):
            assert other.store.spans("final") == []
            assert all(
                p.attributes["phase"] == "churn" for p in other.store.metrics("stress_total")
            )
    finally:
        stop.set()
        for otel in (*churn, base, final):
            otel.shutdown(2_000)


_CONFIGURE_STRESS = """
import sys, threading
import flext_otel
from opentelemetry import metrics, trace

sys.setswitchinterval(1e-6)
flext_otel.configure(service_name="stress-0")
stop = threading.Event()
final_ready = threading.Barrier(5)
held_counts = []

def worker(index):
    meter = metrics.get_meter(f"stress.{index}")
    tracer = trace.get_tracer(f"stress.{index}")
    held = []
    while not stop.is_set():
        counter = meter.create_counter("stress_total")
        counter.add(1, {"phase": "churn"})
        held = [*held[-15:], counter]
        with tracer.start_as_current_span("churn"):
            pass
    final_ready.wait(timeout=60)
    for counter in held:
        counter.add(1, {"phase": "final"})
    with tracer.start_as_current_span("final"):
        pass
    held_counts.append(len(held))

threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for thread in threads:
    thread.start()
for i in range(1, 30):
    flext_otel.configure(service_name=f"stress-{i}")
final = flext_otel.configure(service_name="stress-final")
stop.set()
final_ready.wait(timeout=60)
for thread in threads:
    thread.join(timeout=60)
points = [p for p in final.store.metrics("stress_total") if p.attributes["phase"] == "final"]
total = sum(p.value for p in points)
spans = len(final.store.spans("final"))
print("final", total, sum(held_counts), spans)
sys.exit(0 if (total, spans) == (sum(held_counts), 4) else 1)
"""


def test_stress_threads_on_the_otel_globals_while_configure_switches() -> None:
    """In a child process (globals installed): threads use OTel's global meter and tracer
    while configure() replaces the pipeline 30 times; afterwards all lands in the last."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", _CONFIGURE_STRESS],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, (result.stdout, result.stderr[-2000:])
    assert result.stdout.startswith("final ")
