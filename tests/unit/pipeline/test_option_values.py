"""Every option parser's refusals and accepted forms, through resolve_options (argument and env)."""

from __future__ import annotations

from typing import Any

import pytest

from flext_otel.pipeline.options import (
    ConfigError,
    SamplingOptions,
    ScrubbingOptions,
    option_names,
    resolve_options,
)


class Opaque:
    """A value no parser accepts."""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"service_name": "x" * 1025}, "at most 1024 characters"),
        ({"service_name": "   "}, "must not be empty"),
        ({"service_name": 5}, "must be a string"),
        ({"service_name": "bad \ud800"}, "valid UTF-8"),
        ({"logging": 1}, "must be a bool"),
        ({"store_capacity": True}, "must be an int"),
        ({"store_capacity": 0}, "between 1 and"),
        ({"sampler_arg": "0.5"}, "must be a float"),
        ({"sampler_arg": 1.5}, "between 0.0 and 1.0"),
        ({"sampler_arg": float("nan")}, "between 0.0 and 1.0"),
        ({"sampler": "sometimes"}, "must be one of"),
        ({"traces_exporter": ["otlp", 3]}, "comma-separated string or a list"),
        ({"traces_exporter": 3}, "comma-separated string or a list"),
        ({"traces_exporter": "kafka"}, "unknown exporter 'kafka'"),
        ({"resource_attributes": {"": "x"}}, "non-empty strings"),
        ({"resource_attributes": {"k": Opaque()}}, "value of 'k' must be a string"),
        ({"resource_attributes": 5}, "mapping or a 'key=value,...' string"),
        ({"resource_attributes": {"k": "bad \udc80"}}, "valid UTF-8"),
        ({"otlp_endpoint": "http://a b:4317"}, "no spaces"),
        ({"otlp_endpoint": "ftp://collector"}, "must be a URL"),
        ({"otlp_endpoint": "http://collector:99999"}, "invalid port"),
        ({"scrubbing": 5}, "ScrubbingOptions"),
        ({"sampling": 5}, "SamplingOptions"),
        ({"metric_cardinality_limits": 5}, "mapping of instrument name"),
        ({"metric_cardinality_limits": {"http.*": 5}}, "not an instrument name"),
        ({"metric_cardinality_limits": {"orders": 0}}, "between 1 and 10000000"),
        ({"metric_cardinality_limits": {"orders": True}}, "between 1 and 10000000"),
    ],
)
def test_bad_arguments_name_the_option_and_the_reason(
    arguments: dict[str, Any], message: str
) -> None:
    """A bad configure() argument is a ConfigError naming the option and why."""
    name = next(iter(arguments))
    with pytest.raises(ConfigError, match=rf"option {name}=.*{message}"):
        resolve_options(environ={}, **arguments)


def test_unknown_option_suggests_close_names() -> None:
    """A misspelt keyword is refused with the options it may have meant."""
    with pytest.raises(ConfigError, match="unknown option 'servce_name'; did you mean service_"):
        resolve_options(environ={}, servce_name="x")
    with pytest.raises(ConfigError, match=r"unknown option 'zzz'$"):
        resolve_options(environ={}, zzz=1)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "must be a number between 0.0 and 1.0"),
        ({"FLEXT_OTEL_STORE_CAPACITY": "many"}, "must be an integer"),
        ({"FLEXT_OTEL_LOGGING": "maybe"}, "must be true or false"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team"}, "entry 'team' is not key=value"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "=x"}, "is not key=value"),
        ({"FLEXT_OTEL_METRIC_CARDINALITY_LIMITS": "orders"}, "is not name=limit"),
        ({"FLEXT_OTEL_METRIC_CARDINALITY_LIMITS": "orders=lots"}, "must be an integer"),
        ({"FLEXT_OTEL_SCRUBBING": "perhaps"}, "must be true or false"),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "must be one of"),
    ],
)
def test_bad_environment_values_name_the_variable(environ: dict[str, str], message: str) -> None:
    """A bad environment value is a ConfigError naming the variable, the value and why."""
    variable = next(iter(environ))
    with pytest.raises(ConfigError, match=rf"{variable}=.*{message}"):
        resolve_options(environ=environ)


def test_environment_forms_are_parsed() -> None:
    """Lists skip empty entries, values are percent-decoded, blanks mean unset."""
    options = resolve_options(
        environ={
            "OTEL_RESOURCE_ATTRIBUTES": "team=pay%20ments,, region = eu ",
            "FLEXT_OTEL_METRIC_CARDINALITY_LIMITS": "Orders=5,,latency=7",
            "FLEXT_OTEL_SCRUBBING": "false",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317",
            "FLEXT_OTEL_STORE_SPANS_CAPACITY": " ",
            "OTEL_EXPORTER_OTLP_COMPRESSION": "",
            "OTEL_TRACES_EXPORTER": "console, none",
            "FLEXT_OTEL_LOGGING": " Yes ",
        }
    )
    assert dict(options.resource_attributes) == {"team": "pay ments", "region": "eu"}
    assert dict(options.metric_cardinality_limits) == {"orders": 5, "latency": 7}
    assert options.scrubbing is False
    assert options.otlp_endpoint == "http://collector:4317"
    assert options.store_spans_capacity is None
    assert options.capacity("spans") == options.store_capacity
    assert options.otlp_compression is None
    assert options.traces_exporter == ()  # "none" wins over the others
    assert options.logging is True


def test_argument_forms_are_parsed() -> None:
    """Mappings become SamplingOptions/ScrubbingOptions, lists are deduplicated."""
    options = resolve_options(
        environ={},
        scrubbing={"allow_keys": frozenset({"user.id"})},
        sampling={},
        traces_exporter=["console", "CONSOLE"],
        resource_attributes={"replicas": 3, "canary": True},
        metric_cardinality_limits={"Orders": 9},
        sampler_arg=1,
    )
    assert isinstance(options.sampling, SamplingOptions)
    assert isinstance(options.scrubbing, ScrubbingOptions)
    assert options.scrubbing.allow_keys == frozenset({"user.id"})
    assert options.traces_exporter == ("console",)
    assert dict(options.resource_attributes) == {"replicas": "3", "canary": "True"}
    assert dict(options.metric_cardinality_limits) == {"orders": 9}
    assert options.sampler_arg == 1.0
    assert resolve_options(environ={}, sampling=None).sampling is None
    given = SamplingOptions()
    assert resolve_options(environ={}, sampling=given).sampling is given


def test_sampling_cannot_come_from_the_environment() -> None:
    """The sampling option has no variable: only configure(sampling=...) sets it."""
    assert "sampling" in option_names()
    assert resolve_options(environ={"FLEXT_OTEL_SAMPLING": "x"}).sampling is None


@pytest.mark.parametrize("sampler", ["traceidratio", "parentbased_traceidratio", "always_on"])
def test_a_batch_larger_than_its_queue_is_refused_whatever_the_sampler(sampler: str) -> None:
    """OTEL_BSP_MAX_EXPORT_BATCH_SIZE above the queue size is refused, ratio sampler or not."""
    with pytest.raises(ConfigError, match="must not exceed OTEL_BSP_MAX_QUEUE_SIZE"):
        resolve_options(
            environ={
                "OTEL_TRACES_SAMPLER": sampler,
                "OTEL_BSP_MAX_QUEUE_SIZE": "10",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20",
            }
        )


def test_to_dict_masks_secrets_and_keeps_plain_values() -> None:
    """to_dict() masks tokens and header values, and shows other objects by repr."""
    options = resolve_options(
        environ={},
        http_token="t0ken",
        otlp_headers={"api-key": "k3y"},
        sampling=SamplingOptions(),
        traces_exporter="console",
    )
    shown = options.to_dict()
    assert shown["http_token"] == "****"
    assert shown["otlp_headers"] == {"api-key": "****"}
    assert shown["traces_exporter"] == ["console"]
    assert shown["sampling"].startswith("SamplingOptions(")
    raw = options.to_dict(mask_secrets=False)
    assert raw["http_token"] == "t0ken"
    assert raw["otlp_headers"] == {"api-key": "k3y"}
