"""The public surface: __all__, import direction and no side effects at import."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import flext_otel

PACKAGE = Path(flext_otel.__file__).parent

# Imports point DOWN this list only (design section 4). Each entry is a sub-package
# or a top-level module of flext_otel; a module may import its own package too.
LAYERS = [
    "cli",
    "integrations",
    "testing",
    "hub",
    "web",
    "api",
    "instrument",
    "pipeline",
    "export",
    "guardrails",
    "store",
    "support",
    "domain",
]
OTEL_FREE = {"domain"}


def layer_of(path: Path, package: Path = PACKAGE) -> str:
    """The layer a file of the package belongs to (its sub-package or module name)."""
    relative = path.relative_to(package)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path: Path) -> set[str]:
    """Every absolute module name imported by ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "flext_otel":  # ``from flext_otel import pipeline``
                found.update(f"flext_otel.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def direction_problems(package: Path, layers: list[str]) -> list[str]:
    """Imports that point up (or sideways into the package ``__init__``) in ``package``."""
    rank = {name: i for i, name in enumerate(layers)}
    problems = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "__init__.py":
            continue
        me = layer_of(path, package)
        for module in imported(path):
            parts = module.split(".")
            if parts[0] != package.name:
                if me in OTEL_FREE and parts[0] == "opentelemetry":
                    problems.append(f"{path.relative_to(package)} imports {module}")
                continue
            if len(parts) == 1:
                problems.append(f"{path.relative_to(package)} imports the package __init__")
                continue
            target = parts[1]
            if target not in rank or target == me:
                continue
            if rank[target] < rank[me]:
                problems.append(f"{path.relative_to(package)} ({me}) imports {module}")
    return problems


def test_every_module_has_a_layer() -> None:
    """Each sub-package and top-level module of the package is placed in the order."""
    placed = {layer_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert placed <= set(LAYERS), placed - set(LAYERS)


def test_imports_point_down_only() -> None:
    """No package imports one above it, nothing imports the package __init__,
    and ``domain`` imports no OpenTelemetry."""
    assert direction_problems(PACKAGE, LAYERS) == []


def test_direction_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The check fails when a lower package imports a higher one, or domain imports OTel."""
    root = tmp_path / "flext_otel"
    for pkg, source in {
        "store": "from flext_otel.pipeline.sdk import FlextOtel\n",
        "domain": "import opentelemetry.trace\n",
        "pipeline": "from flext_otel.store import TelemetryStore\n",
    }.items():
        (root / pkg).mkdir(parents=True)
        (root / pkg / "mod.py").write_text(source, encoding="utf-8")
    (root / "__init__.py").write_text("", encoding="utf-8")
    assert direction_problems(root, LAYERS) == [
        "domain/mod.py imports opentelemetry.trace",
        "store/mod.py (store) imports flext_otel.pipeline.sdk",
    ]


def test_all_names_exist() -> None:
    """Every name in __all__ is importable from the package."""
    missing = [name for name in flext_otel.__all__ if not hasattr(flext_otel, name)]
    assert missing == []


def test_design_contract_names_are_public() -> None:
    """The contract's core names are exported."""
    for name in ("FlextResult", "configure", "FlextOtel", "ShutdownReport", "SpanRecord"):
        assert name in flext_otel.__all__


def test_import_has_no_side_effects() -> None:
    """Importing the package starts no thread, binds no port and sets no OTel global."""
    code = textwrap.dedent(
        """
        import threading
        from opentelemetry import trace, metrics
        import flext_otel, flext_otel.testing, flext_otel.cli
        assert threading.active_count() == 1, threading.enumerate()
        assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider" and \\
            trace.get_tracer_provider().__module__.startswith("opentelemetry")
        print("clean")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_py_typed_is_shipped() -> None:
    """The package ships py.typed for type checkers."""
    assert (PACKAGE / "py.typed").exists()
