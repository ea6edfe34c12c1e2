"""Errors shared by every layer, and how a bad value is shown in a message.

Imports: the standard library only.
"""

from __future__ import annotations

_MAX_SHOWN = 80


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the option and the value."""


def shown(value: object) -> str:
    """``repr(value)``, cut to a length that fits in one error message."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
