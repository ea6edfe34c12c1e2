"""configure(), FlextOtel lifecycle, proxies and the embedded default."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
from conftest import coverage_env
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.export.console import ConsoleTreeSpanExporter, render_trace
from flext_otel.pipeline import state as providers
from flext_otel.pipeline.options import resolve_options
from flext_otel.pipeline.sdk import FlextOtel, _Component
from flext_otel.pipeline.state import (
    PROXY_LOGGER_PROVIDER,
    PROXY_METER_PROVIDER,
    PROXY_TRACER_PROVIDER,
    configure,
    current,
)
from flext_otel.support.errors import ConfigError
from flext_otel.testing import capture


@pytest.fixture(autouse=True)
def _no_leftover_configuration() -> Iterator[None]:
    yield
    otel = providers.configured()
    if otel is not None:
        otel.shutdown(timeout_millis=2_000)


def test_configure_is_idempotent_for_same_options() -> None:
    """The same options return the same handle."""
    first = configure(service_name="idem", install_globals=False)
    assert configure(service_name="idem", install_globals=False) is first
    assert current() is first


def test_reconfigure_takes_effect_for_tracer_obtained_before() -> None:
    """A tracer from the proxy provider follows a reconfiguration; the old pipeline shuts down."""
    tracer = PROXY_TRACER_PROVIDER.get_tracer("early")
    first = configure(service_name="one", install_globals=False)
    with tracer.start_as_current_span("before"):
        pass
    second = configure(service_name="two", install_globals=False)
    with tracer.start_as_current_span("after"):
        pass
    assert [s.name for s in first.store.spans()] == ["before"]
    assert [s.name for s in second.store.spans()] == ["after"]
    assert second.store.spans()[0].resource["service.name"] == "two"
    assert first.is_shutdown
    assert not second.is_shutdown


def test_meter_and_logger_proxies_follow_reconfiguration() -> None:
    """Instruments and loggers created before configure() record into the new pipeline."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.metrics import Observation

    counter = PROXY_METER_PROVIDER.get_meter("m").create_counter("proxy_calls_total")
    observing = threading.Event()
    observing.set()

    def observe(_options: object) -> list[Observation]:
        # the proxies keep observables for the life of the process: report only in this test
        return [Observation(7)] if observing.is_set() else []

    PROXY_METER_PROVIDER.get_meter("m").create_observable_gauge("proxy_gauge", [observe])
    logger = PROXY_LOGGER_PROVIDER.get_logger("l")
    try:
        otel = configure(service_name="proxies", install_globals=False)
        counter.add(2)
        logger.emit(body="hi", severity_number=SeverityNumber.WARN, severity_text="WARN")
        points = {p.name: p for p in otel.store.metrics()}
        assert points["proxy_calls_total"].value == 2
        assert points["proxy_gauge"].value == 7
        assert [r.body for r in otel.store.logs()] == ["hi"]
    finally:
        observing.clear()


def test_configure_bad_value_installs_nothing() -> None:
    """A ConfigError leaves the current pipeline untouched."""
    before = configure(service_name="keep", install_globals=False)
    with pytest.raises(ConfigError):
        configure(service_name="x", store_capacity=-3)
    assert current() is before
    assert not before.is_shutdown


def test_resource_attributes() -> None:
    """The resource carries service, environment, SDK and extra attributes."""
    with capture(
        service_name="svc",
        service_version="1.2.3",
        environment="staging",
        resource_attributes={"team": "pay"},
    ) as cap:
        res = cap.otel.resource.attributes
    assert res["service.name"] == "svc"
    assert res["service.version"] == "1.2.3"
    assert res["deployment.environment.name"] == "staging"
    assert res["team"] == "pay"
    assert res["telemetry.sdk.language"] == "python"
    assert res["telemetry.sdk.name"] == "opentelemetry"


def test_sampler_always_off_records_nothing() -> None:
    """OTEL_TRACES_SAMPLER=always_off keeps no spans."""
    with capture(sampler="always_off") as cap:
        with cap.otel.tracer_provider.get_tracer("s").start_as_current_span("x"):
            pass
        assert cap.spans() == []


def test_traceidratio_sampler_keeps_about_the_ratio() -> None:
    """A 0.5 ratio keeps roughly half of many root spans."""
    with capture(sampler="traceidratio", sampler_arg=0.5) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("s")
        for _ in range(2_000):
            with tracer.start_as_current_span("x"):
                pass
        kept = len(cap.spans())
    assert 800 < kept < 1_200


def test_shutdown_is_idempotent_and_reports_nothing_lost() -> None:
    """shutdown() twice returns the same report; nothing lost on the embedded default."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    with otel.tracer_provider.get_tracer("t").start_as_current_span("x"):
        pass
    report = otel.shutdown()
    assert report.ok
    assert report.lost == 0
    assert str(report) == "nothing lost"
    assert otel.shutdown() is report
    assert report.pipelines["traces:store"].exported == 1


def test_span_after_shutdown_is_dropped_and_counted() -> None:
    """A span ended after shutdown is counted as dropped, never raises."""
    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    tracer = otel.tracer_provider.get_tracer("t")
    otel.shutdown()
    with tracer.start_as_current_span("late"):
        pass
    assert otel.stats()["traces:store"].dropped == {"shutdown": 1}
    assert otel.store.spans() == []


def test_no_thread_left_after_shutdown() -> None:
    """Shutting down leaves no flext or SDK thread running."""
    before = set(threading.enumerate())
    otel = FlextOtel(
        resolve_options(
            environ={},
            install_globals=False,
            metrics_exporter="console",
            metric_export_interval_ms=60_000,
        )
    )
    otel.force_flush(timeout_millis=1_000)
    otel.shutdown(timeout_millis=2_000)
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []


class _HangingExporter(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, spans: object) -> SpanExportResult:
        self.release.wait(10)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_force_flush_honours_timeout_with_stuck_component() -> None:
    """force_flush returns False by its deadline when a pipeline is stuck."""
    import time

    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    exporter = _HangingExporter()
    processor = BatchSpanProcessor(exporter)
    otel.tracer_provider.add_span_processor(processor)  # type: ignore[attr-defined]
    otel._add_component("traces:stuck", processor)
    with otel.tracer_provider.get_tracer("t").start_as_current_span("x"):
        pass
    started = time.monotonic()
    assert otel.force_flush(timeout_millis=300) is False
    assert time.monotonic() - started < 1.5
    exporter.release.set()
    otel.shutdown(timeout_millis=2_000)


def test_sdk_disabled_gives_working_noop() -> None:
    """OTEL_SDK_DISABLED=true yields no-op providers that accept calls."""
    with capture(sdk_disabled=True) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("x") as span:
            span.set_attribute("a", 1)
        cap.otel.meter_provider.get_meter("m").create_counter("c").add(1)
        assert cap.spans() == []
        assert cap.otel.stats() == {}
    assert cap.report is not None
    assert cap.report.ok


def test_capture_restores_previous_pipeline() -> None:
    """capture() routes the proxies to itself and restores the previous pipeline after."""
    outer = configure(service_name="outer", install_globals=False)
    tracer = PROXY_TRACER_PROVIDER.get_tracer("t")
    with capture() as cap:
        assert current() is cap.otel
        with tracer.start_as_current_span("inside"):
            pass
    with tracer.start_as_current_span("outside"):
        pass
    assert [s.name for s in cap.spans()] == ["inside"]
    assert [s.name for s in outer.store.spans()] == ["outside"]


def test_console_exporter_prints_tree() -> None:
    """The console exporter prints a finished trace as an indented tree."""
    stream = io.StringIO()
    exporter = ConsoleTreeSpanExporter(stream, colour=False)
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("c")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("child"):
            pass
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("trace ")
    assert lines[1].lstrip().startswith("root")
    assert "[unset]" in lines[1]
    assert "└─ child" in lines[2]
    assert "\x1b[" not in stream.getvalue()
    assert "\x1b[31m" in render_trace([provider_record("bad", error=True)], colour=True)


def provider_record(name: str, *, error: bool) -> object:
    from flext_otel.store.telemetry import SpanRecord

    return SpanRecord(name, 1, 2, None, "internal", 0, 1_000, "error" if error else "unset")


def test_console_exporter_selected_by_environment() -> None:
    """OTEL_TRACES_EXPORTER=console prints traces (checked in a subprocess)."""
    code = textwrap.dedent(
        """
        import flext_otel
        otel = flext_otel.configure(service_name="c", install_globals=False)
        with otel.tracer_provider.get_tracer("t").start_as_current_span("printed-span"):
            pass
        print(otel.shutdown())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**coverage_env(), "OTEL_TRACES_EXPORTER": "console", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "printed-span" in result.stdout
    assert "nothing lost" in result.stdout


def test_configure_installs_otel_globals_once() -> None:
    """configure() installs the proxies as OTel globals (checked in a subprocess)."""
    code = textwrap.dedent(
        """
        from opentelemetry import trace
        import flext_otel
        early = trace.get_tracer("early")
        first = flext_otel.configure(service_name="a")
        second = flext_otel.configure(service_name="b")
        with early.start_as_current_span("s"):
            pass
        print(len(first.store.spans()), len(second.store.spans()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1"]
    assert "Overriding of current" not in result.stderr


def test_report_counts_items_a_late_pipeline_still_held_as_lost() -> None:
    """Items a pipeline neither exported nor dropped by the deadline are reported as lost."""
    from flext_otel.support.counters import PipelineStats

    otel = FlextOtel(resolve_options(environ={}, install_globals=False))
    late = PipelineStats(accepted=10, exported=6, dropped={"queue_full": 1})
    otel._components.append(
        _Component("traces:late", lambda ms: True, lambda ms: True, "traces:late", lambda: late)
    )
    report = otel.shutdown(timeout_millis=1_000)
    settled = report.pipelines["traces:late"]
    assert dict(settled.dropped) == {"queue_full": 1, "shutdown": 3}
    assert report.lost == 4
    assert str(report) == "4 items lost: traces:late queue_full=1, traces:late shutdown=3"


def test_telemetry_after_shutdown_is_counted_not_rerouted() -> None:
    """After shutdown the pipeline stays current: a span through the proxies is dropped and
    counted as shutdown, not silently recorded somewhere else."""
    tracer = PROXY_TRACER_PROVIDER.get_tracer("late")
    otel = configure(service_name="ends", install_globals=False)
    otel.shutdown(timeout_millis=2_000)
    assert current() is otel
    with tracer.start_as_current_span("late"):
        pass
    assert otel.stats()["traces:store"].dropped == {"shutdown": 1}
    fresh = configure(service_name="ends", install_globals=False)
    assert fresh is not otel
    assert current() is fresh
