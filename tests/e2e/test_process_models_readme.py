"""The README's "Running under gunicorn, uvicorn, celery, multiprocessing" section shows
exactly the recipes that tests/e2e/test_process_models.py runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_process_models import APPS, COMMANDS

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Running under gunicorn, uvicorn, celery, multiprocessing"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("app", sorted(p.name for p in APPS.glob("*.py")))
def test_every_tested_app_is_a_readme_block(app: str) -> None:
    """Each app file the e2e tests serve appears, whole and unchanged, as a python block."""
    blocks = re.findall(r"```python\n(.*?)```", _section(), flags=re.S)
    assert (APPS / app).read_text(encoding="utf-8") in blocks


@pytest.mark.parametrize("command", COMMANDS)
def test_every_tested_command_is_in_a_readme_block(command: str) -> None:
    """Each command the e2e tests run appears in a shell block of the section."""
    blocks = re.findall(r"```sh\n(.*?)```", _section(), flags=re.S)
    assert any(command in block for block in blocks)
