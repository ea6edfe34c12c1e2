"""Live view: a JSON API and a small web UI over the in-memory store.

:func:`handle` answers the live view's routes and returns ``None`` for any other
path, so the HTTP server (``flext_otel.web.server``) can put it in front of its own
routes. Every route is ``GET`` (``HEAD`` too); the server applies its token check
before calling it.

==========================  ==================================================
route                       answer
==========================  ==================================================
``/``                       the web UI (``static/index.html``)
``/static/<file>``          the UI's stylesheet and script
``/api/traces``             most recent traces, newest first
``/api/traces/{trace_id}``  every span of one trace, depth-first, with depth
``/api/logs``               log records, newest first
``/api/metrics``            each instrument with its latest points
``/api/health``             health, components, pipeline counters, store buffers
``/api/instances``          the processes that sent telemetry, with counts
==========================  ==================================================

``/api/traces``, ``/api/logs`` and ``/api/metrics`` also take ``service`` and
``instance`` (a resource's ``service.name`` and ``service.instance.id``): only
records sent by that service or process. In the hub (``flext-otel serve``)
``/api/instances`` lists every instance that reported; in-process, the process.

List routes take ``limit`` (default 100, at most 1,000: larger values are
capped) and ``before``: either a time in nanoseconds since the epoch (only older
items are listed: traces that started, log records emitted, strictly before it)
or the opaque ``next_before`` of the previous page (``null`` on the last page).
Filters: ``name`` (a trace with a span whose name contains it, ignoring case),
``status`` (``error``: any span of the trace failed; ``ok``: none did) and
``correlation_id`` on traces; ``min_level`` (a level name or a severity number
0-24), ``q`` (text in the body, ignoring case), ``trace_id`` and
``correlation_id`` on logs. An empty parameter counts as absent; unknown
parameters are ignored.

Answers are JSON. Strings are raw (telemetry is attacker-controlled: escaping
is the page's job, and the page builds its DOM from text nodes only); numbers
that JSON cannot carry (NaN, infinities) are the strings ``"NaN"``, ``"+Inf"``
and ``"-Inf"``. Bad input is a 400 with ``{"error": ...}``, an unknown trace a
404, another method a 405.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import resources
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, unquote

from flext_otel.pipeline.state import (
    current,
)
from flext_otel.web import owners

if TYPE_CHECKING:
    from flext_otel.pipeline.sdk import (
        FlextOtel,
    )
    from flext_otel.store.index import TraceFilter
    from flext_otel.store.telemetry import LogRecordView, MetricPoint, SpanRecord

_logger = logging.getLogger("flext_otel.web.liveview")

Response = tuple[int, dict[str, str], bytes]
"""``(status, headers, body)`` as the HTTP server writes it."""

Query = str | Mapping[str, str | Sequence[str]] | None

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000
MAX_PARAMS = 32
API_PREFIX = "/api/"
STATIC_PREFIX = "/static/"

_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_TRACE_CURSOR = re.compile(r"([0-9]{1,19})(?:\.([0-9a-f]{32}))?")
_LOG_CURSOR = re.compile(r"([0-9]{1,19})(?:\.([0-9]{1,9}))?")
_LEVEL_NAMES = ((21, "fatal"), (17, "error"), (13, "warn"), (9, "info"), (5, "debug"), (1, "trace"))
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SHELL = ("/", "/index.html")
_static_cache: dict[str, bytes] = {}


class _BadRequest(Exception):
    """Input the client got wrong: answered with 400 and the message."""


class _NotFound(Exception):
    """A well-formed request for something that does not exist: 404."""


# -- entry point ------------------------------------------------------------


def handle(
    method: str, path: str, query: Query = None, otel: FlextOtel | None = None
) -> Response | None:
    """Answer a live-view request, or ``None`` when ``path`` is not the live view's.

    ``path`` is the request path without the query string (percent-encoded or
    not); ``query`` the raw query string or parsed parameters; ``otel`` the
    pipeline to show (default: the current one). A ``HEAD`` answer carries the
    ``GET`` body (the server leaves it out). Never raises.
    """
    target = _route(path)
    if target is None:
        return None
    if method not in ("GET", "HEAD"):
        status, headers, body = _error(405, f"method {method[:16]!r} not allowed")
        headers["Allow"] = "GET, HEAD"
        return status, headers, body
    try:
        status, headers, body = target(_params(query), otel if otel is not None else current())
    except _BadRequest as exc:
        status, headers, body = _error(400, str(exc))
    except _NotFound as exc:
        status, headers, body = _error(404, str(exc))
    except Exception:
        _logger.exception("live view: %s failed", path[:200])
        status, headers, body = _error(500, "internal error")
    return status, headers, body


class Request(Protocol):
    """What :func:`route` reads from a request (``flext_otel.http.RequestInfo`` fits)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def otel(self) -> FlextOtel: ...


def route(request: Request) -> Response:
    """A route handler for the HTTP server's registry (register it for ``GET /``).

    Paths the live view does not know are a 404.
    """
    answer = handle(request.method, request.path, request.query, request.otel)
    if answer is None:
        return _error(404, f"nothing at {request.path[:200]}")
    return answer


def is_live_view_path(path: str) -> bool:
    """True when :func:`handle` answers ``path`` (the UI, its files and ``/api/*``)."""
    return _route(path) is not None


def is_public(method: str, path: str) -> bool:
    """True for the UI shell (``/``, ``/index.html``, ``/static/*``), which holds no telemetry.

    A server with a token serves these without one, so a browser can load the
    page and show its token field; ``/api/*`` stays protected. The page itself
    never holds the token: ``/?token=...`` is exchanged by the server for a
    session cookie (see ``flext_otel.web.auth``).
    """
    return method in ("GET", "HEAD") and (path in _SHELL or path.startswith(STATIC_PREFIX))


Handler = Callable[[dict[str, str], "FlextOtel"], Response]


def _route(path: str) -> Handler | None:
    if path in _SHELL:
        return lambda params, otel: _static("index.html")
    if path.startswith(STATIC_PREFIX):
        name = path[len(STATIC_PREFIX) :]
        return lambda params, otel: _static(name)
    if path == "/api" or path.startswith(API_PREFIX):
        rest = path[len(API_PREFIX) :].rstrip("/") if path != "/api" else ""
        if rest == "traces":
            return _api_traces
        if rest.startswith("traces/"):
            raw_id = rest[len("traces/") :]
            return lambda params, otel: _api_trace(raw_id, otel)
        return _API_ROUTES.get(rest, _api_unknown)
    return None


def _params(query: Query) -> dict[str, str]:
    """One value per parameter; empty values are dropped, repeats are a 400."""
    pairs: list[tuple[str, str]] = []
    if query is None:
        return {}
    if isinstance(query, str):
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=MAX_PARAMS)
        except ValueError as exc:
            raise _BadRequest(f"malformed query string: {exc}") from None
    else:
        for key, value in query.items():
            if isinstance(value, str):
                pairs.append((key, value))
            else:
                pairs.extend((key, v) for v in value)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise _BadRequest(f"parameter {key[:40]!r} given more than once")
        if value != "":
            params[key] = value
    return params


# -- responses ---------------------------------------------------------------


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(_jsonable(payload), separators=(",", ":"), allow_nan=False)
    headers = {"Content-Type": "application/json; charset=utf-8", **_COMMON_HEADERS}
    return status, headers, body.encode("ascii")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message, "status": status})


def _jsonable(value: Any) -> Any:
    """``value`` with only JSON types: non-finite floats and unknown objects as strings."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return repr(value)


def _iso(time_ns: int) -> str:
    """UTC ISO 8601 with microseconds (``Z`` suffix)."""
    moment = datetime.fromtimestamp(time_ns // 1_000_000_000, tz=timezone.utc)
    micros = (time_ns % 1_000_000_000) // 1_000
    return moment.replace(microsecond=micros).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _static(name: str) -> Response:
    body = _static_file(name)
    if body is None:
        return _error(404, "no such file")
    suffix = name[name.rfind(".") :]
    headers = {"Content-Type": _CONTENT_TYPES[suffix], **_COMMON_HEADERS}
    if suffix == ".html":
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Frame-Options"] = "DENY"
    return 200, headers, body


def _static_file(name: str) -> bytes | None:
    """A file shipped in ``flext_otel/web/static`` (flat names only, known types only)."""
    cached = _static_cache.get(name)
    if cached is not None:
        return cached
    dot = name.rfind(".")
    if (
        dot <= 0
        or name[dot:] not in _CONTENT_TYPES
        or not re.fullmatch(r"[a-z0-9_-]+\.[a-z]+", name)
    ):
        return None
    entry = resources.files("flext_otel.web").joinpath("static").joinpath(name)
    if not entry.is_file():
        return None
    data = entry.read_bytes()
    _static_cache[name] = data
    return data


# -- parameters --------------------------------------------------------------


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise _BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:40]!r}")
    return min(int(raw), MAX_LIMIT)  # at most MAX_LIMIT items, however many are asked for


def _trace_id(raw: str) -> str:
    value = unquote(raw)
    if not _TRACE_ID.fullmatch(value):
        raise _BadRequest(f"trace_id must be 32 hex characters, got {value[:40]!r}")
    if int(value, 16) == 0:
        raise _BadRequest("trace_id must not be all zeros")
    return value.lower()


def _page(items: list[Any], limit: int, cursor_of: Callable[[Any], str]) -> tuple[list[Any], Any]:
    page = items[:limit]
    next_before = cursor_of(page[-1]) if len(items) > limit and page else None
    return page, next_before


# -- /api/traces -------------------------------------------------------------


def _root(members: Sequence[SpanRecord]) -> SpanRecord:
    """The trace's root: a span without a parent, else the earliest orphan."""
    for record in members:  # the common case: the one span without a parent
        if record[3] is None:
            break
    else:
        ids = {s[2] for s in members}
        orphans = [s for s in members if s[3] not in ids] or list(members)
        return min(orphans, key=itemgetter(5))
    roots = [s for s in members if s[3] is None]
    return roots[0] if len(roots) == 1 else min(roots, key=itemgetter(5))


def trace_summary(members: Sequence[SpanRecord]) -> dict[str, Any]:
    """The list row of one trace (its spans, any order)."""
    # SpanRecord is a tuple: fields by index (5 start, 6 end, 7 status) in the loops
    root = _root(members)
    start = min(s[5] for s in members)
    end = max(s[6] for s in members)
    error = any(s[7] == "error" for s in members)
    correlation = root.correlation_id
    if correlation is None:
        correlation = next((c for s in members if (c := s.correlation_id)), None)
    service = root.resource.get("service.name")
    return {
        "trace_id": root.trace_id,
        "root_name": root.name,
        "root_span_id": root.span_id,
        "partial": root.parent_span_id_int is not None,
        "service": service if isinstance(service, str) else None,
        "start_time_ns": start,
        "start_time": _iso(start),
        "duration_ms": (end - start) / 1e6,
        "span_count": len(members),
        "error": error,
        "status": "error" if error else "ok",
        "correlation_id": correlation,
    }


def _trace_filter(params: Mapping[str, str]) -> TraceFilter | None:
    """The trace-list filters (``name``, ``status``, ``correlation_id``, ``service``,
    ``instance``) as one predicate."""
    name = params.get("name")
    status = params.get("status")
    if status not in (None, "error", "ok"):
        raise _BadRequest(f"status must be 'error' or 'ok', got {status[:40]!r}")
    correlation = params.get("correlation_id")
    tests: list[TraceFilter] = []
    if name is not None:
        needle = name.lower()
        tests.append(lambda t: any(needle in s.name.lower() for s in t.spans))
    if status is not None:
        want_error = status == "error"
        tests.append(lambda t: t.error == want_error)
    if correlation is not None:
        tests.append(lambda t: any(s.correlation_id == correlation for s in t.spans))
    owner = owners.owner_test(params)
    if owner is not None:  # a trace belongs to every process that sent one of its spans
        tests.append(lambda t: any(owner(s.resource) for s in t.spans))
    if not tests:
        return None
    return lambda trace: all(test(trace) for test in tests)


def _api_traces(params: dict[str, str], otel: FlextOtel) -> Response:
    limit = _limit(params)
    keep = _trace_filter(params)
    before: tuple[int, int] | None = None
    if "before" in params:
        match = _TRACE_CURSOR.fullmatch(params["before"])
        if match is None:
            raise _BadRequest("before must be a time in nanoseconds or a next_before cursor")
        before = (int(match.group(1)), int(match.group(2), 16) if match.group(2) else -1)
    # the trace index serves one page (and one more trace, to know whether there is a next)
    spans = otel.store.spans(traces=limit + 1, before=before, trace_filter=keep)
    groups: dict[int, list[SpanRecord]] = {}
    for record in spans:
        groups.setdefault(record.trace_id_int, []).append(record)
    found = list(groups.values())
    found.reverse()  # newest first
    page = found[:limit]
    next_before = None
    if len(found) > limit and page:
        start = min(s.start_time_ns for s in page[-1])
        next_before = f"{start}.{page[-1][0].trace_id}"
    rows = [trace_summary(members) for members in page]
    return _json(
        200, {"traces": rows, "count": len(rows), "limit": limit, "next_before": next_before}
    )


def _api_trace(raw_id: str, otel: FlextOtel) -> Response:
    trace_id = _trace_id(raw_id)
    roots = otel.store.trace(trace_id)
    if not roots:
        raise _NotFound(f"no trace {trace_id} in the store (unknown, or evicted)")
    walked = [pair for root in roots for pair in root.walk()]
    members = [record for _, record in walked]
    start = min(s.start_time_ns for s in members)
    spans = []
    for depth, record in walked:
        row = record.to_dict()
        row["depth"] = depth
        row["offset_ms"] = (record.start_time_ns - start) / 1e6
        row["start_time"] = _iso(record.start_time_ns)
        row["events"] = [
            {**event, "offset_ms": (event["time_ns"] - start) / 1e6} for event in row["events"]
        ]
        spans.append(row)
    return _json(200, {"trace": trace_summary(members), "spans": spans})


# -- /api/logs ---------------------------------------------------------------


def level_name(severity_number: int) -> str:
    """The OTel severity range name of a severity number (``"unspecified"`` for 0)."""
    for floor, name in _LEVEL_NAMES:
        if severity_number >= floor:
            return name
    return "unspecified"


def _log_row(record: LogRecordView) -> dict[str, Any]:
    row = record.to_dict()
    row["time"] = _iso(record.timestamp_ns)
    row["level"] = level_name(record.severity_number)
    service = record.resource.get("service.name")
    row["service"] = service if isinstance(service, str) else None
    return row


def _older_logs(
    records: list[LogRecordView], cut_ns: int, skip: int | None
) -> tuple[list[LogRecordView], int]:
    """Records older than a cursor, and how many at ``cut_ns`` the cursor had seen.

    A plain time keeps records strictly older; a ``next_before`` cursor
    ``"<ns>.<k>"`` also keeps those at ``<ns>`` after the first ``k`` of them.
    """
    if skip is None:
        return [r for r in records if r.timestamp_ns < cut_ns], 0
    kept = []
    remaining = skip
    for record in records:
        if record.timestamp_ns > cut_ns:
            continue
        if record.timestamp_ns == cut_ns and remaining > 0:
            remaining -= 1
            continue
        kept.append(record)
    return kept, skip


def _api_logs(params: dict[str, str], otel: FlextOtel) -> Response:
    limit = _limit(params)
    level: str | int | None = params.get("min_level")
    if isinstance(level, str) and _DIGITS.fullmatch(level):
        level = int(level)
    trace_id = _trace_id(params["trace_id"]) if "trace_id" in params else None
    before: tuple[int, int | None] | None = None
    if "before" in params:
        match = _LOG_CURSOR.fullmatch(params["before"])
        if match is None:
            raise _BadRequest("before must be a time in nanoseconds or a next_before cursor")
        skip = match.group(2)
        before = (int(match.group(1)), None if skip is None else int(skip))
    try:
        records = otel.store.logs(
            min_level=level,
            trace_id=trace_id,
            correlation_id=params.get("correlation_id"),
            contains=params.get("q"),
        )
    except (TypeError, ValueError) as exc:
        raise _BadRequest(str(exc)) from None
    records = owners.owned(records, params)
    records.reverse()  # newest first: the store keeps arrival order, newest last
    records.sort(key=lambda r: r.timestamp_ns, reverse=True)  # stable: ties keep that order
    already = 0
    if before is not None:
        records, already = _older_logs(records, *before)
    page = records[:limit]
    next_before = None
    if len(records) > limit and page:
        last_ns = page[-1].timestamp_ns
        same = sum(1 for r in page if r.timestamp_ns == last_ns)
        if before is not None and before[0] == last_ns:
            same += already
        next_before = f"{last_ns}.{same}"
    rows = [_log_row(r) for r in page]
    return _json(
        200, {"logs": rows, "count": len(rows), "limit": limit, "next_before": next_before}
    )


# -- /api/metrics, /api/health -----------------------------------------------


def _api_metrics(params: dict[str, str], otel: FlextOtel) -> Response:
    name = params.get("name")
    instruments: dict[tuple[str, str, str], list[MetricPoint]] = {}
    for point in owners.metric_points(otel, name, params):
        instruments.setdefault((point.name, point.kind, point.unit), []).append(point)
    rows = []
    for (metric_name, kind, unit), points in sorted(instruments.items()):
        rows.append(
            {
                "name": metric_name,
                "kind": kind,
                "unit": unit,
                "points": [
                    {
                        key: value
                        for key, value in {**p.to_dict(), "time": _iso(p.time_ns)}.items()
                        if key not in ("name", "kind", "unit")
                    }
                    for p in points
                ],
            }
        )
    return _json(200, {"metrics": rows, "count": len(rows)})


def _api_health(params: dict[str, str], otel: FlextOtel) -> Response:
    health = otel.health()
    service = otel.resource.attributes.get("service.name")
    health["service"] = service if isinstance(service, str) else None
    health["store"] = {signal: asdict(stats) for signal, stats in otel.store.stats().items()}
    return _json(200, health)


def _api_unknown(params: dict[str, str], otel: FlextOtel) -> Response:
    return _error(
        404,
        "no such API route (try /api/traces, /api/logs, /api/metrics, /api/health, /api/instances)",
    )


_API_ROUTES: dict[str, Handler] = {
    "logs": _api_logs,
    "metrics": _api_metrics,
    "health": _api_health,
    "instances": lambda params, otel: _json(200, owners.instances(otel, params)),
}

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Request",
    "Response",
    "handle",
    "is_live_view_path",
    "is_public",
    "level_name",
    "route",
    "trace_summary",
]
