"""Docs never drift: the README's configuration table, code blocks and every docstring example.

Run ``python tests/test_docs.py --update`` to regenerate the README's option table.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- options:start -->", "<!-- options:end -->"


def _default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return "`" + ",".join(value) + "`" if value else "none (store only)"
    if hasattr(value, "items"):
        return "empty" if not dict(value) else f"`{dict(value)}`"  # type: ignore[call-overload]
    return f"`{value}`"


def options_table() -> str:
    """The README's configuration table, generated from ``flext_otel.config.OPTIONS``."""
    from flext_otel.pipeline.options import OPTIONS

    rows = [
        "| option (`configure()` keyword) | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for spec in OPTIONS:
        env = ", ".join(f"`{name}`" for name in spec.env) or "—"
        rows.append(f"| `{spec.name}` | {env} | {_default(spec.default)} | {spec.help} |")
    return "\n".join(rows)


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_readme_configuration_table_matches_code() -> None:
    """The README lists every option with its variable and default, exactly as the code has them."""
    assert _readme_table() == options_table(), "run: python tests/test_docs.py --update"


def _python_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_starts_with_the_two_commands() -> None:
    """The README's first two fenced shell blocks install+demo and install+test; .ci/run runs
    the second one verbatim."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert "flext-otel demo" in blocks[0]
    assert "pip install -e '.[all,test]' && pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert blocks[1].strip() in ci


def _live_view_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Live view", 1)[1].split("\n## ", 1)[0]


def test_readme_public_routes_are_exactly_the_unguarded_ones() -> None:
    """With a token, the routes the README calls public answer without one and every other
    route the README names answers 401; the ?token= link is swapped for an HttpOnly,
    SameSite=Strict cookie on a redirect to an address without the token."""
    import http.client

    from flext_otel.testing import capture
    from flext_otel.web import liveview
    from flext_otel.web.server import register_route, serve_http

    claim = re.search(r"public routes: (.*?)\*\*", _live_view_section())
    assert claim is not None, "the README must list the public routes"
    public = re.findall(r"`(/[^`]*)`", claim.group(1))
    assert public == ["/", "/index.html", "/static/*"]
    named = set(re.findall(r"`(/[a-z_/{}.*]*)`", README.read_text(encoding="utf-8")))
    guarded = sorted(named - set(public) - {"/api/*"})
    assert {"/metrics", "/health", "/ready", "/api/traces", "/api/logs"} <= set(guarded)

    def get(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response
        finally:
            conn.close()

    undo = register_route("GET", "/", liveview.route, public=liveview.is_public)
    try:
        with capture() as cap, serve_http(cap.otel, port=0, token="tok") as server:
            port = server.port
            for path in public:
                concrete = path.replace("*", "app.js")
                assert get(port, concrete).status == 200, path
            for path in guarded:
                concrete = path.replace("{trace_id}", "ab" * 16)
                assert get(port, concrete).status == 401, path
                bearer = get(port, concrete, {"Authorization": "Bearer tok"})
                assert bearer.status != 401, path
            link = get(port, "/?token=tok")
            assert (link.status, link.getheader("Location")) == (303, "/")
            cookie = link.getheader("Set-Cookie") or ""
            assert "HttpOnly" in cookie
            assert "SameSite=Strict" in cookie
            assert "tok;" not in cookie
            assert get(port, "/api/traces", {"Cookie": cookie.split(";")[0]}).status == 200
    finally:
        undo()


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_block_runs(index: int, tmp_path: Path) -> None:
    """Each README python block runs as written (its test functions are called too)."""
    code = _python_blocks()[index]
    runner = code + textwrap.dedent(
        """

        for _name, _fn in list(globals().items()):
            if _name.startswith("test_") and callable(_fn):
                _fn()
        print("block ok")
        """
    )
    script = tmp_path / "block.py"
    script.write_text(runner, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "block ok" in result.stdout


def test_docstring_examples_run() -> None:
    """Every docstring example in the package passes doctest."""
    code = textwrap.dedent(
        """
        import doctest, importlib, pkgutil, sys
        import flext_otel
        failed = attempted = 0
        for info in pkgutil.walk_packages(flext_otel.__path__, "flext_otel."):
            if info.name.endswith(".__main__"):  # importing it would run the CLI
                continue
            module = importlib.import_module(info.name)
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
            failed += result.failed
            attempted += result.attempted
        module = importlib.import_module("flext_otel")
        result = doctest.testmod(module)
        print(attempted + result.attempted, failed + result.failed)
        sys.exit(1 if failed + result.failed else 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    attempted = int(result.stdout.split()[-2])
    assert attempted >= 60  # every sub-package's examples, not only the top level's


if __name__ == "__main__":
    if "--update" in sys.argv:
        text = README.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{options_table()}\n{END}{tail}", encoding="utf-8")
        print("README option table updated")


def test_readme_performance_table_is_generated_from_the_results() -> None:
    """The README's performance block is exactly what readme_table.py renders from
    benchmarks/results.md (run: python benchmarks/run.py --readme)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import readme_table
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    readme = README.read_text(encoding="utf-8")
    results = (ROOT / "benchmarks" / "results.md").read_text(encoding="utf-8")
    block = readme_table.current(readme)
    assert block, "README.md lost its benchmarks:start/end markers"
    assert block == readme_table.render(results), "run: python benchmarks/run.py --readme"
    assert "over runs" not in readme  # no range without a source
