"""OpenTelemetry auto-instrumentation hooks: a configurator and a distro.

``opentelemetry-instrument python app.py`` with ``OTEL_PYTHON_CONFIGURATOR=flext_otel``
(or ``OTEL_PYTHON_DISTRO=flext_otel``) sets up flext-otel's pipelines, store and
guardrails from the standard ``OTEL_*`` variables, exactly like ``configure()``.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import (  # type: ignore[attr-defined]  # untyped package
    BaseDistro,
)


class FlextConfigurator:
    """The ``opentelemetry_configurator`` entry point: runs ``flext_otel.configure()``."""

    def configure(self, **kwargs: Any) -> None:
        """Called once by auto-instrumentation before instrumentors load."""
        from flext_otel.api import configure

        configure()


class FlextDistro(BaseDistro):  # type: ignore[misc]  # the base class ships untyped
    """The ``opentelemetry_distro`` entry point.

    Chooses flext's configurator unless another one is named, so selecting the
    distro alone is enough.
    """

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_PYTHON_CONFIGURATOR", "flext_otel")


__all__ = ["FlextConfigurator", "FlextDistro"]
