"""Effective settings of one OTLP exporter, resolved from the pipeline's options.

Imports: the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class OtlpOptions:
    """Effective OTLP exporter settings for one signal."""

    signal: str
    endpoint: str
    protocol: str
    headers: Mapping[str, str]
    compression: str | None
    timeout_ms: int
    insecure: bool
    per_signal_url: bool = False
