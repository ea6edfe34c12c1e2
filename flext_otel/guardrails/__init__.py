"""Guardrails: secret scrubbing, sampling beyond the head sampler, limits, metric cardinality.

``scrubbing`` states the exact scrubbing rules (pure key/value logic plus its OTel
glue), ``sampling`` the rate limit and tail sampling, ``facade`` the per-pipeline
:class:`Guardrails` and the metric cardinality guard.

Imports: ``store``, ``support`` and ``domain``; the OpenTelemetry SDK.
"""

from flext_otel.guardrails import facade as _facade
from flext_otel.guardrails.facade import *  # noqa: F403  # the package's names are the facade's

__all__ = list(_facade.__all__)
