"""``flext-otel check``'s OpenTelemetry version report."""

from __future__ import annotations

import io

from flext_otel.cli.main import _check_versions
from flext_otel.cli.versions import installed_otel, version_mismatches

PINS = {
    "opentelemetry-sdk": [
        "opentelemetry-api==1.45.2",
        "opentelemetry-semantic-conventions==0.66b2",
    ],
    "opentelemetry-semantic-conventions": ["opentelemetry-api==1.45.1"],
    "opentelemetry-instrumentation-flask": [
        "opentelemetry-api~=1.12",
        "opentelemetry-instrumentation==0.66b1",
        "flask>=1.0; extra == 'instruments'",
    ],
}


def _requires(name: str) -> list[str]:
    return PINS.get(name, [])


def test_a_mixed_set_is_reported_pin_by_pin() -> None:
    """An SDK pinning api 1.45.2 next to api 1.45.1 is named, with both versions."""
    installed = {
        "opentelemetry-api": "1.45.1",
        "opentelemetry-sdk": "1.45.2",
        "opentelemetry-semantic-conventions": "0.66b1",
        "opentelemetry-instrumentation-flask": "0.66b1",
        "opentelemetry-instrumentation": "0.66b1",
    }
    problems = version_mismatches(installed, _requires)
    assert problems == [
        "opentelemetry-sdk 1.45.2 needs opentelemetry-api==1.45.2, but 1.45.1 is installed",
        "opentelemetry-sdk 1.45.2 needs opentelemetry-semantic-conventions==0.66b2, "
        "but 0.66b1 is installed",
        "opentelemetry-api 1.45.1 and opentelemetry-sdk 1.45.2 differ",
    ]


def test_a_consistent_set_has_no_mismatch() -> None:
    """Matching pins (and ranges, extras and absent packages) report nothing."""
    installed = {
        "opentelemetry-api": "1.45.1",
        "opentelemetry-sdk": "1.45.1",
        "opentelemetry-instrumentation-flask": "0.66b1",
        "opentelemetry-instrumentation": "0.66b1",
    }
    pins = dict(PINS, **{"opentelemetry-sdk": ["opentelemetry-api==1.45.1"]})
    assert version_mismatches(installed, lambda n: pins.get(n, [])) == []


def test_this_environment_is_listed_and_consistent() -> None:
    """The test environment's own OpenTelemetry packages are listed and agree."""
    installed = installed_otel()
    assert "opentelemetry-sdk" in installed
    out = io.StringIO()
    assert _check_versions(out) is False
    assert f"opentelemetry-sdk {installed['opentelemetry-sdk']}" in out.getvalue()
