"""``configure()`` and :class:`FlextOtel`: the one place that assembles the SDK.

A :class:`FlextOtel` owns a tracer, meter and logger provider sharing one
``Resource``, the in-memory :class:`~flext_otel.store.TelemetryStore`, and the
export pipelines chosen by the options. ``configure()`` installs flext's *proxy*
providers as the OTel globals once per process; the proxies forward to whichever
``FlextOtel`` is current (a test's ``capture()``, else the configured one, else an
embedded default), so tracers and meters obtained before a reconfiguration follow
it without touching any OTel private attribute.

Processes: every ``FlextOtel`` registers with :mod:`flext_otel.pipeline.process`; in
a forked child it reassembles itself (new ``service.instance.id``, fresh threads,
exporters and store) and abandons what it inherited without flushing it (the parent
owns those items). ``shutdown()`` runs every step, server closers included, inside
its one deadline.

Size: over the ~500-line guide while the metric readers in this module are being
reworked in parallel; the lifecycle helpers (``ShutdownReport``, ``_run_stages``,
``_combined``, ``_settled``) are the part to move to their own module after that.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.version import __version__ as sdk_version

from flext_otel.export.console import ConsoleTreeSpanExporter
from flext_otel.export.metricview import SharedMetricReader
from flext_otel.export.otlp import otlp_log_exporter, otlp_span_exporter
from flext_otel.guardrails.facade import Guardrails
from flext_otel.guardrails.scrubbing import TransformingSpanExporter
from flext_otel.pipeline import process
from flext_otel.pipeline.metrics import assemble_metrics
from flext_otel.pipeline.options import FlextOtelOptions
from flext_otel.pipeline.processors import (
    CorrelatedStoreSpanProcessor,
    CorrelationLogProcessor,
    CorrelationSpanProcessor,
    StoreLogProcessor,
    StoreSpanProcessor,
)
from flext_otel.store.telemetry import TelemetryStore
from flext_otel.support.counters import DROP_REASONS, PipelineCounters, PipelineStats
from flext_otel.support.failures import FailureLedger
from flext_otel.support.otel_private import (
    ConsoleLogRecordExporter,
    LoggerProvider,
    LogRecordLimits,
    SimpleLogRecordProcessor,
    logs_api,
)

_logger = logging.getLogger("flext_otel")

PACKAGE_VERSION = "0.1.0"
EXIT_TIMEOUT_MILLIS = 10_000
_RELEASE_TIMEOUT_S = 5.0


# -- reports ----------------------------------------------------------------


@dataclass(frozen=True)
class ShutdownReport:
    """What ``FlextOtel.shutdown()`` delivered and lost.

    ``lost`` counts items that never reached a destination they were meant for
    (queue full, failed export, cut off by the deadline, internal failure);
    items sampled out, or evicted from the in-memory ring buffer by newer ones,
    are not lost. ``rejected`` counts calls of the simple API that were refused
    with a failed ``FlextResult`` (the caller was told; nothing was accepted, so
    nothing was lost): the ``api:<call>`` keys of :data:`REJECTION_KEYS`.
    """

    lost: int
    ok: bool
    pipelines: Mapping[str, PipelineStats]
    timed_out: tuple[str, ...] = ()
    evicted: int = 0
    rejected: int = 0

    def __str__(self) -> str:
        late = f"; did not finish in time: {', '.join(self.timed_out)}" if self.timed_out else ""
        refused = f"; {self.rejected} invalid calls rejected" if self.rejected else ""
        if self.lost == 0:
            return f"nothing lost{refused}{late}"
        parts = [
            f"{key} {reason}={count}"
            for key, stats in self.pipelines.items()
            if key not in REJECTION_KEYS
            for reason, count in sorted(stats.dropped.items())
            if count and reason != "sampled_out"
        ]
        noun = "item" if self.lost == 1 else "items"
        return f"{self.lost} {noun} lost: {', '.join(parts)}{refused}{late}"


#: Keys of calls the simple API refused (a failed ``FlextResult``, never accepted).
REJECTION_KEYS = frozenset(("api:metric", "api:log", "api:alert", "api:trace", "api:health_check"))


# -- helpers ----------------------------------------------------------------


def _run_bounded(func: Callable[[], object], timeout_s: float, name: str) -> tuple[bool, bool]:
    """Run ``func`` in a daemon thread within ``timeout_s``: ``(finished, succeeded)``.

    ``succeeded`` is False when it raised or returned False.
    """
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(func())
        except Exception as exc:
            _logger.warning("%s failed: %r", name, exc)
            outcome.append(False)

    worker = threading.Thread(target=target, name=f"flext-otel-{name}", daemon=True)
    worker.start()
    worker.join(max(timeout_s, 0.0))
    if worker.is_alive():
        return False, False
    return True, bool(outcome) and outcome[0] is not False


def build_resource(options: FlextOtelOptions) -> Resource:
    """The resource every signal shares: service, environment, SDK, distro and the
    process's identity (``service.instance.id``, random per process and renewed after
    fork, and ``process.pid``; ``OTEL_RESOURCE_ATTRIBUTES`` may override both)."""
    attributes: dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "telemetry.distro.name": "flext-otel",
        "telemetry.distro.version": PACKAGE_VERSION,
    }
    # worker identity: a pre-fork server's workers must not export identical streams
    attributes["service.instance.id"] = process.instance_id()
    attributes["process.pid"] = os.getpid()
    attributes.update(options.resource_attributes)
    attributes["service.name"] = options.service_name
    if options.service_version:
        attributes["service.version"] = options.service_version
    if options.environment:
        attributes["deployment.environment.name"] = options.environment
    return Resource(attributes)


def build_sampler(options: FlextOtelOptions) -> sampling.Sampler:
    """The head sampler named by ``OTEL_TRACES_SAMPLER`` / ``_ARG``."""
    ratio = 1.0 if options.sampler_arg is None else options.sampler_arg
    name = options.sampler
    root: sampling.Sampler
    if name.endswith("always_off"):
        root = sampling.ALWAYS_OFF
    elif name.endswith("traceidratio"):
        root = sampling.TraceIdRatioBased(ratio)
    else:
        root = sampling.ALWAYS_ON
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def _span_limits(options: FlextOtelOptions) -> SpanLimits:
    count = options.span_attribute_count_limit
    return SpanLimits(
        max_attributes=options.attribute_count_limit,
        max_span_attributes=count if count is not None else options.attribute_count_limit,
        max_events=options.span_event_count_limit,
        max_links=options.span_link_count_limit,
        max_event_attributes=options.attribute_count_limit,
        max_link_attributes=options.attribute_count_limit,
        max_attribute_length=options.attribute_value_length_limit,
        max_span_attribute_length=options.attribute_value_length_limit,
    )


class _Component:
    """A pipeline part with bounded flush/shutdown and optional stats."""

    __slots__ = ("flush", "key", "name", "stage", "stats", "stop")

    def __init__(
        self,
        name: str,
        flush: Callable[[int], object],
        stop: Callable[[int], object],
        key: str | None = None,
        stats: Callable[[], PipelineStats] | None = None,
        stage: int = 1,
    ) -> None:
        self.name = name
        self.flush = flush
        self.stop = stop
        self.key = key
        self.stats = stats
        self.stage = stage  # parts of a lower stage feed the others: they flush first


def _run_stages(
    components: Sequence[_Component], call: Callable[[_Component, int], object], deadline: float
) -> tuple[list[str], bool]:
    """Run ``call`` on every component, stage by stage, the parts of one stage in parallel.

    Every part gets 90 % of the time left until ``deadline``, so one stuck exporter
    cannot eat the budget of the others, and a part cut off at its own deadline
    still counts what it dropped before the caller's deadline. Returns the names
    of the parts that did not finish in time and whether every part that finished
    succeeded.
    """
    late: list[str] = []
    succeeded = True
    for stage in sorted({c.stage for c in components}):
        outcomes: dict[str, list[object]] = {}
        workers: list[tuple[_Component, threading.Thread]] = []
        budget = max(int((deadline - time.monotonic()) * 900), 1)
        for component in (c for c in components if c.stage == stage):
            box: list[object] = []
            outcomes[component.name] = box

            def target(
                c: _Component = component, out: list[object] = box, ms: int = budget
            ) -> None:
                try:
                    out.append(call(c, ms))
                except Exception as exc:
                    _logger.warning("%s failed: %r", c.name, exc)
                    out.append(False)

            worker = threading.Thread(
                target=target, name=f"flext-otel-{component.name}", daemon=True
            )
            worker.start()
            workers.append((component, worker))
        for component, worker in workers:
            worker.join(max(deadline - time.monotonic(), 0.0))
            if worker.is_alive():
                late.append(component.name)
            elif outcomes[component.name][:1] == [False]:
                succeeded = False
    return late, succeeded


# -- the handle -------------------------------------------------------------


class FlextOtel:
    """A configured telemetry pipeline: providers, store, exporters and counters.

    Build one with :func:`configure` (global) or ``flext_otel.testing()``
    (private). Every resource-holding part is flushed and shut down with a
    deadline shared across pipelines.
    """

    def __init__(self, options: FlextOtelOptions) -> None:
        self.options = options
        self._shutdown_lock = threading.Lock()
        self._report: ShutdownReport | None = None
        self._closers: list[Callable[[], object]] = []
        self.shutting_down_in: int | None = None
        """The thread running :meth:`shutdown` right now, if any."""
        self._inherited: list[_Component] = []
        #: Failures with no processor to count them (rejected API calls, decorator
        #: and metric-collection failures), merged into :meth:`stats`.
        self.failures = FailureLedger()
        self.store = TelemetryStore(
            options.store_capacity,
            spans_capacity=options.capacity("spans"),
            logs_capacity=options.capacity("logs"),
            alerts_capacity=options.capacity("alerts"),
            health_capacity=options.capacity("health"),
        )
        self._assemble()
        # a forked child reassembles it (new identity, fresh threads and exporters);
        # a multiprocessing child flushes it as it ends (it leaves through os._exit)
        process.on_fork(self)
        process.flush_when_child_ends(self, FlextOtel.shutdown_at_exit)

    def _assemble(self) -> None:
        """Build the resource, providers and pipelines from ``self.options``."""
        options = self.options
        self.pid = os.getpid()
        self.resource = build_resource(options)
        self._guardrails = Guardrails(options)
        self.prometheus_registry: Any = None
        self.metric_reader: SharedMetricReader | None = None
        self._components: list[_Component] = []
        self._health_adapter: Any = None
        self.created_at_ns = time.time_ns()
        self._provider_shutdowns: list[Callable[[], object]] = []
        if options.sdk_disabled:
            self.tracer_provider: trace_api.TracerProvider = trace_api.NoOpTracerProvider()
            self.meter_provider: metrics_api.MeterProvider = metrics_api.NoOpMeterProvider()
            self.logger_provider: logs_api.LoggerProvider = logs_api.NoOpLoggerProvider()
            return
        built: list[Callable[[], object]] = []
        try:
            tracer_provider = self._build_traces()
            built.append(tracer_provider.shutdown)
            logger_provider = self._build_logs()
            built.append(logger_provider.shutdown)
            self.tracer_provider = tracer_provider
            self.meter_provider = self._build_metrics()
            self.logger_provider = logger_provider
            self._observe_pipelines()
        except BaseException:
            self._release_partial(built)
            raise
        self._provider_shutdowns = built

    def _after_fork_in_child(self) -> None:
        """In a forked child: a new pipeline with this process's identity.

        Tracers and meters obtained through the OTel globals or flext's API follow
        the new pipeline. The parent's span and log pipelines reset themselves in
        the child (their queued items are the parent's to export) and stay attached
        to the old providers, so a tracer taken from ``otel.tracer_provider`` before
        the fork still delivers (with the parent's resource); they are flushed and
        counted with the new ones. The parent's metric pipeline is abandoned: its
        aggregations hold the parent's values, which the parent exports. The store
        is kept, with new locks.
        """
        if self._report is not None or self.pid == os.getpid():
            return
        self._shutdown_lock = threading.Lock()
        self.store.after_fork_in_child()
        # tracers and loggers taken from the old providers before the fork still feed
        # these (batch processors reset themselves in the child): flush them too
        self._inherited += [
            c for c in self._components if c.key and c.key.startswith(("traces:", "logs:"))
        ]
        self._abandoned = (self.tracer_provider, self.meter_provider, self.logger_provider)
        self._assemble()

    @property
    def identity(self) -> dict[str, Any]:
        """``service.name``, ``service.instance.id`` and ``process.pid`` of this pipeline."""
        attributes = self.resource.attributes
        return {
            key: attributes.get(key)
            for key in ("service.name", "service.instance.id", "process.pid")
        }

    def _release_partial(self, provider_shutdowns: Sequence[Callable[[], object]]) -> None:
        """A builder raised: stop every part already built (exporter threads, metric
        readers, channels) and the providers, within 5 s, so a failed construction
        leaks nothing; the caller re-raises."""
        deadline = time.monotonic() + _RELEASE_TIMEOUT_S
        _run_stages(self._components, lambda c, ms: c.stop(ms), deadline)
        for provider_shutdown in provider_shutdowns:
            _run_bounded(
                provider_shutdown, max(deadline - time.monotonic(), 0.05), "provider-shutdown"
            )
        self._components = []

    # -- assembly ---------------------------------------------------------
    def _counters(self, key: str, depth: Callable[[], int] | None = None) -> PipelineCounters:
        return PipelineCounters(key, depth)

    @property
    def guardrails(self) -> Guardrails:
        """Scrubbing, sampling, limit and cardinality guardrails of this pipeline."""
        return self._guardrails

    def _span_transform(self, count: bool = False) -> Any:
        """The span transform of the guardrails (scrubbing), or None.

        ``count`` makes it count scrubbed and truncated values too: only the
        store's transform does, so every span is counted once.
        """
        return self.guardrails.span_transform(count=count)

    def _build_traces(self) -> TracerProvider:
        opts = self.options
        guards = self.guardrails
        provider = TracerProvider(
            sampler=guards.sampler(build_sampler(opts)),
            resource=self.resource,
            shutdown_on_exit=False,
            span_limits=_span_limits(opts),
            meter_provider=metrics_api.NoOpMeterProvider(),
        )
        tail = guards.tail_processor()
        if tail is not None:  # else the store processor stamps the correlation ID itself
            provider.add_span_processor(CorrelationSpanProcessor())
        if guards.sampler_counters is not None:
            sampler_stats = guards.sampler_counters.snapshot
            self._components.append(
                _Component(
                    "traces:sampler",
                    lambda t: True,
                    lambda t: True,
                    "traces:sampler",
                    sampler_stats,
                )
            )
        add = provider.add_span_processor if tail is None else tail.add_child
        if tail is not None:  # store and exporters see only the traces it keeps
            provider.add_span_processor(tail)
            self._add_component("traces:tail_sampler", tail, stats=tail.stats, stage=0)
        store_class = StoreSpanProcessor if tail is not None else CorrelatedStoreSpanProcessor
        # the store processor guards each span once and hands it to the exporters
        store_processor = store_class(self.store, self._span_transform(count=True))
        add(store_processor)
        self._add_component("traces:store", store_processor, stats=store_processor.stats)
        for name in opts.traces_exporter:
            if name == "console":
                # downstream of the store processor: it sees spans already transformed
                counters = self._counters("traces:console")
                exporter = TransformingSpanExporter(ConsoleTreeSpanExporter(), None, counters)
                console = SimpleSpanProcessor(exporter)
                store_processor.add_downstream(console)
                self._add_component("traces:console", console, stats=counters.snapshot)
            elif name == "otlp":
                processor = self._batch_spans(opts)
                store_processor.add_downstream(processor)
                self._add_component("traces:otlp", processor, stats=processor.stats)
        return provider

    def _batch_spans(self, opts: FlextOtelOptions) -> Any:
        from flext_otel.export.batch import BatchSpanExportProcessor

        otlp = opts.otlp("traces")
        return BatchSpanExportProcessor(
            otlp_span_exporter(otlp),
            self._counters("traces:otlp"),
            max_queue_size=opts.bsp_max_queue_size,
            schedule_delay_ms=opts.bsp_schedule_delay_ms,
            max_export_batch_size=opts.bsp_max_export_batch_size,
            export_timeout_ms=opts.bsp_export_timeout_ms,
            exporter_factory=lambda: otlp_span_exporter(otlp),
        )

    def _build_metrics(self) -> MeterProvider:
        """The meter provider around one shared reader (see ``pipeline.metrics``)."""
        failures = self.failures

        def collection_failed(exc: BaseException) -> None:
            # the store reads as empty, but the failure shows under metrics:store
            failures.record("metrics:store", type(exc).__name__, repr(exc))

        built = assemble_metrics(
            self.options,
            self.resource,
            self.guardrails,
            self.store,
            self._counters,
            on_failure=collection_failed,
        )
        self.metric_reader = built.reader
        self.prometheus_registry = built.registry
        for name, flush, stop, key, stats in built.parts:
            self._components.append(_Component(name, flush, stop, key, stats))
        return built.provider

    def _build_logs(self) -> LoggerProvider:
        opts = self.options
        provider = LoggerProvider(
            resource=self.resource,
            shutdown_on_exit=False,
            meter_provider=metrics_api.NoOpMeterProvider(),
            log_record_limits=LogRecordLimits(
                max_attributes=opts.attribute_count_limit,
                max_attribute_length=opts.attribute_value_length_limit,
            ),
        )
        provider.add_log_record_processor(CorrelationLogProcessor())
        # scrubs in place, ahead of the store and every exporter (console included)
        provider.add_log_record_processor(self.guardrails.log_processor())
        store_processor = StoreLogProcessor(self.store, self._log_transforms())
        provider.add_log_record_processor(store_processor)
        self._add_component("logs:store", store_processor, stats=store_processor.stats)
        for name in opts.logs_exporter:
            if name == "console":
                console = SimpleLogRecordProcessor(ConsoleLogRecordExporter())
                provider.add_log_record_processor(console)
                self._add_component("logs:console", console)
            elif name == "otlp":
                from flext_otel.export.batch import BatchLogExportProcessor

                otlp = opts.otlp("logs")
                processor = BatchLogExportProcessor(
                    otlp_log_exporter(otlp),
                    self._counters("logs:otlp"),
                    max_queue_size=opts.blrp_max_queue_size,
                    schedule_delay_ms=opts.blrp_schedule_delay_ms,
                    max_export_batch_size=opts.blrp_max_export_batch_size,
                    export_timeout_ms=opts.blrp_export_timeout_ms,
                    transforms=self._log_transforms(),
                    exporter_factory=functools.partial(otlp_log_exporter, otlp),
                )
                provider.add_log_record_processor(processor)
                self._add_component("logs:otlp", processor, stats=processor.stats)
        return provider

    def _log_transforms(self) -> Sequence[Any]:
        """Per-consumer log transforms: none, as the guardrails' log processor runs first
        and redacts each record in place for the store and every exporter."""
        return ()

    def _add_component(
        self,
        key: str,
        part: Any,
        stats: Callable[[], PipelineStats] | None = None,
        stage: int = 1,
    ) -> None:
        def flush(timeout_millis: int) -> object:
            return part.force_flush(timeout_millis)

        def stop(timeout_millis: int) -> object:
            try:
                return part.shutdown(timeout_millis)
            except TypeError:  # SDK parts take no timeout; the caller bounds them
                return part.shutdown()

        self._components.append(_Component(key, flush, stop, key, stats, stage))

    def add_closer(self, close: Callable[[], object]) -> None:
        """Run ``close`` at shutdown (for servers bound to this pipeline)."""
        self._closers.append(close)

    def _observe_pipelines(self) -> None:
        """Expose the pipeline counters as ``flext.pipeline.*`` observable counters.

        Every reason of ``flext.pipeline.dropped`` is reported (zero included) so
        rates and alerts have a series from the start. Failure-only keys
        (``api:<call>``, ``metrics:store``) appear with their first failure;
        ``stats()`` and ``/health`` split their ``invalid`` drops by cause.
        """
        meter = self.meter_provider.get_meter("flext_otel.pipeline", PACKAGE_VERSION)

        def labelled(stats_key: str) -> dict[str, str]:
            signal, _, exporter = stats_key.partition(":")
            return {"signal": signal, "exporter": exporter}

        def accepted(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(s.accepted, labelled(k)) for k, s in self.stats().items()]

        def exported(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(s.exported, labelled(k)) for k, s in self.stats().items()]

        def dropped(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(s.dropped.get(reason, 0), {**labelled(k), "reason": reason})
                for k, s in self.stats().items()
                for reason in sorted({*DROP_REASONS, *s.dropped})
            ]

        for name, callback, text in (
            ("flext.pipeline.accepted", accepted, "Items handed to each pipeline"),
            ("flext.pipeline.exported", exported, "Items that reached each destination"),
            ("flext.pipeline.dropped", dropped, "Items that never will, by reason"),
        ):
            meter.create_observable_counter(name, [callback], description=text)

    # -- observation ------------------------------------------------------
    @property
    def is_shutdown(self) -> bool:
        """True once :meth:`shutdown` has run."""
        return self._report is not None

    def stats(self) -> dict[str, PipelineStats]:
        """Pipeline counters keyed ``"<signal>:<exporter>"``.

        Besides the exporters' and samplers' keys, failures that no processor
        sees appear with their first occurrence, as ``invalid`` drops whose
        ``causes`` say why: ``"api:<call>"`` for rejected calls of ``metric``,
        ``log``, ``alert``, ``trace`` and ``health_check`` (causes: error codes),
        ``"api:decorator"`` for the decorator's own failures and
        ``"metrics:store"`` for failed metric collections (causes: exception
        types). These keys count failures only: their ``accepted`` equals
        their ``dropped`` total. In a forked child, the pipelines it inherited
        and its own are counted together under one key.
        """
        merged: dict[str, PipelineStats] = {}
        for c in (*self._inherited, *self._components):
            if c.key and c.stats is not None:
                found = c.stats()
                earlier = merged.get(c.key)
                merged[c.key] = found if earlier is None else _combined(earlier, found)
        for key, failed in self.failures.stats().items():
            merged.setdefault(key, failed)
        return merged

    @property
    def health_adapter(self) -> Any:
        """The registry of component health results (created on first use)."""
        if self._health_adapter is None:
            from flext_otel.pipeline.health import HealthAdapter

            self._health_adapter = HealthAdapter(
                self.meter_provider.get_meter("flext_otel.health"),
                self.logger_provider.get_logger("flext_otel.health"),
                self.store,
            )
        return self._health_adapter

    def health(self) -> dict[str, Any]:
        """Overall status, per-component results and per-pipeline status."""
        components: dict[str, Any] = {}
        overall = "unknown"
        if self._health_adapter is not None:
            components = self._health_adapter.components()
            overall = self._health_adapter.overall()
        return {
            "status": overall,
            "instance": self.identity,
            "components": components,
            "pipelines": {key: stats.to_dict() for key, stats in self.stats().items()},
            "guardrails": self.guardrails.stats(),
            "shutdown": self.is_shutdown,
        }

    # -- lifecycle --------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush every pipeline within one shared deadline; False if any did not finish."""
        if self._report is not None:
            return True
        if self.options.sdk_disabled:
            return True
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000.0
        parts = [*self._inherited, *self._components]
        late, succeeded = _run_stages(parts, lambda c, ms: c.flush(ms), deadline)
        return not late and succeeded

    def shutdown_at_exit(self) -> None:
        """Shut down within the exit deadline as the process ends; log any loss with
        this process's identity."""
        if self._report is not None:
            return
        report = self.shutdown(EXIT_TIMEOUT_MILLIS)
        if not report.ok:
            _logger.warning("flext-otel at exit (%s): %s", process.describe(self.identity), report)

    def _close_servers(self, deadline: float) -> list[str]:
        """Run the closers in parallel, each bounded by ``deadline``; the late ones' names."""
        if not self._closers:
            return []
        closers = [
            _Component(f"closer:{getattr(c, '__qualname__', c)}", _done, _ignore_timeout(c))
            for c in self._closers
        ]
        # a third of the budget at most: the pipelines need the rest to flush
        budget = max(deadline - time.monotonic(), 0.0) / 3
        late, _ = _run_stages(closers, lambda c, ms: c.stop(ms), time.monotonic() + budget)
        return late

    def shutdown(self, timeout_millis: int = 30_000) -> ShutdownReport:
        """Flush and stop every pipeline within one deadline (idempotent).

        Returns a :class:`ShutdownReport`: what was lost and why, and which
        pipelines did not finish in time.
        """
        with self._shutdown_lock:
            if self._report is not None:
                return self._report
            self.shutting_down_in = threading.get_ident()
            try:
                return self._shut_down(timeout_millis)
            finally:
                self.shutting_down_in = None

    def _shut_down(self, timeout_millis: int) -> ShutdownReport:
        """The body of :meth:`shutdown` (under its lock)."""
        deadline = time.monotonic() + max(timeout_millis, 0) / 1000.0
        late_closers = self._close_servers(deadline)
        parts = [*self._inherited, *self._components]
        timed_out, _ = _run_stages(parts, lambda c, ms: c.stop(ms), deadline)
        for provider_shutdown in self._provider_shutdowns:
            remaining = max(deadline - time.monotonic(), 0.0)  # never past the deadline
            _run_bounded(provider_shutdown, remaining, "provider-shutdown")
        pipelines = MappingProxyType({key: _settled(stats) for key, stats in self.stats().items()})
        lost = sum(s.lost for key, s in pipelines.items() if key not in REJECTION_KEYS)
        rejected = sum(s.lost for key, s in pipelines.items() if key in REJECTION_KEYS)
        evicted = sum(s.evicted for s in self.store.stats().values())
        # a shut-down SDK MeterProvider warns on every get_meter(); instruments made
        # after shutdown (a late decorator call, a proxy re-binding) get no-ops
        self.meter_provider = metrics_api.NoOpMeterProvider()
        timed_out = [*late_closers, *timed_out]
        self._report = ShutdownReport(
            lost, lost == 0 and not timed_out, pipelines, tuple(timed_out), evicted, rejected
        )
        # it stays current (until configure() is called again), so telemetry that
        # arrives after shutdown is dropped and counted, never rerouted silently
        return self._report


def _combined(a: PipelineStats, b: PipelineStats) -> PipelineStats:
    """Two pipelines under one key (a forked child's inherited and new ones) as one."""
    dropped = dict(a.dropped)
    for reason, count in b.dropped.items():
        dropped[reason] = dropped.get(reason, 0) + count
    last = max((a, b), key=lambda s: s.last_export_time_ns or 0)
    return PipelineStats(
        a.accepted + b.accepted,
        a.exported + b.exported,
        MappingProxyType(dropped),
        a.queue_depth + b.queue_depth,
        last.last_export_ok,
        last.last_error,
        last.last_export_time_ns,
    )


def _settled(stats: PipelineStats) -> PipelineStats:
    """``stats`` with items still unaccounted for at the deadline counted as ``shutdown``.

    A pipeline cut off by the deadline may not have counted what it still held;
    the report must never read as if those items had arrived.
    """
    pending = stats.accepted - stats.exported - stats.dropped_total
    if pending <= 0:
        return stats
    dropped = dict(stats.dropped)
    dropped["shutdown"] = dropped.get("shutdown", 0) + pending
    return dataclasses.replace(stats, dropped=MappingProxyType(dropped))


def _done(timeout_millis: int) -> bool:
    return True


def _ignore_timeout(close: Callable[[], object]) -> Callable[[int], object]:
    """``close`` as a component's stop (the caller bounds it)."""

    def stop(timeout_millis: int) -> object:
        return close()

    return stop


__all__ = [
    "EXIT_TIMEOUT_MILLIS",
    "PACKAGE_VERSION",
    "FlextOtel",
    "ShutdownReport",
    "build_resource",
    "build_sampler",
]
