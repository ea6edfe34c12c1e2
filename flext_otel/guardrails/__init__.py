"""Guardrails: secret scrubbing, sampling beyond the head sampler, limits, metric cardinality.

``scrubbing`` states the exact scrubbing rules (pure key/value logic plus its OTel
glue), ``sampling`` the rate limit and tail sampling, ``facade`` the per-pipeline
:class:`Guardrails` and the metric cardinality guard.

Imports: ``store``, ``support`` and ``domain``; the OpenTelemetry SDK.
"""

from flext_otel.guardrails.facade import (
    OVERFLOW_ATTRIBUTE,
    QUALIFIERS,
    REDACTED,
    SCRUBBED_KEYS_ATTRIBUTE,
    SENSITIVE_PAIRS,
    SENSITIVE_WORDS,
    CardinalityGuard,
    GuardLogProcessor,
    GuardrailCounters,
    Guardrails,
    RateLimitingSampler,
    SamplingOptions,
    Scrubber,
    ScrubbingOptions,
    TailSamplingProcessor,
    TransformingSpanExporter,
    guardrails_for,
    key_is_sensitive,
    key_words,
    looks_like_card_number,
    make_span_transform,
    scrub_attributes,
)

__all__ = [
    "OVERFLOW_ATTRIBUTE",
    "QUALIFIERS",
    "REDACTED",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "CardinalityGuard",
    "GuardLogProcessor",
    "GuardrailCounters",
    "Guardrails",
    "RateLimitingSampler",
    "SamplingOptions",
    "Scrubber",
    "ScrubbingOptions",
    "TailSamplingProcessor",
    "TransformingSpanExporter",
    "guardrails_for",
    "key_is_sensitive",
    "key_words",
    "looks_like_card_number",
    "make_span_transform",
    "scrub_attributes",
]
