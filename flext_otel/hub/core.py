"""The hub's state: one store, the instances, the merged metrics, the counters.

:class:`Hub` takes decoded OTLP export requests from any receiver (gRPC or HTTP),
stores spans and log records in a bounded :class:`~flext_otel.store.TelemetryStore`
(records keep their resource), merges metric points across instances
(:mod:`flext_otel.hub.metrics`), counts per instance what was sent, refuses
malformed items (OTLP partial success), scrubs secrets by the pipeline's scrubbing rules (span
and log attributes, log bodies: what is stored and what is forwarded) and hands
everything to the forwarder when one is configured. :class:`HubOtel` presents
all of it to the web layer as a ``FlextOtel`` (``store``, ``stats()``,
``health()``, ``prometheus_registry``), so the live view, ``/api/*``,
``/metrics``, ``/health`` and ``/ready`` are the in-process ones.

Imports: ``pipeline`` (options, ``FlextOtel``), ``store``, ``support``, ``hub``
siblings. Threading: :meth:`Hub.ingest` is called from many receiver threads at
once; the store, the instance table, the merger and the counters each have their
own lock, and nothing here raises into a receiver (failures count as invalid).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flext_otel.hub import ingest
from flext_otel.hub.forward import Forwarder
from flext_otel.hub.instances import Instances, InstanceStats, identify
from flext_otel.hub.metrics import MetricMerger
from flext_otel.pipeline.options import FlextOtelOptions, resolve_options
from flext_otel.pipeline.sdk import FlextOtel
from flext_otel.store.telemetry import LogRecordView, MetricPoint, SpanRecord
from flext_otel.support.counters import PipelineStats

__all__ = ["Hub", "HubOtel"]

_logger = logging.getLogger("flext_otel.hub")

HUB_SERVICE = "flext-otel-hub"
_ITEM = {"traces": "spans", "logs": "logs", "metrics": "metric_points"}


class _Counts:
    """Per signal: items received, stored (or merged), refused; requests refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = {"traces": 0, "metrics": 0, "logs": 0}
        self.stored = {"traces": 0, "metrics": 0, "logs": 0}
        self.refused = {"traces": 0, "metrics": 0, "logs": 0}
        self.requests = 0
        self.invalid_requests = 0
        self.unauthorized = 0

    def add(self, signal: str, received: int, stored: int, refused: int) -> None:
        with self._lock:
            self.received[signal] += received
            self.stored[signal] += stored
            self.refused[signal] += refused

    def request(self) -> None:
        with self._lock:
            self.requests += 1

    def bad_request(self, unauthorized: bool = False) -> None:
        with self._lock:
            if unauthorized:
                self.unauthorized += 1
            else:
                self.invalid_requests += 1


class Hub:
    """What the hub holds; receivers call :meth:`ingest`, the web layer reads ``otel``.

    ``options`` (default: resolved from the environment like ``configure()``)
    give the store capacities, the HTTP token and the forwarding settings;
    ``api_key`` makes ingest require ``Authorization: Bearer <key>`` (or an
    ``api-key``/``x-api-key`` header); ``forward`` overrides the forwarder.
    """

    def __init__(
        self,
        options: FlextOtelOptions | None = None,
        *,
        api_key: str | None = None,
        max_body_bytes: int = ingest.MAX_BODY_BYTES,
        forwarder: Forwarder | None = None,
    ) -> None:
        opts = options if options is not None else resolve_options()
        self.options = opts
        self.api_key = api_key or None
        self.max_body_bytes = max_body_bytes
        self.instances = Instances()
        self.merger = MetricMerger()
        self.counts = _Counts()
        self.forwarder: Forwarder | None = None
        self.otel = HubOtel(self, opts)
        self.store = self.otel.store
        guardrails = self.otel.guardrails
        self._scrub = guardrails.scrub_attributes if guardrails.scrubber is not None else None
        self._scrub_text = guardrails.scrub_text
        self.forwarder = (
            forwarder if forwarder is not None else Forwarder.from_options(opts, self._scrub)
        )

    # -- ingest ----------------------------------------------------------------
    def authorized(self, headers: Mapping[str, Any]) -> bool:
        """True when no API key is set or ``headers`` (lowercase names) carry it."""
        if self.api_key is None:
            return True
        expected = self.api_key.encode("utf-8")
        offered: list[str] = []
        auth = headers.get("authorization")
        if isinstance(auth, str):
            scheme, _, credential = auth.strip().partition(" ")
            offered.append(credential.strip() if scheme.lower() == "bearer" else auth.strip())
        for name in ("api-key", "x-api-key"):
            value = headers.get(name)
            if isinstance(value, str):
                offered.append(value.strip())
        ok = any(
            hmac.compare_digest(v.encode("utf-8", "surrogateescape"), expected) for v in offered
        )
        if not ok:
            self.counts.bad_request(unauthorized=True)
        return ok

    def refuse(self) -> None:
        """Count one request refused as invalid (bad body, size, type or path)."""
        self.counts.bad_request()

    def ingest(self, signal: ingest.Signal, request: Any) -> tuple[int, str]:
        """Store, merge and forward one decoded export request.

        Returns ``(rejected items, message)`` for an OTLP partial success; raises
        :class:`~flext_otel.hub.ingest.IngestError` (counted as invalid) when the
        request cannot be taken at all.
        """
        self.counts.request()
        try:
            if signal is ingest.TRACES:
                rejected = self._spans(request)
            elif signal is ingest.LOGS:
                rejected = self._logs(request)
            else:
                rejected = self._metrics(request)
        except Exception as error:  # a decoding bug must not kill a receiver thread
            _logger.warning(
                "flext-otel hub: cannot ingest a %s request", signal.name, exc_info=True
            )
            self.refuse()
            raise ingest.IngestError(400, f"cannot ingest {signal.name}: {error!r}") from None
        if self.forwarder is not None:
            self.forwarder.offer(signal, request)
        if rejected:
            what = _ITEM[signal.name].replace("_", " ")
            return rejected, f"{rejected} {what} refused: malformed trace or span IDs"
        return 0, ""

    def _spans(self, request: Any) -> int:
        add = self.store.add_span
        scrub = self._scrub
        total_refused = 0
        for resource, records, refused in ingest.store_spans(request):
            for record in records:
                if scrub is not None and record[9]:
                    attributes, keys = scrub(record[9])
                    if keys:
                        clean = MappingProxyType(dict(attributes or {}))
                        fields = (*record[:9], clean, *record[10:])
                        record = tuple.__new__(SpanRecord, fields)  # noqa: PLW2901
                add(record)
            self.instances.count(
                resource, spans=len(records) + refused, invalid=refused, stored=len(records)
            )
            self.counts.add("traces", len(records) + refused, len(records), refused)
            total_refused += refused
        return total_refused

    def _logs(self, request: Any) -> int:
        add = self.store.add_log
        scrub = self._scrub
        total_refused = 0
        for resource, records, refused in ingest.store_logs(request):
            for record in records:
                if scrub is not None:
                    record = self._scrubbed_log(record, scrub)  # noqa: PLW2901
                add(record)
            self.instances.count(
                resource, logs=len(records) + refused, invalid=refused, stored=len(records)
            )
            self.counts.add("logs", len(records) + refused, len(records), refused)
            total_refused += refused
        return total_refused

    def _scrubbed_log(self, record: LogRecordView, scrub: Any) -> LogRecordView:
        attributes, keys = scrub(record[4]) if record[4] else (record[4], ())
        body = record[3]
        clean_body = self._scrub_text(body) if isinstance(body, str) else body
        if not keys and clean_body is body:
            return record
        clean = MappingProxyType(dict(attributes or {})) if keys else record[4]
        return tuple.__new__(LogRecordView, (*record[:3], clean_body, clean, *record[5:]))

    def _metrics(self, request: Any) -> int:
        by_instance: dict[tuple[str, str], list[ingest.ReceivedMetricPoint]] = {}
        resources: dict[tuple[str, str], Mapping[str, Any]] = {}
        for point in ingest.metric_points(request):
            service, instance, _ = identify(point.resource)
            key = (service, instance)
            by_instance.setdefault(key, []).append(point)
            resources.setdefault(key, point.resource)
        total_refused = 0
        for (service, instance), points in by_instance.items():
            refused = self.merger.add(service, instance, points)
            self.instances.count(
                resources[(service, instance)],
                metric_points=len(points),
                invalid=refused,
                stored=len(points) - refused,
            )
            self.counts.add("metrics", len(points), len(points) - refused, refused)
            total_refused += refused
        return total_refused

    # -- reading ---------------------------------------------------------------
    def instance_rows(
        self, service: str | None = None, instance: str | None = None
    ) -> list[InstanceStats]:
        """Per-instance counts (see :class:`~flext_otel.hub.instances.InstanceStats`)."""
        return self.instances.rows(service, instance)

    def metric_points(
        self, service: str | None = None, instance: str | None = None
    ) -> list[MetricPoint]:
        """Merged metric points (of one service, or one instance's own) for ``/api/metrics``."""
        from flext_otel.export.metricview import points_of

        data = self.merger.metrics_data(service, instance)
        return [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            for point in points_of(metric)
        ]

    def stats(self) -> dict[str, Any]:
        """Loss accounting: per signal received/stored/refused, store evictions,
        forwarding, invalid requests, and per instance what it sent."""
        counts = self.counts
        store = self.store.stats()
        with counts._lock:
            signals = {
                name: {
                    "received": counts.received[name],
                    "stored": counts.stored[name],
                    "invalid": counts.refused[name],
                }
                for name in ("traces", "metrics", "logs")
            }
            invalid_requests = counts.invalid_requests
            unauthorized = counts.unauthorized
        signals["traces"]["evicted"] = store["spans"].evicted
        signals["logs"]["evicted"] = store["logs"].evicted
        forwarded = self.forwarder.stats() if self.forwarder is not None else {}
        for name, stats in forwarded.items():
            signals[name]["forwarded"] = stats.exported
            signals[name]["dropped"] = stats.dropped_total
        return {
            "signals": signals,
            "invalid": invalid_requests + sum(s["invalid"] for s in signals.values()),
            "invalid_requests": invalid_requests,
            "unauthorized": unauthorized,
            "instances": [row.to_dict() for row in self.instances.rows()],
            "metric_series": self.merger.series_count(),
        }

    def lost(self) -> int:
        """Items received that never reached a destination (refused or dropped while
        forwarding); store evictions are not losses."""
        stats = self.stats()
        return sum(s["invalid"] + s.get("dropped", 0) for s in stats["signals"].values())

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the forwarder (the store needs none)."""
        return self.forwarder.force_flush(timeout_millis) if self.forwarder is not None else True

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Flush and stop the forwarder within the deadline (idempotent)."""
        if self.forwarder is not None:
            self.forwarder.shutdown(timeout_millis)


class HubOtel(FlextOtel):
    """The hub seen as a pipeline by the web layer: its store and its counters.

    No SDK providers of its own (``sdk_disabled``): the hub serves what others send.
    """

    def __init__(self, hub: Hub, options: FlextOtelOptions) -> None:
        super().__init__(
            options.replace(
                sdk_disabled=True,
                install_globals=False,
                service_name=HUB_SERVICE
                if options.service_name == "unknown_service"
                else options.service_name,
            )
        )
        self.hub = hub
        self.store.set_metric_source(hub.metric_points)
        self.prometheus_registry = _registry(hub)

    def stats(self) -> dict[str, PipelineStats]:
        """``"<signal>:hub"`` (items received, stored, refused as invalid),
        ``"requests:hub"`` (requests taken, refused as invalid) and forwarding."""
        hub = self.hub
        counts = hub.counts
        result: dict[str, PipelineStats] = {}
        with counts._lock:
            for name in ("traces", "metrics", "logs"):
                result[f"{name}:hub"] = PipelineStats(
                    accepted=counts.received[name],
                    exported=counts.stored[name],
                    dropped={"invalid": counts.refused[name]},
                )
            refused = counts.invalid_requests + counts.unauthorized
            result["requests:hub"] = PipelineStats(
                accepted=counts.requests + refused,
                exported=counts.requests,
                dropped={"invalid": refused},
            )
        if hub.forwarder is not None:
            for name, stats in hub.forwarder.stats().items():
                result[f"{name}:forward"] = stats
        return result

    def health(self) -> dict[str, Any]:
        """The pipeline health plus the hub's ingest counters (``invalid`` included)."""
        report = super().health()
        stats = self.hub.stats()
        alive = len(stats["instances"])
        report["status"] = "healthy"
        report["hub"] = {
            "invalid": stats["invalid"],
            "invalid_requests": stats["invalid_requests"],
            "unauthorized": stats["unauthorized"],
            "signals": stats["signals"],
            "instances": alive,
        }
        report["invalid"] = stats["invalid"]
        return report

    def instances(
        self, service: str | None = None, instance: str | None = None
    ) -> list[dict[str, Any]]:
        """``/api/instances`` rows."""
        return [row.to_dict() for row in self.hub.instance_rows(service, instance)]

    def metric_points(
        self, service: str | None = None, instance: str | None = None
    ) -> list[MetricPoint]:
        """``/api/metrics`` points of one service or instance."""
        return self.hub.metric_points(service, instance)


def _registry(hub: Hub) -> Any:
    """A private Prometheus registry whose collector renders the merged metrics."""
    try:
        from prometheus_client import CollectorRegistry

        from flext_otel.support.otel_private import prometheus_translator
    except ImportError:
        return None

    class _Merged:
        def collect(self) -> Any:
            hub.merger.retire_stale()
            collector = prometheus_translator(
                disable_target_info=True,
                resource_attribute_filter=lambda key: key == "service.name",
            )
            collector.add_metrics_data(hub.merger.metrics_data())
            yield from collector.collect()
            yield from _own_metrics(hub)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return registry


def _own_metrics(hub: Hub) -> Any:
    """The hub's own counters: ``flext_hub_{received,stored,invalid}_total`` by signal,
    ``flext_hub_forwarded_total`` / ``flext_hub_forward_dropped_total``, ``flext_hub_instances``."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    stats = hub.stats()
    families = {
        key: CounterMetricFamily(f"flext_hub_{key}", text, labels=["signal"])
        for key, text in (
            ("received", "Items received by the hub"),
            ("stored", "Items stored (spans, logs) or merged (metric points)"),
            ("invalid", "Items refused as malformed"),
            ("forwarded", "Items forwarded upstream"),
            ("forward_dropped", "Items that could not be forwarded, any reason"),
        )
    }
    for signal_name, row in stats["signals"].items():
        for key in ("received", "stored", "invalid"):
            families[key].add_metric([signal_name], row[key])
        if "forwarded" in row:
            families["forwarded"].add_metric([signal_name], row["forwarded"])
            families["forward_dropped"].add_metric([signal_name], row["dropped"])
    yield from (family for family in families.values() if family.samples)
    instances = GaugeMetricFamily("flext_hub_instances", "Instances that reported")
    instances.add_metric([], len(stats["instances"]))
    yield instances
