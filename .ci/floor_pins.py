"""Print pip requirements pinning every OpenTelemetry package at its lowest allowed version.

Reads ``pyproject.toml`` (dependencies and every extra) and turns each
``opentelemetry-*>=X`` into ``opentelemetry-*==X``, one per line, for
``pip install -e '.[all,test]' $(python .ci/floor_pins.py)`` and ``nox -s floor``.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

_LOWER = re.compile(r"^(opentelemetry-[A-Za-z0-9_.\-]+)\s*>=\s*([^,;\s]+)")


def floor_pins(pyproject: Path) -> list[str]:
    """``name==lowest`` for every OpenTelemetry requirement with a lower bound."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = _LOWER.match(requirement.strip())
        if match:
            name, version = match.group(1).lower(), match.group(2)
            pins.setdefault(name, version)  # the project states one floor per package
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(floor_pins(root / "pyproject.toml")))
    sys.exit(0)
