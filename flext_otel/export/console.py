"""The console span exporter: each finished trace printed as an indented tree.

Imports: ``store`` (span records and trees); the OpenTelemetry SDK.

Threading: ``export`` may run on any thread; the pending traces are guarded by
one lock and printing happens outside it. A closed stream is ignored.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from flext_otel.store.reading import span_record_from
from flext_otel.store.records import SpanRecord
from flext_otel.store.trees import build_tree

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


# -- console ----------------------------------------------------------------


class ConsoleTreeSpanExporter(SpanExporter):
    """Prints each finished trace as an indented tree: time, name, duration, status.

    Spans wait (bounded: at most ``max_pending`` traces) until their trace's
    local root ends; :meth:`force_flush` and :meth:`shutdown` print what is
    pending. Colour is used only when the stream is a TTY and ``NO_COLOR`` is unset.
    """

    def __init__(
        self, stream: TextIO | None = None, *, max_pending: int = 1_000, colour: bool | None = None
    ) -> None:
        self._stream = stream
        self._pending: OrderedDict[int, list[SpanRecord]] = OrderedDict()
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._colour = colour
        self._stopped = False

    @property
    def stream(self) -> TextIO:
        """The output stream (standard output unless given)."""
        return self._stream if self._stream is not None else sys.stdout

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Collect spans; print every trace whose root has ended."""
        if self._stopped:
            return SpanExportResult.FAILURE
        ready: list[list[SpanRecord]] = []
        with self._lock:
            for span in spans:
                record = span_record_from(span)
                bucket = self._pending.setdefault(record.trace_id_int, [])
                bucket.append(record)
                parent = span.parent
                if parent is None or parent.is_remote:
                    ready.append(self._pending.pop(record.trace_id_int))
            while len(self._pending) > self._max_pending:
                ready.append(self._pending.popitem(last=False)[1])
        for records in ready:
            self._print(records)
        return SpanExportResult.SUCCESS

    def _print(self, records: list[SpanRecord]) -> None:
        text = render_trace(records, colour=self._use_colour())
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed stream: nothing sensible to do
            return

    def _use_colour(self) -> bool:
        if self._colour is not None:
            return self._colour
        try:
            return self.stream.isatty() and "NO_COLOR" not in os.environ
        except (AttributeError, ValueError):
            return False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Print every pending (incomplete) trace."""
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
        for records in pending:
            self._print(records)
        return True

    def shutdown(self) -> None:
        """Print what is pending and stop (idempotent)."""
        if not self._stopped:
            self.force_flush()
            self._stopped = True


_RESET, _RED, _GREEN, _DIM = "\x1b[0m", "\x1b[31m", "\x1b[32m", "\x1b[2m"


def render_trace(records: Sequence[SpanRecord], *, colour: bool = False) -> str:
    """One trace as text: a header line and an indented line per span."""
    if not records:
        return ""
    out = io.StringIO()
    roots = build_tree(records)
    first = min(r.start_time_ns for r in records)
    out.write(f"trace {records[0].trace_id}\n")
    for root in roots:
        for depth, span in root.walk():
            offset_ms = (span.start_time_ns - first) / 1e6
            status = span.status
            if colour:
                tint = _RED if status == "error" else _GREEN if status == "ok" else _DIM
                status = f"{tint}{status}{_RESET}"
            name = span.name.replace("\n", "\\n").replace("\x1b", "\\x1b")
            out.write(
                f"  {'  ' * depth}{'└─ ' if depth else ''}{name}  "
                f"+{offset_ms:.1f}ms  {span.duration_ms:.2f}ms  [{status}]\n"
            )
    return out.getvalue()


__all__ = ["ConsoleTreeSpanExporter", "build_tree", "render_trace"]
