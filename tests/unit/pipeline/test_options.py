"""Options: argument > OTEL_* environment > default, and clear errors for bad values."""

from __future__ import annotations

import dataclasses

import pytest

from flext_otel.pipeline.options import OPTIONS, FlextOtelOptions, resolve_options
from flext_otel.support.errors import ConfigError


def test_every_option_is_a_field() -> None:
    """The option table and the options dataclass describe the same names."""
    assert [f.name for f in dataclasses.fields(FlextOtelOptions)] == [s.name for s in OPTIONS]


def test_defaults_without_environment() -> None:
    """With no arguments and no environment every option has its documented default."""
    opts = resolve_options(environ={})
    assert opts.service_name == "unknown_service"
    assert opts.traces_exporter == ()
    assert opts.metrics_exporter == ()
    assert opts.sampler == "parentbased_always_on"
    assert opts.store_capacity == 10_000
    assert opts.capacity("spans") == 10_000
    assert opts.attribute_value_length_limit == 8_192
    assert opts.sdk_disabled is False


def test_environment_beats_default_and_argument_beats_environment() -> None:
    """Precedence is argument, then environment, then default."""
    env = {"OTEL_SERVICE_NAME": "from-env", "FLEXT_OTEL_STORE_CAPACITY": "50"}
    opts = resolve_options(environ=env)
    assert opts.service_name == "from-env"
    assert opts.store_capacity == 50
    opts = resolve_options(environ=env, service_name="from-arg", store_capacity=7)
    assert opts.service_name == "from-arg"
    assert opts.store_capacity == 7


def test_standard_variables_are_honoured() -> None:
    """The standard OTEL_* variables map onto options."""
    env = {
        "OTEL_RESOURCE_ATTRIBUTES": "team=pay,region=eu%2Dwest",
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cret,x-team=pay",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "x-logs=1",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0",
        "OTEL_EXPORTER_PROMETHEUS_PORT": "9999",
        "FLEXT_OTEL_STORE_SPANS_CAPACITY": "123",
    }
    opts = resolve_options(environ=env)
    assert dict(opts.resource_attributes) == {"team": "pay", "region": "eu-west"}
    assert opts.traces_exporter == ("otlp", "console")
    assert opts.metrics_exporter == ("prometheus",)
    assert opts.logs_exporter == ()
    assert opts.sampler == "parentbased_traceidratio"
    assert opts.sampler_arg == 0.25
    assert opts.bsp_max_queue_size == 4096
    assert opts.bsp_schedule_delay_ms == 200
    assert opts.sdk_disabled is True
    assert (opts.prometheus_host, opts.prometheus_port) == ("0.0.0.0", 9999)
    assert opts.capacity("spans") == 123
    assert opts.capacity("logs") == 10_000
    traces = opts.otlp("traces")
    assert traces.endpoint == "http://traces:4318/v1/traces"
    assert traces.protocol == "http/protobuf"
    metrics = opts.otlp("metrics")
    assert metrics.endpoint == "http://collector:4317/v1/metrics"
    assert dict(metrics.headers) == {"api-key": "s3cret", "x-team": "pay"}
    assert dict(opts.otlp("logs").headers)["x-logs"] == "1"


def test_secrets_are_masked_in_the_printable_view() -> None:
    """to_dict masks header values and the HTTP token."""
    opts = resolve_options(
        environ={"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer abc"}, http_token="t0ken"
    )
    shown = opts.to_dict()
    assert "abc" not in repr(shown)
    assert "t0ken" not in repr(shown)
    assert shown["otlp_headers"] == {"authorization": "****"}


@pytest.mark.parametrize(
    ("env", "variable", "value"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER", "zipkin"),
        ({"OTEL_METRICS_EXPORTER": "otlp,statsd"}, "OTEL_METRICS_EXPORTER", "statsd"),
        ({"OTEL_LOGS_EXPORTER": "prometheus"}, "OTEL_LOGS_EXPORTER", "prometheus"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.7"}, "OTEL_TRACES_SAMPLER_ARG", "1.7"),
        ({"OTEL_TRACES_SAMPLER_ARG": "nan"}, "OTEL_TRACES_SAMPLER_ARG", "nan"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER", "sometimes"),
        ({"OTEL_EXPORTER_PROMETHEUS_PORT": "abc"}, "OTEL_EXPORTER_PROMETHEUS_PORT", "abc"),
        ({"OTEL_EXPORTER_PROMETHEUS_PORT": "70000"}, "OTEL_EXPORTER_PROMETHEUS_PORT", "70000"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ({"OTEL_BSP_MAX_QUEUE_SIZE": "-5"}, "OTEL_BSP_MAX_QUEUE_SIZE", "-5"),
        ({"OTEL_SDK_DISABLED": "maybe"}, "OTEL_SDK_DISABLED", "maybe"),
        ({"FLEXT_OTEL_STORE_CAPACITY": "0"}, "FLEXT_OTEL_STORE_CAPACITY", "0"),
        ({"FLEXT_OTEL_STORE_LOGS_CAPACITY": "many"}, "FLEXT_OTEL_STORE_LOGS_CAPACITY", "many"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_environment_value_names_variable_and_value(
    env: dict[str, str], variable: str, value: str
) -> None:
    """A bad environment value raises ConfigError naming the variable and the value."""
    with pytest.raises(ConfigError) as info:
        resolve_options(environ=env)
    message = str(info.value)
    assert variable in message
    assert value in message


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("service_name", ""),
        ("service_name", 42),
        ("service_name", "bad\ud800name"),
        ("store_capacity", "10"),
        ("store_capacity", True),
        ("store_capacity", -1),
        ("sampler_arg", 1.7),
        ("sampler_arg", float("inf")),
        ("traces_exporter", ["otlp", 3]),
        ("traces_exporter", "jaeger"),
        ("prometheus_port", "abc"),
        ("resource_attributes", {"k": object()}),
        ("sdk_disabled", "yes-please"),
        ("otlp_endpoint", "not a url"),
    ],
)
def test_bad_argument_names_option(argument: str, value: object) -> None:
    """A bad argument raises ConfigError naming the option."""
    with pytest.raises(ConfigError, match=argument):
        resolve_options(environ={}, **{argument: value})


def test_unknown_option_is_rejected() -> None:
    """A misspelt option is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="unknown option 'servce_name'"):
        resolve_options(environ={}, servce_name="x")


def test_batch_size_cannot_exceed_queue() -> None:
    """The export batch must fit in the queue."""
    with pytest.raises(ConfigError, match="OTEL_BSP_MAX_EXPORT_BATCH_SIZE"):
        resolve_options(environ={}, bsp_max_queue_size=10, bsp_max_export_batch_size=20)


def test_exporter_none_disables_and_duplicates_collapse() -> None:
    """'none' disables a signal's exporters and duplicates are removed."""
    assert resolve_options(environ={"OTEL_TRACES_EXPORTER": "otlp,none"}).traces_exporter == ()
    assert resolve_options(environ={}, traces_exporter="otlp, otlp").traces_exporter == ("otlp",)


def test_otlp_defaults_per_protocol() -> None:
    """Without an endpoint, gRPC and HTTP get their standard local endpoints."""
    grpc = resolve_options(environ={}).otlp("traces")
    assert grpc.endpoint == "http://localhost:4317"
    assert grpc.insecure
    http = resolve_options(environ={}, otlp_protocol="http/protobuf").otlp("logs")
    assert http.endpoint == "http://localhost:4318/v1/logs"


def test_replace_validates() -> None:
    """replace() applies validated changes."""
    opts = resolve_options(environ={})
    assert opts.replace(store_capacity=5).store_capacity == 5
    with pytest.raises(ConfigError):
        opts.replace(store_capacity=0)
