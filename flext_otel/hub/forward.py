"""Forwarding: everything the hub receives goes on to an OTLP endpoint, without loss.

:class:`Forwarder` puts each received span, log record and metric of an export
request on the bounded queue of flext's lossless batch export
(:mod:`flext_otel.export.batch`: O(1) hand-over, loss counted by reason,
deadlines on every export and on shutdown), and a small OTLP client
(:class:`_OtlpSender`) sends each batch as one export request, unchanged, to the
endpoint the standard settings name (span and log attributes scrubbed by the
pipeline's rules, nothing else changed) (``OTEL_TRACES_EXPORTER=otlp`` and
``OTEL_EXPORTER_OTLP_*``, the same :class:`~flext_otel.pipeline.options.FlextOtelOptions`
``configure()`` reads) or ``--forward URL``.

Items keep references into the received message (resource and scope groups are
copied into the outgoing request once per batch), so queueing copies nothing.

Imports: ``export`` (the batch core, counters), ``pipeline.options``, grpcio and
the OTLP protobuf bindings. Threading: :meth:`Forwarder.offer` is called from
receiver threads; the batch core's worker sends. Nothing raises into a caller.
"""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from flext_otel.export.batchcore import _BatchCore
from flext_otel.export.options import OtlpOptions
from flext_otel.hub import ingest
from flext_otel.pipeline.options import FlextOtelOptions
from flext_otel.support.counters import PipelineCounters, PipelineStats

__all__ = ["Forwarder", "Scrub"]

Scrub = Callable[[Mapping[str, Any] | None], tuple[Mapping[str, Any] | None, tuple[str, ...]]]
"""The pipeline's attribute scrubber (``Guardrails.scrub_attributes``)."""

_GROUPS = {
    "traces": ("resource_spans", "scope_spans", "spans"),
    "metrics": ("resource_metrics", "scope_metrics", "metrics"),
    "logs": ("resource_logs", "scope_logs", "log_records"),
}
_SIGNALS = {"traces": ingest.TRACES, "metrics": ingest.METRICS, "logs": ingest.LOGS}
_EXPORTER_OPTION = {
    "traces": "traces_exporter",
    "metrics": "metrics_exporter",
    "logs": "logs_exporter",
}


class _OtlpSender:
    """Sends batches of ``(group, scope_group, item)`` (metrics: ``(group, scope_group,
    metric, data_point)``) as one OTLP export request."""

    def __init__(self, signal: ingest.Signal, options: OtlpOptions, scrub: Scrub | None) -> None:
        self._signal = signal
        self._options = options
        self._scrub = scrub
        self._stub: Any = None
        self._channel: Any = None

    def _request(self, batch: Sequence[tuple[Any, ...]]) -> Any:
        group_field, scope_field, item_field = _GROUPS[self._signal.name]
        request = self._signal.request_type()
        groups: dict[int, Any] = {}
        scopes: dict[tuple[int, int], Any] = {}
        metrics: dict[int, Any] = {}
        for group, scope_group, item, *point in batch:
            out_group = groups.get(id(group))
            if out_group is None:
                out_group = groups[id(group)] = getattr(request, group_field).add()
                out_group.resource.CopyFrom(group.resource)
                out_group.schema_url = group.schema_url
            key = (id(group), id(scope_group))
            out_scope = scopes.get(key)
            if out_scope is None:
                out_scope = scopes[key] = getattr(out_group, scope_field).add()
                out_scope.scope.CopyFrom(scope_group.scope)
                out_scope.schema_url = scope_group.schema_url
            if point:  # a metric's data point: one metric message per original metric
                out_metric = metrics.get(id(item))
                which = item.WhichOneof("data")
                if out_metric is None:
                    out_metric = metrics[id(item)] = out_scope.metrics.add()
                    out_metric.CopyFrom(item)
                    getattr(out_metric, which).ClearField("data_points")
                getattr(out_metric, which).data_points.append(point[0])
                continue
            items = getattr(out_scope, item_field)
            items.append(item)
            if self._scrub is not None:
                _scrub_pairs(self._scrub, items[len(items) - 1].attributes)
        return request

    def export(self, batch: Sequence[tuple[Any, ...]], /) -> bool:
        request = self._request(batch)
        opts = self._options
        timeout_s = opts.timeout_ms / 1000.0
        headers = dict(opts.headers)
        if opts.protocol == "grpc":
            stub = self._grpc_stub()
            stub.Export(request, metadata=tuple(headers.items()), timeout=timeout_s)
            return True
        body = request.SerializeToString()
        headers["Content-Type"] = "application/x-protobuf"
        if opts.compression == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        url = opts.endpoint
        if not opts.per_signal_url and not url.rstrip("/").endswith(self._signal.path):
            url = url.rstrip("/") + self._signal.path
        http_request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(http_request, timeout=timeout_s) as answer:
            answer.read()
        return True

    def _grpc_stub(self) -> Any:
        if self._stub is None:
            import grpc
            from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
            from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
            from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

            parts = urlsplit(self._options.endpoint)
            target = parts.netloc or parts.path
            if parts.scheme == "https" or not self._options.insecure:
                self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
            else:
                self._channel = grpc.insecure_channel(target)
            stub_type: Any = {
                "traces": trace_service_pb2_grpc.TraceServiceStub,
                "metrics": metrics_service_pb2_grpc.MetricsServiceStub,
                "logs": logs_service_pb2_grpc.LogsServiceStub,
            }[self._signal.name]
            self._stub = stub_type(self._channel)
        return self._stub

    def shutdown(self) -> None:
        if self._channel is not None:
            self._channel.close()


def _scrub_pairs(scrub: Scrub, pairs: Any) -> None:
    """Replace secret-looking attribute values of a protobuf ``KeyValue`` list in place."""
    if not pairs:
        return
    clean, keys = scrub(ingest.attributes(pairs))
    if not keys or clean is None:
        return
    for pair in pairs:
        if pair.key in keys:
            value = clean.get(pair.key)
            pair.value.Clear()
            pair.value.string_value = value if isinstance(value, str) else str(value)


def _keep_all(items: list[Any]) -> tuple[list[Any], int]:
    return items, 0


class Forwarder:
    """One lossless batch queue per forwarded signal; ``stats()`` per signal."""

    def __init__(
        self,
        destinations: Mapping[str, OtlpOptions],
        options: FlextOtelOptions,
        scrub: Scrub | None = None,
    ) -> None:
        self._cores: dict[str, _BatchCore[Any]] = {}
        self._counters: dict[str, PipelineCounters] = {}
        for name, otlp in destinations.items():
            counters = PipelineCounters(f"{name}:forward")
            self._counters[name] = counters
            self._cores[name] = _BatchCore(
                f"{name}:forward",
                _OtlpSender(_SIGNALS[name], otlp, scrub),
                counters,
                max_queue_size=options.bsp_max_queue_size,
                schedule_delay_ms=min(options.bsp_schedule_delay_ms, 1_000),
                max_export_batch_size=options.bsp_max_export_batch_size,
                export_timeout_ms=options.bsp_export_timeout_ms,
                prepare=_keep_all,
                success=True,
                exporter_factory=None,
            )

    @classmethod
    def from_options(
        cls, options: FlextOtelOptions, scrub: Scrub | None = None
    ) -> Forwarder | None:
        """A forwarder for each signal whose exporter is ``otlp``; None when none is."""
        destinations = {
            name: options.otlp(name)
            for name, option in _EXPORTER_OPTION.items()
            if "otlp" in getattr(options, option)
        }
        return cls(destinations, options, scrub) if destinations else None

    @property
    def signals(self) -> tuple[str, ...]:
        """The forwarded signals."""
        return tuple(self._cores)

    def offer(self, signal: ingest.Signal, request: Any) -> None:
        """Queue every item of a received request (dropped and counted when full)."""
        core = self._cores.get(signal.name)
        if core is None:
            return
        group_field, scope_field, item_field = _GROUPS[signal.name]
        for group in getattr(request, group_field):
            for scope_group in getattr(group, scope_field):
                for item in getattr(scope_group, item_field):
                    if signal is ingest.METRICS:  # counted per data point, like ingest
                        which = item.WhichOneof("data")
                        if which is not None:
                            for point in getattr(item, which).data_points:
                                core.offer((group, scope_group, item, point))
                    else:
                        core.offer((group, scope_group, item))

    def stats(self) -> dict[str, PipelineStats]:
        """Accepted, exported and dropped (by reason) per forwarded signal."""
        return {name: core.stats() for name, core in self._cores.items()}

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Send what is queued, within one deadline."""
        return all(core.force_flush(timeout_millis) for core in self._cores.values())

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Flush and stop; what cannot be sent by the deadline is counted as ``shutdown``."""
        for core in self._cores.values():
            core.shutdown(timeout_millis)
