"""The public surface: __all__, import direction and no side effects at import."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import flext_otel

PACKAGE = Path(flext_otel.__file__).parent

# Imports point DOWN this list only (design section 4); private helper modules
# sit next to the module that owns them.
LAYERS = [
    "__init__",
    "cli",
    "distro",
    "testing",
    "_otlp_receiver",
    "api",
    "http",
    "liveview",
    "decorators",
    "logs",
    "providers",
    "proxies",
    "guardrails",
    "scrubbing",
    "sampling",
    "batch",
    "spanpack",
    "processors",
    "exporters",
    "adapters",
    "store",
    "correlation",
    "config",
    "entities",
    "result",
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "flext_otel":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("flext_otel."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("flext_otel."):
                    found.add(alias.name.split(".")[1])
                elif alias.name == "flext_otel":
                    found.add("__init__")
    return found


def test_every_module_has_a_layer() -> None:
    """Each module of the package is placed in the dependency order."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules <= set(LAYERS), modules - set(LAYERS)


def test_imports_point_down_only() -> None:
    """No module imports one above it, and nothing imports the package __init__."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    problems = []
    for path in PACKAGE.glob("*.py"):
        me = path.stem
        for target in _imports(path):
            if target not in rank:
                continue
            if target == "__init__" or rank[target] <= rank[me]:
                problems.append(f"{me} imports {target}")
    assert problems == []


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
