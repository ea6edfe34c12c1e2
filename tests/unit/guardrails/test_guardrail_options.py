"""ScrubbingOptions and SamplingOptions refuse bad values with a ConfigError naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from flext_otel.guardrails.options import SamplingOptions, ScrubbingOptions
from flext_otel.support.errors import ConfigError


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"extra_patterns": "a+"}, "extra_patterns=.*must be a list of regexes"),
        ({"extra_patterns": ["ok", ""]}, "each pattern must be a non-empty string"),
        ({"extra_patterns": ["(unclosed"]}, "invalid regex"),
        ({"allow_keys": "password"}, "allow_keys=.*must be a list of keys"),
        ({"allow_keys": ["ok", 3]}, "keys must be strings"),
        ({"callback": "not callable"}, "callback=.*must be callable or None"),
        ({"replacement": "x" * 65}, "replacement=.*at most 64 characters"),
        ({"replacement": None}, "replacement=.*must be a string"),
    ],
)
def test_scrubbing_options_refuse_bad_fields(fields: dict[str, Any], message: str) -> None:
    """Each bad ScrubbingOptions field is a ConfigError naming scrubbing.<field>."""
    with pytest.raises(ConfigError, match=rf"option scrubbing\..*{message}"):
        ScrubbingOptions(**fields)


def test_scrubbing_options_normalise_collections() -> None:
    """Patterns become a tuple and allowed keys a frozenset, whatever collection came in."""
    options = ScrubbingOptions(extra_patterns=["a+", "b+"], allow_keys={"user.id"})
    assert options.extra_patterns == ("a+", "b+")
    assert options.allow_keys == frozenset({"user.id"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_traces_per_second": "10"}, "max_traces_per_second=.*must be a number"),
        ({"max_traces_per_second": True}, "must be a number"),
        ({"max_traces_per_second": -1}, "must be a finite number >= 0"),
        ({"slow_threshold_ms": float("inf")}, "slow_threshold_ms=.*finite number"),
        ({"background_ratio": 1.5}, "background_ratio=.*between 0.0 and 1.0"),
        ({"background_ratio": None}, "background_ratio=.*must be a number"),
        ({"max_buffered_spans": 0}, "max_buffered_spans"),
        ({"decision_wait_ms": 2.5}, "decision_wait_ms"),
        ({"tail": "yes"}, "tail: must be a bool"),
        ({"keep_errors": 1}, "keep_errors: must be a bool"),
    ],
)
def test_sampling_options_refuse_bad_fields(fields: dict[str, Any], message: str) -> None:
    """Each bad SamplingOptions field is a ConfigError naming sampling.<field>."""
    with pytest.raises(ConfigError, match=rf"sampling\..*{message}"):
        SamplingOptions(**fields)


def test_sampling_options_accept_the_documented_ranges() -> None:
    """Zero rates, no limit and the ratio bounds are valid."""
    assert SamplingOptions(max_traces_per_second=0).max_traces_per_second == 0
    assert SamplingOptions(max_traces_per_second=None, background_ratio=1.0).tail is False
    assert SamplingOptions(tail=True, slow_threshold_ms=250.0).slow_threshold_ms == 250.0
