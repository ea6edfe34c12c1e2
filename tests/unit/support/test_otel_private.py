"""Private OpenTelemetry names are imported in support/otel_private.py only, each with a
note naming the public API it waits for."""

from __future__ import annotations

import ast
from pathlib import Path

import flext_otel

PACKAGE = Path(flext_otel.__file__).parent
PRIVATE_MODULE = PACKAGE / "support" / "otel_private.py"


def private_imports(path: Path) -> list[str]:
    """``module:name`` of every private OpenTelemetry module or name ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
            module = node.module or ""
            private_module = any(part.startswith("_") for part in module.split("."))
            for alias in node.names:
                if private_module or (alias.name.startswith("_") and not alias.name.endswith("__")):
                    found.append(f"{module}:{alias.name}")
        elif isinstance(node, ast.Import):
            found.extend(
                alias.name
                for alias in node.names
                if alias.name.startswith("opentelemetry")
                and any(part.startswith("_") for part in alias.name.split("."))
            )
    return found


def test_private_otel_names_are_imported_in_one_module() -> None:
    """No module but otel_private imports a private OpenTelemetry module or name."""
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PRIVATE_MODULE and (names := private_imports(path))
    }
    assert offenders == {}
    assert private_imports(PRIVATE_MODULE)


def test_every_private_import_says_what_it_waits_for() -> None:
    """Each private import in otel_private sits under a 'Waits for:' note."""
    lines = PRIVATE_MODULE.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and private_imports_of(node):
            above = "\n".join(lines[max(node.lineno - 12, 0) : node.lineno])
            body = "\n".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno) + 12])
            assert "Waits for" in above or "Waits for" in body, ast.unparse(node)


def private_imports_of(node: ast.ImportFrom) -> bool:
    """True when ``node`` imports a private OpenTelemetry module or name."""
    module = node.module or ""
    if not module.startswith("opentelemetry"):
        return False
    if any(part.startswith("_") for part in module.split(".")):
        return True
    return any(a.name.startswith("_") and not a.name.endswith("__") for a in node.names)
