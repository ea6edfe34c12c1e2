"""Options of the guardrails: secret scrubbing and sampling beyond the head sampler.

Both are frozen dataclasses validated on creation; a bad value raises
:class:`~flext_otel.support.errors.ConfigError` naming the option.

Imports: the standard library and ``flext_otel.support``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from flext_otel.support.errors import ConfigError
from flext_otel.support.errors import shown as _shown

REDACTED = "[REDACTED]"


def _finite(name: str, value: object, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"option {name}={_shown(value)}: must be a number")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"option {name}={_shown(value)}: must be a finite number >= 0")
    return number


def _count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"option {name}={_shown(value)}: must be an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class ScrubbingOptions:
    """How secrets are scrubbed from spans and log records (see ``flext_otel.guardrails``).

    ``extra_patterns``: regular expressions (searched case-insensitively) that mark
    a key as sensitive, or a part of a string value as a secret.
    ``allow_keys``: exact attribute keys that are never scrubbed.
    ``callback(key, value)``: called with each scrubbed item's original value; a
    returned value replaces the redaction, ``None`` keeps it; a callback that
    raises leaves the value redacted and is counted.
    ``replacement``: the text put in place of a secret.

    Invalid values raise :class:`ConfigError` naming the option, e.g.
    ``scrubbing.extra_patterns``.
    """

    extra_patterns: Sequence[str] = ()
    allow_keys: Collection[str] = frozenset()
    callback: Callable[[str, Any], Any] | None = None
    replacement: str = REDACTED

    def __post_init__(self) -> None:
        patterns = self.extra_patterns
        if isinstance(patterns, str) or not isinstance(patterns, (list, tuple, set, frozenset)):
            raise ConfigError(
                f"option scrubbing.extra_patterns={_shown(patterns)}: must be a list of regexes"
            )
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern:
                raise ConfigError(
                    f"option scrubbing.extra_patterns={_shown(pattern)}: "
                    "each pattern must be a non-empty string"
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    f"option scrubbing.extra_patterns={_shown(pattern)}: invalid regex ({exc})"
                ) from None
        object.__setattr__(self, "extra_patterns", tuple(patterns))
        keys = self.allow_keys
        if isinstance(keys, str) or not isinstance(keys, (list, tuple, set, frozenset)):
            raise ConfigError(f"option scrubbing.allow_keys={_shown(keys)}: must be a list of keys")
        if not all(isinstance(key, str) for key in keys):
            raise ConfigError(f"option scrubbing.allow_keys={_shown(keys)}: keys must be strings")
        object.__setattr__(self, "allow_keys", frozenset(keys))
        if self.callback is not None and not callable(self.callback):
            raise ConfigError(
                f"option scrubbing.callback={_shown(self.callback)}: must be callable or None"
            )
        if not isinstance(self.replacement, str) or len(self.replacement) > 64:
            raise ConfigError(
                f"option scrubbing.replacement={_shown(self.replacement)}: "
                "must be a string of at most 64 characters"
            )


@dataclass(frozen=True)
class SamplingOptions:
    """Sampling beyond the head sampler (see ``flext_otel.guardrails``).

    ``max_traces_per_second``: at most this many new root traces per second
    (token bucket; children follow their parent); ``None`` for no limit.
    ``tail``: buffer each trace until its local root ends (or
    ``decision_wait_ms`` passes), then keep it whole when it has an error
    (``keep_errors``), when its root took at least ``slow_threshold_ms``, or
    when its trace ID falls in ``background_ratio``; else drop it whole.
    ``max_buffered_spans`` bounds the buffer; what it evicts is counted as
    ``sampled_out``.

    Invalid values raise :class:`ConfigError` naming the option, e.g.
    ``sampling.max_traces_per_second``.
    """

    max_traces_per_second: float | None = None
    tail: bool = False
    keep_errors: bool = True
    slow_threshold_ms: float | None = None
    background_ratio: float = 0.0
    max_buffered_spans: int = 10_000
    decision_wait_ms: int = 5_000

    def __post_init__(self) -> None:
        _finite("sampling.max_traces_per_second", self.max_traces_per_second, allow_none=True)
        _finite("sampling.slow_threshold_ms", self.slow_threshold_ms, allow_none=True)
        ratio = _finite("sampling.background_ratio", self.background_ratio)
        if ratio is None or ratio > 1.0:
            raise ConfigError(
                f"option sampling.background_ratio={_shown(self.background_ratio)}: "
                "must be between 0.0 and 1.0"
            )
        _count("sampling.max_buffered_spans", self.max_buffered_spans)
        _count("sampling.decision_wait_ms", self.decision_wait_ms)
        for name in ("tail", "keep_errors"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"option sampling.{name}: must be a bool")
