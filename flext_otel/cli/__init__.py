"""``flext-otel`` command line: ``demo``, ``check``, ``serve`` and ``run``.

Imports: anything in the package (the top layer).
"""

from flext_otel.cli.main import main

__all__ = ["main"]
