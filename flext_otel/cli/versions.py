"""Installed OpenTelemetry distributions and the version mismatches between them.

pip can leave a mixed set behind (``pip install`` of a contrib instrumentation
that pins ``opentelemetry-api==1.45.1`` next to an SDK that pins ``==1.45.2``):
the process may then fail at import or run with mismatched parts. ``flext-otel
check`` prints :func:`version_mismatches`.

Imports: the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from importlib import metadata

_PREFIX = "opentelemetry-"
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*==\s*([^\s,;]+)\s*(?:;(.*))?$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_otel() -> dict[str, str]:
    """``{distribution name: version}`` of every installed ``opentelemetry-*`` package."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = _normal(dist.metadata["Name"] or "")
        if name.startswith(_PREFIX):
            found[name] = dist.version
    return dict(sorted(found.items()))


def _requires(name: str) -> list[str]:
    try:
        return list(metadata.requires(name) or [])
    except metadata.PackageNotFoundError:
        return []


def version_mismatches(
    installed: Mapping[str, str] | None = None,
    requires: Callable[[str], list[str]] = _requires,
) -> list[str]:
    """One sentence per broken pin between installed OpenTelemetry packages, and
    ``opentelemetry-api`` and ``-sdk`` at different versions."""
    found = dict(installed) if installed is not None else installed_otel()
    problems: list[str] = []
    for name, version in found.items():
        for requirement in requires(name):
            match = _PIN.match(requirement)
            if match is None or (match.group(3) and "extra" in match.group(3)):
                continue
            dep, pinned = _normal(match.group(1)), match.group(2)
            have = found.get(dep)
            if dep.startswith(_PREFIX) and have is not None and have != pinned:
                problems.append(f"{name} {version} needs {dep}=={pinned}, but {have} is installed")
    api, sdk = found.get("opentelemetry-api"), found.get("opentelemetry-sdk")
    if api and sdk and api != sdk:
        problems.append(f"opentelemetry-api {api} and opentelemetry-sdk {sdk} differ")
    return problems


__all__ = ["installed_otel", "version_mismatches"]
