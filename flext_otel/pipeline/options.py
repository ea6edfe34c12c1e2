"""Startup options: one frozen object, resolved as argument > ``OTEL_*`` env > default.

Every option is described once in :data:`OPTIONS` (name, environment variable,
type, default, help). :func:`resolve_options` reads ``configure()``'s keyword
arguments and the environment through that table, validates every value and
raises :class:`ConfigError` naming the option or variable and the bad value.

Imports: ``export.options``, ``guardrails.options`` and ``support`` (no OpenTelemetry).
About 700 lines on purpose: the option table is one entry per option, in the order
the README's option table shows them, and a test compares the two.

>>> opts = resolve_options(service_name="checkout", environ={})
>>> opts.service_name, opts.store_capacity
('checkout', 10000)
>>> resolve_options(environ={"OTEL_TRACES_SAMPLER_ARG": "1.7"})
Traceback (most recent call last):
...
flext_otel.support.errors.ConfigError: OTEL_TRACES_SAMPLER_ARG='1.7': must be between 0.0 and 1.0
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from flext_otel.export.options import OtlpOptions
from flext_otel.guardrails.options import REDACTED, SamplingOptions, ScrubbingOptions
from flext_otel.support.errors import ConfigError
from flext_otel.support.errors import shown as _shown

SIGNALS = ("traces", "metrics", "logs")
TRACES_EXPORTERS = frozenset({"none", "console", "otlp"})
METRICS_EXPORTERS = frozenset({"none", "console", "otlp", "prometheus"})
LOGS_EXPORTERS = frozenset({"none", "console", "otlp"})
SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)
PROTOCOLS = frozenset({"grpc", "http/protobuf"})
COMPRESSIONS = frozenset({"none", "gzip", "deflate"})
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


# -- parsers: (raw env string or argument) -> typed value; raise ValueError(reason) ----------


def _as_str(value: object, *, from_env: bool) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value.strip() if from_env else value


def _nonempty_str(value: object, *, from_env: bool) -> str:
    text = _as_str(value, from_env=from_env)
    if not text.strip():
        raise ValueError("must not be empty")
    if len(text) > 1024:
        raise ValueError("must be at most 1024 characters")
    return text


def _optional_str(value: object, *, from_env: bool) -> str | None:
    if value is None:
        return None
    text = _as_str(value, from_env=from_env)
    return text or None


def _bool(value: object, *, from_env: bool) -> bool:
    if isinstance(value, bool):
        return value
    if from_env and isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("must be true or false")
    raise TypeError("must be a bool")


def _int(minimum: int, maximum: int = 2**31 - 1) -> Callable[..., int]:
    def parse(value: object, *, from_env: bool) -> int:
        if from_env and isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise ValueError("must be an integer") from None
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise TypeError("must be an int")
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return number

    return parse


def _optional_int(minimum: int, maximum: int = 2**31 - 1) -> Callable[..., int | None]:
    inner = _int(minimum, maximum)

    def parse(value: object, *, from_env: bool) -> int | None:
        if value is None or (from_env and isinstance(value, str) and not value.strip()):
            return None
        return inner(value, from_env=from_env)

    return parse


def _ratio(value: object, *, from_env: bool) -> float | None:
    if value is None:
        return None
    if from_env and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("must be a number between 0.0 and 1.0") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise TypeError("must be a float")
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError("must be between 0.0 and 1.0")
    return number


def _choice(choices: frozenset[str]) -> Callable[..., str]:
    def parse(value: object, *, from_env: bool) -> str:
        text = _as_str(value, from_env=from_env).strip().lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(sorted(choices))}")
        return text

    return parse


def _optional_choice(choices: frozenset[str]) -> Callable[..., str | None]:
    inner = _choice(choices)

    def parse(value: object, *, from_env: bool) -> str | None:
        if value is None or (from_env and isinstance(value, str) and not value.strip()):
            return None
        return inner(value, from_env=from_env)

    return parse


def _exporters(choices: frozenset[str]) -> Callable[..., tuple[str, ...]]:
    def parse(value: object, *, from_env: bool) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            items = [part.strip().lower() for part in value.split(",")]
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = []
            for part in value:
                if not isinstance(part, str):
                    raise TypeError("must be a comma-separated string or a list of names")
                items.append(part.strip().lower())
        else:
            raise TypeError("must be a comma-separated string or a list of names")
        names = [item for item in items if item]
        unknown = [item for item in names if item not in choices]
        if unknown:
            raise ValueError(
                f"unknown exporter {unknown[0]!r}; choose from {', '.join(sorted(choices))}"
            )
        if "none" in names:
            return ()
        return tuple(dict.fromkeys(names))

    return parse


_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-/:@]+$")


def _mapping(value: object, *, from_env: bool) -> Mapping[str, str]:
    """``k=v,k2=v2`` (values percent-decoded, W3C baggage style) or a mapping."""
    if value is None:
        return MappingProxyType({})
    result: dict[str, str] = {}
    if isinstance(value, str):
        for raw in value.split(","):
            if not raw.strip():
                continue
            key, sep, val = raw.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"entry {raw.strip()!r} is not key=value")
            result[unquote(key)] = unquote(val.strip())
    elif isinstance(value, Mapping):
        for key, val in value.items():
            if not isinstance(key, str) or not key:
                raise TypeError("keys must be non-empty strings")
            if not isinstance(val, (str, bool, int, float)):
                raise TypeError(f"value of {key!r} must be a string")
            result[key] = str(val)
    else:
        raise TypeError("must be a mapping or a 'key=value,...' string")
    for key, val in result.items():
        for text in (key, val):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("keys and values must be valid UTF-8 text") from None
    return MappingProxyType(result)


def _endpoint(value: object, *, from_env: bool) -> str | None:
    text = _optional_str(value, from_env=from_env)
    if text is None:
        return None
    if any(ch.isspace() for ch in text):
        raise ValueError("must be a URL such as http://127.0.0.1:4317 (no spaces)")
    parts = urlsplit(text if "://" in text else f"http://{text}")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be a URL such as http://127.0.0.1:4317")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return text if "://" in text else f"http://{text}"


def _scrubbing(value: object, *, from_env: bool) -> object:
    if from_env and isinstance(value, str):
        return _bool(value, from_env=True)
    if isinstance(value, (bool, ScrubbingOptions)):
        return value
    if isinstance(value, Mapping):
        return ScrubbingOptions(**value)
    raise TypeError("must be True, False, a ScrubbingOptions or a mapping of its fields")


def _sampling(value: object, *, from_env: bool) -> object:
    if from_env:
        raise ValueError("cannot be set from the environment")
    if value is None or isinstance(value, SamplingOptions):
        return value
    if isinstance(value, Mapping):
        return SamplingOptions(**value)
    raise TypeError("must be None, a SamplingOptions or a mapping of its fields")


_INSTRUMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$")


def _cardinality_limits(value: object, *, from_env: bool) -> Mapping[str, int]:
    """Instrument name -> cardinality limit; ``name=500,other=100`` from the environment."""
    if value is None:
        return MappingProxyType({})
    pairs: list[tuple[object, object]]
    if isinstance(value, str):
        pairs = []
        for raw in value.split(","):
            if not raw.strip():
                continue
            name, sep, val = raw.partition("=")
            if not sep:
                raise ValueError(f"entry {raw.strip()!r} is not name=limit")
            try:
                pairs.append((name.strip(), int(val.strip())))
            except ValueError:
                raise ValueError(f"limit of {name.strip()!r} must be an integer") from None
    elif isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        raise TypeError("must be a mapping of instrument name to limit or 'name=limit,...'")
    result: dict[str, int] = {}
    for key, limit in pairs:
        if not isinstance(key, str) or not _INSTRUMENT_NAME.match(key):
            raise ValueError(f"{key!r} is not an instrument name (no wildcards)")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000_000:
            raise ValueError(f"limit of {key!r} must be an integer between 1 and 10000000")
        result[key.lower()] = limit  # instrument names are case-insensitive
    return MappingProxyType(result)


@dataclass(frozen=True)
class OptionSpec:
    """How one option is read: argument name, environment variables, parser, default."""

    name: str
    env: tuple[str, ...]
    parse: Callable[..., Any]
    default: Any
    help: str


def _spec(
    name: str, env: str | tuple[str, ...], parse: Callable[..., Any], default: Any, help_text: str
) -> OptionSpec:
    envs = (env,) if isinstance(env, str) else env
    return OptionSpec(name, envs, parse, default, help_text)


_OTLP = "OTEL_EXPORTER_OTLP"
# One option per entry reads best as a table, so the formatter leaves it alone.
# fmt: off
OPTIONS: tuple[OptionSpec, ...] = (
    _spec("service_name", "OTEL_SERVICE_NAME", _nonempty_str, "unknown_service",
          "`service.name` resource attribute"),
    _spec("service_version", "FLEXT_OTEL_SERVICE_VERSION", _optional_str, None,
          "`service.version` resource attribute"),
    _spec("environment", "FLEXT_OTEL_ENVIRONMENT", _optional_str, None,
          "`deployment.environment.name` resource attribute"),
    _spec("resource_attributes", "OTEL_RESOURCE_ATTRIBUTES", _mapping, MappingProxyType({}),
          "extra resource attributes (`k=v,k2=v2`)"),
    _spec("traces_exporter", "OTEL_TRACES_EXPORTER", _exporters(TRACES_EXPORTERS), (),
          "span exporters besides the store: `none`, `console`, `otlp`"),
    _spec("metrics_exporter", "OTEL_METRICS_EXPORTER", _exporters(METRICS_EXPORTERS), (),
          "metric exporters besides the store: `none`, `console`, `otlp`, `prometheus`"),
    _spec("logs_exporter", "OTEL_LOGS_EXPORTER", _exporters(LOGS_EXPORTERS), (),
          "log exporters besides the store: `none`, `console`, `otlp`"),
    _spec("otlp_endpoint", f"{_OTLP}_ENDPOINT", _endpoint, None,
          "OTLP base endpoint (default http://localhost:4317 for gRPC, :4318 for HTTP)"),
    _spec("otlp_protocol", f"{_OTLP}_PROTOCOL", _choice(PROTOCOLS), "grpc",
          "OTLP protocol: `grpc` or `http/protobuf`"),
    _spec("otlp_headers", f"{_OTLP}_HEADERS", _mapping, MappingProxyType({}),
          "OTLP request headers (`k=v,...`)"),
    _spec("otlp_compression", f"{_OTLP}_COMPRESSION", _optional_choice(COMPRESSIONS), None,
          "OTLP compression: `gzip`, `deflate` or `none`"),
    _spec("otlp_timeout_ms", f"{_OTLP}_TIMEOUT", _int(1, 600_000), 10_000,
          "OTLP export timeout in milliseconds"),
    _spec("otlp_insecure", f"{_OTLP}_INSECURE", _bool, False,
          "gRPC without TLS even for an https endpoint"),
    *(
        spec
        for signal in SIGNALS
        for spec in (
            _spec(f"otlp_{signal}_endpoint", f"{_OTLP}_{signal.upper()}_ENDPOINT", _endpoint, None,
                  f"OTLP endpoint for {signal} (full URL; overrides the base endpoint)"),
            _spec(
                f"otlp_{signal}_protocol",
                f"{_OTLP}_{signal.upper()}_PROTOCOL",
                _optional_choice(PROTOCOLS),
                None,
                f"OTLP protocol for {signal}",
            ),
            _spec(
                f"otlp_{signal}_headers",
                f"{_OTLP}_{signal.upper()}_HEADERS",
                _mapping,
                MappingProxyType({}),
                f"OTLP headers for {signal}, merged over the base ones",
            ),
            _spec(
                f"otlp_{signal}_compression",
                f"{_OTLP}_{signal.upper()}_COMPRESSION",
                _optional_choice(COMPRESSIONS),
                None,
                f"OTLP compression for {signal}",
            ),
            _spec(
                f"otlp_{signal}_timeout_ms",
                f"{_OTLP}_{signal.upper()}_TIMEOUT",
                _optional_int(1, 600_000),
                None,
                f"OTLP timeout for {signal} (ms)",
            ),
            _spec(
                f"otlp_{signal}_insecure",
                f"{_OTLP}_{signal.upper()}_INSECURE",
                _optional_choice(frozenset({"true", "false"})),
                None,
                f"gRPC insecure flag for {signal}",
            ),
        )
    ),
    _spec("sampler", "OTEL_TRACES_SAMPLER", _choice(SAMPLERS), "parentbased_always_on",
          "head sampler"),
    _spec("sampler_arg", "OTEL_TRACES_SAMPLER_ARG", _ratio, None,
          "ratio for the `traceidratio` samplers (0.0 to 1.0)"),
    _spec("bsp_schedule_delay_ms", "OTEL_BSP_SCHEDULE_DELAY", _int(1, 3_600_000), 1_000,
          "span batch: delay between exports (ms)"),
    _spec("bsp_max_queue_size", "OTEL_BSP_MAX_QUEUE_SIZE", _int(1, 10_000_000), 20_480,
          "span batch: queue bound (spans); beyond it spans are dropped and counted"),
    _spec("bsp_max_export_batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", _int(1, 100_000), 512,
          "span batch: spans per export request"),
    _spec("bsp_export_timeout_ms", "OTEL_BSP_EXPORT_TIMEOUT", _int(1, 3_600_000), 30_000,
          "span batch: deadline of one export (ms)"),
    _spec("blrp_schedule_delay_ms", "OTEL_BLRP_SCHEDULE_DELAY", _int(1, 3_600_000), 1_000,
          "log batch: delay between exports (ms)"),
    _spec("blrp_max_queue_size", "OTEL_BLRP_MAX_QUEUE_SIZE", _int(1, 10_000_000), 20_480,
          "log batch: queue bound (records)"),
    _spec("blrp_max_export_batch_size", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", _int(1, 100_000), 512,
          "log batch: records per export request"),
    _spec("blrp_export_timeout_ms", "OTEL_BLRP_EXPORT_TIMEOUT", _int(1, 3_600_000), 30_000,
          "log batch: deadline of one export (ms)"),
    _spec("metric_export_interval_ms", "OTEL_METRIC_EXPORT_INTERVAL", _int(1, 86_400_000), 60_000,
          "push metric readers: interval between exports (ms)"),
    _spec("metric_export_timeout_ms", "OTEL_METRIC_EXPORT_TIMEOUT", _int(1, 3_600_000), 30_000,
          "push metric readers: deadline of one export (ms)"),
    _spec("sdk_disabled", "OTEL_SDK_DISABLED", _bool, False,
          "install working no-op telemetry instead of the SDK"),
    _spec("prometheus_host", "OTEL_EXPORTER_PROMETHEUS_HOST", _nonempty_str, "127.0.0.1",
          "host of the `/metrics` server started for the `prometheus` exporter"),
    _spec("prometheus_port", "OTEL_EXPORTER_PROMETHEUS_PORT", _optional_int(0, 65_535), None,
          "port of that server (default 9464 when the `prometheus` exporter is selected)"),
    _spec("store_capacity", "FLEXT_OTEL_STORE_CAPACITY", _int(1, 10_000_000), 10_000,
          "in-memory store: items kept per signal"),
    *(
        _spec(
            f"store_{signal}_capacity",
            f"FLEXT_OTEL_STORE_{signal.upper()}_CAPACITY",
            _optional_int(1, 10_000_000),
            None,
            f"in-memory store: {signal} kept (default: `store_capacity`)",
        )
        for signal in ("spans", "logs", "alerts", "health")
    ),
    _spec(
        "attribute_value_length_limit",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        _int(1, 100_000_000),
        8_192,
        "longest attribute value kept (longer ones truncated)",
    ),
    _spec("attribute_count_limit", "OTEL_ATTRIBUTE_COUNT_LIMIT", _int(0, 100_000), 128,
          "attributes kept per span, event, link and log record"),
    _spec(
        "span_attribute_count_limit",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        _optional_int(0, 100_000),
        None,
        "attributes per span (default: attribute_count_limit)",
    ),
    _spec("span_event_count_limit", "OTEL_SPAN_EVENT_COUNT_LIMIT", _int(0, 100_000), 128,
          "events per span"),
    _spec("span_link_count_limit", "OTEL_SPAN_LINK_COUNT_LIMIT", _int(0, 100_000), 128,
          "links per span"),
    _spec(
        "metric_cardinality_limit",
        "FLEXT_OTEL_METRIC_CARDINALITY_LIMIT",
        _int(1, 10_000_000),
        2_000,
        "attribute sets per instrument before overflow",
    ),
    _spec(
        "metric_cardinality_limits",
        "FLEXT_OTEL_METRIC_CARDINALITY_LIMITS",
        _cardinality_limits,
        MappingProxyType({}),
        "per-instrument overrides of that limit (`name=limit,...`)",
    ),
    _spec("logging", "FLEXT_OTEL_LOGGING", _bool, False,
          "attach FlextLoggingHandler to the root logger"),
    _spec(
        "logging_level",
        "FLEXT_OTEL_LOGGING_LEVEL",
        _choice(frozenset({"debug", "info", "warning", "error", "critical"})),
        "info",
        "level of that handler",
    ),
    _spec("http_token", "FLEXT_OTEL_HTTP_TOKEN", _optional_str, None,
          "bearer token required by the HTTP endpoints when set"),
    _spec("install_globals", (), _bool, True,
          "install flext's proxy providers as the OTel globals"),
    _spec("signal_handlers", "FLEXT_OTEL_SIGNAL_HANDLERS", _bool, True,
          "flush on SIGTERM/SIGINT where safe (main thread; chains to existing handlers)"),
    _spec("scrubbing", "FLEXT_OTEL_SCRUBBING", _scrubbing, True,
          "secret scrubbing: True, False or a ScrubbingOptions"),
    _spec("sampling", (), _sampling, None,
          "rate limit and tail sampling: a SamplingOptions (or a mapping of its fields)"),
)
# fmt: on
OPTIONS_BY_NAME: Mapping[str, OptionSpec] = MappingProxyType({s.name: s for s in OPTIONS})


@dataclass(frozen=True)
class FlextOtelOptions:
    """The resolved, validated startup options; each field is described in :data:`OPTIONS`."""

    service_name: str = "unknown_service"
    service_version: str | None = None
    environment: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    traces_exporter: tuple[str, ...] = ()
    metrics_exporter: tuple[str, ...] = ()
    logs_exporter: tuple[str, ...] = ()
    otlp_endpoint: str | None = None
    otlp_protocol: str = "grpc"
    otlp_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    otlp_compression: str | None = None
    otlp_timeout_ms: int = 10_000
    otlp_insecure: bool = False
    otlp_traces_endpoint: str | None = None
    otlp_traces_protocol: str | None = None
    otlp_traces_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    otlp_traces_compression: str | None = None
    otlp_traces_timeout_ms: int | None = None
    otlp_traces_insecure: str | None = None
    otlp_metrics_endpoint: str | None = None
    otlp_metrics_protocol: str | None = None
    otlp_metrics_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    otlp_metrics_compression: str | None = None
    otlp_metrics_timeout_ms: int | None = None
    otlp_metrics_insecure: str | None = None
    otlp_logs_endpoint: str | None = None
    otlp_logs_protocol: str | None = None
    otlp_logs_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    otlp_logs_compression: str | None = None
    otlp_logs_timeout_ms: int | None = None
    otlp_logs_insecure: str | None = None
    sampler: str = "parentbased_always_on"
    sampler_arg: float | None = None
    bsp_schedule_delay_ms: int = 1_000
    bsp_max_queue_size: int = 20_480
    bsp_max_export_batch_size: int = 512
    bsp_export_timeout_ms: int = 30_000
    blrp_schedule_delay_ms: int = 1_000
    blrp_max_queue_size: int = 20_480
    blrp_max_export_batch_size: int = 512
    blrp_export_timeout_ms: int = 30_000
    metric_export_interval_ms: int = 60_000
    metric_export_timeout_ms: int = 30_000
    sdk_disabled: bool = False
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int | None = None
    store_capacity: int = 10_000
    store_spans_capacity: int | None = None
    store_logs_capacity: int | None = None
    store_alerts_capacity: int | None = None
    store_health_capacity: int | None = None
    attribute_value_length_limit: int = 8_192
    attribute_count_limit: int = 128
    span_attribute_count_limit: int | None = None
    span_event_count_limit: int = 128
    span_link_count_limit: int = 128
    metric_cardinality_limit: int = 2_000
    metric_cardinality_limits: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    logging: bool = False
    logging_level: str = "info"
    http_token: str | None = None
    install_globals: bool = True
    signal_handlers: bool = True
    scrubbing: Any = True
    sampling: Any = None

    def replace(self, **changes: Any) -> FlextOtelOptions:
        """A copy with ``changes`` applied (validated like arguments)."""
        parsed = {name: _parse_argument(name, value) for name, value in changes.items()}
        return dataclasses.replace(self, **parsed)

    # -- derived views ----------------------------------------------------
    def capacity(self, signal: str) -> int:
        """Store capacity for ``spans``, ``logs``, ``alerts`` or ``health``."""
        specific = getattr(self, f"store_{signal}_capacity")
        return int(specific if specific is not None else self.store_capacity)

    def otlp(self, signal: str) -> OtlpOptions:
        """Effective OTLP settings for one signal (per-signal values win)."""
        v = self.values()
        protocol = v[f"otlp_{signal}_protocol"] or v["otlp_protocol"]
        endpoint = v[f"otlp_{signal}_endpoint"]
        per_signal_url = endpoint is not None
        if endpoint is None:
            base = v["otlp_endpoint"] or (
                "http://localhost:4317" if protocol == "grpc" else "http://localhost:4318"
            )
            endpoint = base.rstrip("/") + ("" if protocol == "grpc" else f"/v1/{signal}")
        headers = {**v["otlp_headers"], **v[f"otlp_{signal}_headers"]}
        insecure_flag = v[f"otlp_{signal}_insecure"]
        insecure = v["otlp_insecure"] if insecure_flag is None else insecure_flag == "true"
        if endpoint.startswith("http://"):
            insecure = True
        compression = v[f"otlp_{signal}_compression"] or v["otlp_compression"]
        timeout = v[f"otlp_{signal}_timeout_ms"] or v["otlp_timeout_ms"]
        return OtlpOptions(
            signal=signal,
            endpoint=endpoint,
            protocol=protocol,
            headers=MappingProxyType(headers),
            compression=None if compression in (None, "none") else compression,
            timeout_ms=int(timeout),
            insecure=bool(insecure),
            per_signal_url=per_signal_url,
        )

    def values(self) -> dict[str, Any]:
        """Every option by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self, *, mask_secrets: bool = True) -> dict[str, Any]:
        """Plain values, header values and tokens masked unless told otherwise."""
        return {name: _plain(name, value, mask_secrets) for name, value in self.values().items()}


def _plain(name: str, value: Any, mask_secrets: bool) -> Any:
    if mask_secrets and value and (name.endswith("headers") or name == "http_token"):
        if isinstance(value, Mapping):
            return {key: mask(str(val)) for key, val in value.items()}
        return mask(str(value))
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return repr(value)
    return value


def mask(secret: str) -> str:
    """A secret reduced to a fixed marker that reveals nothing of it."""
    return "****" if secret else ""


def _parse_argument(name: str, value: Any) -> Any:
    spec = OPTIONS_BY_NAME.get(name)
    if spec is None:
        close = [s.name for s in OPTIONS if s.name.startswith(name[:4])][:3]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown option {name!r}{hint}")
    try:
        return spec.parse(value, from_env=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"option {name}={_shown(value)}: {exc}") from None


def resolve_options(
    *, environ: Mapping[str, str] | None = None, **arguments: Any
) -> FlextOtelOptions:
    """Resolve every option: argument, else environment, else default.

    Raises :class:`ConfigError` for an unknown option or a bad value; the message
    names the argument or environment variable and the value.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, value in arguments.items():
        values[name] = _parse_argument(name, value)
    for spec in OPTIONS:
        if spec.name in values:
            continue
        for var in spec.env:
            raw = env.get(var)
            if raw is None:
                continue
            try:
                values[spec.name] = spec.parse(raw, from_env=True)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{var}={_shown(raw)}: {exc}") from None
            break
        else:
            values[spec.name] = spec.default
    options = FlextOtelOptions(**values)
    _check_consistency(options)
    return options


def _check_consistency(options: FlextOtelOptions) -> None:
    # (a traceidratio sampler without OTEL_TRACES_SAMPLER_ARG is fine: the ratio defaults to 1.0)
    if options.bsp_max_export_batch_size > options.bsp_max_queue_size:
        raise ConfigError(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE "
            f"({options.bsp_max_export_batch_size} > {options.bsp_max_queue_size})"
        )


def option_names() -> tuple[str, ...]:
    """Every accepted ``configure()`` keyword."""
    return tuple(spec.name for spec in OPTIONS)


__all__ = [
    "OPTIONS",
    "REDACTED",
    "ConfigError",
    "FlextOtelOptions",
    "OptionSpec",
    "OtlpOptions",
    "SamplingOptions",
    "ScrubbingOptions",
    "option_names",
    "resolve_options",
]
