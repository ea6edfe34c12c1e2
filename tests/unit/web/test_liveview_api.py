"""Live view: the JSON API under /api/, the static UI files, and their place in serve_http."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind, Status, StatusCode

from flext_otel.domain.entities import FlextHealthCheck
from flext_otel.store.telemetry import MetricPoint
from flext_otel.testing import Captured, capture
from flext_otel.web import liveview
from flext_otel.web.server import HttpServerHandle, register_route, serve_http

CAPTURE_SERVICE = "liveview-test"

BASE_NS = 1_700_000_000_000_000_000
MS = 1_000_000
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_BODY = "</script><script>alert('x')</script> & \"quotes\" \u2028 \U0001f600"

Answer = tuple[int, dict[str, str], Any]


def get(otel: Captured, path: str, query: str | None = None) -> Answer:
    """GET through liveview.handle; the body decoded as strict JSON when it is JSON."""
    answer = liveview.handle("GET", path, query, otel.otel)
    assert answer is not None, path
    status, headers, body = answer
    if headers["Content-Type"].startswith("application/json"):
        return status, headers, strict_json(body)
    return status, headers, body


def strict_json(body: bytes) -> Any:
    """Parse JSON the way a browser does: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(body.decode("ascii"), parse_constant=refuse)


def make_span(
    cap: Captured,
    name: str,
    start_ms: float,
    end_ms: float,
    *,
    parent: trace_api.Span | None = None,
    error: bool = False,
    attributes: Mapping[str, Any] | None = None,
) -> trace_api.Span:
    """A finished-later span with explicit times relative to BASE_NS (caller ends it)."""
    tracer = cap.otel.tracer_provider.get_tracer("test.liveview")
    context = trace_api.set_span_in_context(parent) if parent is not None else None
    span = tracer.start_span(
        name,
        context=context,
        kind=SpanKind.SERVER if parent is None else SpanKind.INTERNAL,
        attributes=dict(attributes or {}),
        start_time=BASE_NS + int(start_ms * MS),
    )
    if error:
        span.set_status(Status(StatusCode.ERROR, "it broke"))
    _PLANNED_END[span.get_span_context().span_id] = BASE_NS + int(end_ms * MS)
    return span


_PLANNED_END: dict[int, int] = {}


def end(span: trace_api.Span) -> None:
    """End a span made by make_span at its planned end time."""
    span.end(end_time=_PLANNED_END.pop(span.get_span_context().span_id))


def checkout_trace(
    cap: Captured,
    start_ms: float,
    *,
    root_name: str = "checkout",
    fail: bool = False,
    correlation_id: str | None = None,
) -> str:
    """checkout -> (validate, charge-card -> bank-call); returns the trace ID."""
    attrs = {"flext.correlation_id": correlation_id} if correlation_id else {}
    root = make_span(cap, root_name, start_ms, start_ms + 10, attributes=attrs)
    validate = make_span(cap, "validate", start_ms + 1, start_ms + 2, parent=root)
    charge = make_span(cap, "charge-card", start_ms + 3, start_ms + 9, parent=root, error=fail)
    bank = make_span(cap, "bank-call", start_ms + 4, start_ms + 8, parent=charge)
    charge.add_event("retry", {"attempt": 2}, timestamp=BASE_NS + int((start_ms + 5) * MS))
    for span in (validate, bank, charge, root):
        end(span)
    return format(root.get_span_context().trace_id, "032x")


def emit_log(
    cap: Captured,
    body: Any,
    at_ms: float,
    level: SeverityNumber = SeverityNumber.INFO,
    *,
    span: trace_api.Span | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """One log record at BASE_NS + at_ms, inside ``span`` when given."""
    logger = cap.otel.logger_provider.get_logger("test.liveview")
    logger.emit(
        timestamp=BASE_NS + int(at_ms * MS),
        severity_number=level,
        severity_text=level.name,
        body=body,
        attributes=dict(attributes or {}),
        context=trace_api.set_span_in_context(span) if span is not None else None,
    )


@pytest.fixture
def shop(cap: Captured) -> dict[str, str]:
    """Three traces (one failing, one with a correlation ID, one hostile) and a few logs."""
    ids = {
        "ok": checkout_trace(cap, 0),
        "failed": checkout_trace(cap, 100, fail=True),
        "correlated": checkout_trace(cap, 200, correlation_id="req-7f3a"),
        "hostile": checkout_trace(cap, 300, root_name=HOSTILE),
    }
    tracer = cap.otel.tracer_provider.get_tracer("test.liveview")
    with tracer.start_as_current_span("logging-span") as span:
        ids["logging"] = format(span.get_span_context().trace_id, "032x")
        emit_log(cap, "card declined for order 42", 400, SeverityNumber.ERROR, span=span)
    emit_log(cap, "order 41 placed", 390)
    emit_log(cap, "cache warm", 380, SeverityNumber.DEBUG)
    emit_log(cap, HOSTILE_BODY, 395, SeverityNumber.WARN, attributes={"payload": HOSTILE})
    return ids


# -- /api/traces -------------------------------------------------------------------------


def test_traces_lists_each_trace_newest_first_with_its_summary(
    cap: Captured, shop: dict[str, str]
) -> None:
    """Each trace is one row: root name, service, start (ns and ISO), duration, spans, errors."""
    status, headers, data = get(cap, "/api/traces")
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    rows = {row["trace_id"]: row for row in data["traces"]}
    assert [row["trace_id"] for row in data["traces"]] == [
        shop["logging"],
        shop["hostile"],
        shop["correlated"],
        shop["failed"],
        shop["ok"],
    ]
    ok = rows[shop["ok"]]
    assert ok == {
        "trace_id": shop["ok"],
        "root_name": "checkout",
        "root_span_id": ok["root_span_id"],
        "partial": False,
        "service": "liveview-test",
        "start_time_ns": BASE_NS,
        "start_time": "2023-11-14T22:13:20.000000Z",
        "duration_ms": 10.0,
        "span_count": 4,
        "error": False,
        "status": "ok",
        "correlation_id": None,
    }
    assert rows[shop["failed"]]["error"] is True
    assert rows[shop["failed"]]["status"] == "error"
    assert rows[shop["correlated"]]["correlation_id"] == "req-7f3a"
    assert (data["count"], data["limit"], data["next_before"]) == (5, 100, None)


def test_traces_strings_are_raw_not_html_escaped(cap: Captured, shop: dict[str, str]) -> None:
    """A hostile span name comes back byte-for-byte: escaping is the page's job."""
    _, _, data = get(cap, "/api/traces")
    names = [row["root_name"] for row in data["traces"]]
    assert HOSTILE in names
    assert not any("&lt;" in name for name in names)


def test_trace_with_evicted_or_unfinished_root_is_partial(cap: Captured) -> None:
    """A trace whose root span is not in the store is listed with its earliest orphan as root."""
    root = make_span(cap, "still-running", 0, 50)
    child = make_span(cap, "done-child", 5, 6, parent=root)
    end(child)
    _, _, data = get(cap, "/api/traces")
    (row,) = data["traces"]
    assert (row["root_name"], row["partial"], row["span_count"]) == ("done-child", True, 1)
    end(root)
    _, _, data = get(cap, "/api/traces")
    assert (data["traces"][0]["root_name"], data["traces"][0]["partial"]) == (
        "still-running",
        False,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=checkout", ["failed", "ok", "correlated"]),
        ("name=CHARGE", ["hostile", "correlated", "failed", "ok"]),
        ("name=bank-call&status=error", ["failed"]),
        ("status=error", ["failed"]),
        ("status=ok", ["logging", "hostile", "correlated", "ok"]),
        ("correlation_id=req-7f3a", ["correlated"]),
        ("correlation_id=nobody", []),
        ("name=%3Cimg", ["hostile"]),
        ("name=&status=", ["logging", "hostile", "correlated", "failed", "ok"]),
    ],
)
def test_traces_filters(
    cap: Captured, shop: dict[str, str], query: str, expected: list[str]
) -> None:
    """name (in any span name, any case), status (error: any span failed), correlation_id."""
    _, _, data = get(cap, "/api/traces", query)
    assert sorted(row["trace_id"] for row in data["traces"]) == sorted(shop[k] for k in expected)


def test_traces_limit_defaults_to_100_and_pages_with_the_cursor(cap: Captured) -> None:
    """limit defaults to 100; next_before walks every trace once, newest first, ties included."""
    tracer = cap.otel.tracer_provider.get_tracer("test.liveview")
    for index in range(230):
        start = BASE_NS + (index // 2) * MS  # pairs of traces share a start time
        tracer.start_span(f"t{index}", start_time=start).end(end_time=start + MS)
    status, _, first = get(cap, "/api/traces")
    assert (status, first["count"], first["limit"]) == (200, 100, 100)
    seen = [row["trace_id"] for row in first["traces"]]
    cursor = first["next_before"]
    pages = 1
    while cursor is not None:
        _, _, page = get(cap, "/api/traces", f"limit=100&before={cursor}")
        seen += [row["trace_id"] for row in page["traces"]]
        cursor = page["next_before"]
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 230
    _, _, everything = get(cap, "/api/traces", "limit=1000")
    assert seen == [row["trace_id"] for row in everything["traces"]]
    starts = [row["start_time_ns"] for row in everything["traces"]]
    assert starts == sorted(starts, reverse=True)


def test_traces_before_a_time_lists_traces_that_started_earlier(
    cap: Captured, shop: dict[str, str]
) -> None:
    """A plain nanosecond ``before`` keeps traces that started strictly before it."""
    _, _, data = get(cap, "/api/traces", f"before={BASE_NS + 200 * MS}")
    assert [row["trace_id"] for row in data["traces"]] == [shop["failed"], shop["ok"]]


def test_traces_limit_1000_is_the_maximum(cap: Captured, shop: dict[str, str]) -> None:
    """limit=1000 is accepted and limit=1 returns one row with a cursor."""
    assert get(cap, "/api/traces", "limit=1000")[0] == 200
    _, _, data = get(cap, "/api/traces", "limit=1")
    assert data["count"] == 1
    assert data["next_before"] == f"{data['traces'][0]['start_time_ns']}.{shop['logging']}"


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=%20%205",
        "limit=%D9%A3",  # an Arabic-Indic digit: not an ASCII number
        "limit=99999999999999999999999",
        "status=failed",
        "status=ERROR",
        "before=yesterday",
        "before=-5",
        "before=1.ABC",
        "before=12.zz",
        "limit=5&limit=6",
    ],
)
def test_traces_bad_parameters_are_400(cap: Captured, shop: dict[str, str], query: str) -> None:
    """Malformed limits, statuses, cursors and repeated parameters answer 400 with a message."""
    status, _, data = get(cap, "/api/traces", query)
    assert status == 400
    assert data["status"] == 400
    assert isinstance(data["error"], str)
    assert data["error"]


# -- /api/traces/{trace_id} ---------------------------------------------------------------


def test_trace_returns_every_span_depth_first_with_depth_and_offsets(
    cap: Captured, shop: dict[str, str]
) -> None:
    """Spans come in tree order with depth, parent, offset and the SpanRecord fields."""
    status, _, data = get(cap, f"/api/traces/{shop['failed']}")
    assert status == 200
    assert data["trace"]["span_count"] == len(data["spans"]) == 4
    assert [(s["name"], s["depth"]) for s in data["spans"]] == [
        ("checkout", 0),
        ("validate", 1),
        ("charge-card", 1),
        ("bank-call", 2),
    ]
    root, _, charge, bank = data["spans"]
    assert root["parent_span_id"] is None
    assert charge["parent_span_id"] == root["span_id"]
    assert bank["parent_span_id"] == charge["span_id"]
    assert (charge["offset_ms"], charge["duration_ms"]) == (3.0, 6.0)
    assert (charge["status"], charge["status_description"]) == ("error", "it broke")
    assert charge["events"] == [
        {
            "name": "retry",
            "time_ns": BASE_NS + 105 * MS,
            "attributes": {"attempt": 2},
            "offset_ms": 5.0,
        }
    ]
    assert root["resource"]["service.name"] == "liveview-test"
    assert set(root) >= {
        "trace_id",
        "span_id",
        "kind",
        "start_time_ns",
        "end_time_ns",
        "attributes",
        "scope",
        "start_time",
    }


def test_trace_accepts_uppercase_hex(cap: Captured, shop: dict[str, str]) -> None:
    """Trace IDs are case-insensitive on the way in, lowercase on the way out."""
    status, _, data = get(cap, f"/api/traces/{shop['ok'].upper()}")
    assert (status, data["trace"]["trace_id"]) == (200, shop["ok"])


def test_trace_hostile_name_is_raw(cap: Captured, shop: dict[str, str]) -> None:
    """The hostile root name is returned unescaped in the trace's spans."""
    _, _, data = get(cap, f"/api/traces/{shop['hostile']}")
    assert data["spans"][0]["name"] == HOSTILE


@pytest.mark.parametrize(
    "raw_id",
    [
        "abc",
        "0" * 31 + "g",
        "a" * 33,
        "0" * 32,
        "%3Cscript%3E",
        "..%2F..%2Fetc%2Fpasswd",
        "a" * 5000,
        " " + "a" * 31,
    ],
)
def test_trace_malformed_id_is_400(cap: Captured, raw_id: str) -> None:
    """A trace ID that is not 32 hex characters (or is all zeros) answers 400."""
    status, _, data = get(cap, f"/api/traces/{raw_id}")
    assert status == 400
    assert "trace_id" in data["error"]
    assert len(data["error"]) < 200


def test_trace_unknown_id_is_404(cap: Captured, shop: dict[str, str]) -> None:
    """A well-formed ID the store does not hold answers 404."""
    status, _, data = get(cap, "/api/traces/" + "ab" * 16)
    assert (status, data["status"]) == (404, 404)


# -- /api/logs ---------------------------------------------------------------------------


def test_logs_newest_first_with_level_service_and_trace(
    cap: Captured, shop: dict[str, str]
) -> None:
    """Records come newest first, with level, ISO time, service and the trace of their span."""
    status, _, data = get(cap, "/api/logs")
    assert status == 200
    assert [row["body"] for row in data["logs"]] == [
        "card declined for order 42",
        HOSTILE_BODY,
        "order 41 placed",
        "cache warm",
    ]
    first = data["logs"][0]
    assert (first["level"], first["severity_text"], first["severity_number"]) == (
        "error",
        "ERROR",
        17,
    )
    assert first["trace_id"] == shop["logging"]
    assert len(first["span_id"]) == 16
    assert first["service"] == "liveview-test"
    assert first["time"] == "2023-11-14T22:13:20.400000Z"
    assert data["logs"][2]["trace_id"] is None


def test_logs_strings_are_raw(cap: Captured, shop: dict[str, str]) -> None:
    """Log bodies and attributes come back exactly as emitted (no HTML escaping)."""
    _, _, data = get(cap, "/api/logs", "q=script")
    (row,) = data["logs"]
    assert row["body"] == HOSTILE_BODY
    assert row["attributes"] == {"payload": HOSTILE}


@pytest.mark.parametrize(
    ("query", "bodies"),
    [
        ("min_level=warning", ["card declined for order 42", HOSTILE_BODY]),
        ("min_level=ERROR", ["card declined for order 42"]),
        ("min_level=17", ["card declined for order 42"]),
        (
            "min_level=0",
            ["card declined for order 42", HOSTILE_BODY, "order 41 placed", "cache warm"],
        ),
        ("q=ORDER", ["card declined for order 42", "order 41 placed"]),
        ("q=order&min_level=info", ["card declined for order 42", "order 41 placed"]),
        ("q=nothing-like-this", []),
    ],
)
def test_logs_filters(cap: Captured, shop: dict[str, str], query: str, bodies: list[str]) -> None:
    """min_level (name or number) and q (body text, any case) narrow the records."""
    _, _, data = get(cap, "/api/logs", query)
    assert [row["body"] for row in data["logs"]] == bodies


def test_logs_trace_id_filter(cap: Captured, shop: dict[str, str]) -> None:
    """trace_id keeps the records emitted inside that trace."""
    _, _, data = get(cap, "/api/logs", f"trace_id={shop['logging']}")
    assert [row["body"] for row in data["logs"]] == ["card declined for order 42"]
    _, _, none = get(cap, "/api/logs", f"trace_id={shop['ok']}")
    assert none["logs"] == []


@pytest.mark.parametrize(
    "query",
    [
        "min_level=loud",
        "min_level=25",
        "min_level=-1",
        "trace_id=xyz",
        "trace_id=" + "0" * 32,
        "limit=0",
        "before=now",
        "before=5.x",
        "q=a&q=b",
    ],
)
def test_logs_bad_parameters_are_400(cap: Captured, shop: dict[str, str], query: str) -> None:
    """Unknown levels, malformed trace IDs, limits and cursors answer 400."""
    status, _, data = get(cap, "/api/logs", query)
    assert (status, data["status"]) == (400, 400)


def test_logs_pages_through_records_sharing_a_timestamp(cap: Captured) -> None:
    """The cursor pages through records with equal timestamps without loss or repeats."""
    for index in range(25):
        emit_log(cap, f"r{index}", index // 4)  # runs of four share a timestamp
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=3" + (f"&before={cursor}" if cursor else "")
        status, _, page = get(cap, "/api/logs", query)
        assert status == 200
        seen += [row["body"] for row in page["logs"]]
        cursor = page["next_before"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"r{i}" for i in range(25))
    assert len(seen) == 25
    _, _, everything = get(cap, "/api/logs", "limit=1000")
    assert seen == [row["body"] for row in everything["logs"]]


def test_logs_before_a_time_keeps_older_records(cap: Captured, shop: dict[str, str]) -> None:
    """A plain nanosecond ``before`` keeps records emitted strictly before it."""
    _, _, data = get(cap, "/api/logs", f"before={BASE_NS + 395 * MS}")
    assert [row["body"] for row in data["logs"]] == ["order 41 placed", "cache warm"]


def test_logs_limit(cap: Captured, shop: dict[str, str]) -> None:
    """limit caps the page and a cursor is offered for the rest."""
    _, _, data = get(cap, "/api/logs", "limit=2")
    assert data["count"] == 2
    assert data["next_before"] is not None
    _, _, rest = get(cap, "/api/logs", f"limit=2&before={data['next_before']}")
    assert [row["body"] for row in rest["logs"]] == ["order 41 placed", "cache warm"]
    assert rest["next_before"] is None


# -- /api/metrics ------------------------------------------------------------------------


def test_metrics_groups_points_by_instrument_with_histogram_buckets(cap: Captured) -> None:
    """Sums carry values; histograms carry count, sum and per-bucket counts up to +Inf."""
    meter = cap.otel.meter_provider.get_meter("test.liveview")
    orders = meter.create_counter("orders_total", unit="1")
    orders.add(3, {"region": "eu"})
    orders.add(4, {"region": "us"})
    latency = meter.create_histogram(
        "latency", unit="ms", explicit_bucket_boundaries_advisory=(10, 100)
    )
    for value in (5, 50, 60, 500):
        latency.record(value, {"route": HOSTILE})
    status, _, data = get(cap, "/api/metrics")
    assert status == 200
    by_name = {m["name"]: m for m in data["metrics"]}
    assert [m["name"] for m in data["metrics"]] == sorted(by_name)
    counter = by_name["orders_total"]
    assert (counter["kind"], counter["unit"]) == ("sum", "1")
    assert {p["attributes"]["region"]: p["value"] for p in counter["points"]} == {"eu": 3, "us": 4}
    histogram = by_name["latency"]
    (point,) = histogram["points"]
    assert histogram["kind"] == "histogram"
    assert (point["count"], point["sum"]) == (4, 615)
    assert point["buckets"] == [[10.0, 1], [100.0, 2], ["+Inf", 1]]
    assert point["attributes"] == {"route": HOSTILE}
    assert point["time"].endswith("Z")


def test_metrics_non_finite_values_are_strings(cap: Captured) -> None:
    """NaN and infinite values are sent as strings, so the JSON stays standard."""
    points = [
        MetricPoint("temperature", "gauge", "C", {"probe": "a"}, math.nan),
        MetricPoint("temperature", "gauge", "C", {"probe": "b"}, math.inf),
        MetricPoint("temperature", "gauge", "C", {"probe": "c"}, -math.inf),
        MetricPoint("temperature", "gauge", "C", {"probe": b"\x00\xff"}, 1.5),
    ]
    cap.store.set_metric_source(lambda: points)
    _, _, data = get(cap, "/api/metrics", "name=temperature")
    (metric,) = data["metrics"]
    values = [(p["attributes"]["probe"], p["value"]) for p in metric["points"]]
    assert values == [("a", "NaN"), ("b", "+Inf"), ("c", "-Inf"), ("00ff", 1.5)]


def test_metrics_without_user_instruments_lists_only_pipeline_counters(cap: Captured) -> None:
    """With no instruments of the application's own, only flext's pipeline counters show."""
    data = get(cap, "/api/metrics")[2]
    names = sorted(m["name"] for m in data["metrics"])
    assert names == ["flext.pipeline.accepted", "flext.pipeline.dropped", "flext.pipeline.exported"]
    assert data["count"] == 3


# -- /api/health -------------------------------------------------------------------------


def test_health_includes_components_pipelines_and_store(
    cap: Captured, shop: dict[str, str]
) -> None:
    """Health has the overall status, components, pipeline counters and store buffers."""
    adapter = cap.otel.health_adapter
    adapter.record(FlextHealthCheck(component="db", status="healthy"))
    adapter.record(FlextHealthCheck(component="queue", status="degraded", message=HOSTILE))
    status, _, data = get(cap, "/api/health")
    assert status == 200
    assert data["status"] == "degraded"
    assert data["service"] == "liveview-test"
    assert data["components"]["queue"]["message"] == HOSTILE
    assert data["components"]["db"]["status"] == "healthy"
    spans = data["pipelines"]["traces:store"]
    assert (spans["accepted"], spans["exported"], spans["dropped"]) == (17, 17, {})
    assert data["store"]["spans"] == {"accepted": 17, "evicted": 0, "capacity": 10_000, "size": 17}
    assert data["store"]["logs"]["size"] == 4 + 2  # each new component status is logged
    assert data["shutdown"] is False


# -- routing, methods, static files --------------------------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/health", "/ready", "/apix", "/favicon.ico"])
def test_other_paths_are_not_the_live_views(cap: Captured, path: str) -> None:
    """handle() returns None for paths it does not own, so the server can answer them."""
    assert liveview.handle("GET", path, None, cap.otel) is None
    assert not liveview.is_live_view_path(path)


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/spans", "/api/traces/x/y/z"])
def test_unknown_api_routes_are_404_or_400(cap: Captured, path: str) -> None:
    """Unknown API routes answer 404 (a malformed trace path 400), never 500."""
    status, _, data = get(cap, path)
    assert status in (400, 404)
    assert data["status"] == status


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_other_methods_are_405(cap: Captured, method: str) -> None:
    """Only GET and HEAD are served; others answer 405 with Allow."""
    answer = liveview.handle(method, "/api/traces", None, cap.otel)
    assert answer is not None
    status, headers, _ = answer
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


def test_head_answers_like_get(cap: Captured, shop: dict[str, str]) -> None:
    """HEAD gets GET's status and headers (the server leaves the body out)."""
    head = liveview.handle("HEAD", "/api/traces", None, cap.otel)
    assert head is not None
    assert head[:2] == liveview.handle("GET", "/api/traces", None, cap.otel)[:2]  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html; charset=utf-8", b"/static/app.js"),
        ("/index.html", "text/html; charset=utf-8", b'<main id="view"'),
        ("/static/app.js", "text/javascript; charset=utf-8", b"Authorization"),
        ("/static/app.css", "text/css; charset=utf-8", b"--bar"),
    ],
)
def test_static_ui_files_are_served_from_the_package(
    cap: Captured, path: str, content_type: str, marker: bytes
) -> None:
    """The page, script and stylesheet ship in the package and are served with their types."""
    status, headers, body = get(cap, path)
    assert (status, headers["Content-Type"]) == (200, content_type)
    assert marker in body
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_page_has_a_strict_content_security_policy(cap: Captured) -> None:
    """The page forbids inline script and any other origin (no CDN, works offline)."""
    _, headers, body = get(cap, "/")
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert b"http://" not in body
    assert b"https://" not in body


def test_script_never_parses_html() -> None:
    """The UI script builds its DOM from text nodes: no innerHTML or eval anywhere."""
    script = liveview._static_file("app.js")
    assert script is not None
    for sink in (
        b"innerHTML",
        b"outerHTML",
        b"insertAdjacentHTML",
        b"document.write",
        b"eval(",
        b"new Function",
        b"http://",
        b"https://",
    ):
        assert sink not in script, sink


@pytest.mark.parametrize(
    "path",
    [
        "/static/../liveview.py",
        "/static/..%2Fliveview.py",
        "/static/liveview.py",
        "/static/",
        "/static/nope.js",
        "/static/APP.JS",
        "/static/app.js/",
        "/static/.hidden.css",
    ],
)
def test_static_outside_the_ui_files_is_404(cap: Captured, path: str) -> None:
    """Only the shipped UI files are served: traversal and other names are 404."""
    status, _, data = get(cap, path)
    assert (status, data["status"]) == (404, 404)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segment=st.text(max_size=60),
    query=st.text(max_size=120),
)
def test_hostile_input_never_gives_500(segment: str, query: str) -> None:
    """Any path segment and query string on any API route answers 200, 400 or 404."""
    with capture(service_name="fuzz") as cap:
        checkout_trace(cap, 0)
        emit_log(cap, "x", 1)
        for path in (
            "/api/traces",
            "/api/logs",
            "/api/metrics",
            "/api/health",
            f"/api/traces/{segment}",
            f"/static/{segment}",
            f"/api/{segment}",
        ):
            answer = liveview.handle("GET", path, query, cap.otel)
            assert answer is not None
            status, headers, body = answer
            assert status in (200, 400, 404), (path, query, body)
            if headers["Content-Type"].startswith("application/json"):
                strict_json(body)


def test_an_internal_failure_is_500_without_details(
    cap: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing store answers 500 with a generic message, not the exception text."""

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(cap.otel.store, "spans", broken)
    status, _, data = get(cap, "/api/traces")
    assert (status, data["error"]) == (500, "internal error")


# -- through serve_http --------------------------------------------------------------------


@pytest.fixture
def routed() -> None:
    """The live view's route as flext_otel.web.server registers it at import (re-registering is
    idempotent, and restores it should another test have replaced the '/' route)."""
    register_route("GET", "/", liveview.route, public=liveview.is_public)


def call(
    server: HttpServerHandle, path: str, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection: (status, lowercase headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.usefixtures("routed")
def test_serve_http_serves_the_ui_and_the_api(cap: Captured, shop: dict[str, str]) -> None:
    """serve_http answers /, /static/* and /api/* next to /metrics and /health."""
    with serve_http(cap.otel, port=0) as server:
        assert call(server, "/")[0] == 200
        assert call(server, "/static/app.js")[0] == 200
        status, _, body = call(server, f"/api/traces/{shop['hostile']}")
        assert status == 200
        assert strict_json(body)["spans"][0]["name"] == HOSTILE
        status, _, body = call(server, "/api/traces?limit=2&status=ok")
        assert (status, strict_json(body)["count"]) == (200, 2)
        assert call(server, "/health")[0] == 200
        assert call(server, "/api/traces?limit=0")[0] == 400
        assert call(server, "/nope")[0] == 404


@pytest.mark.usefixtures("routed")
def test_token_guards_the_api_but_not_the_page_shell(cap: Captured, shop: dict[str, str]) -> None:
    """With a token, /api/* needs a credential; the page and its files (no data) load without
    it so that the page can ask for the token; /?token=... is exchanged, never served."""
    with serve_http(cap.otel, port=0, token="s3cr3t") as server:
        for path in (
            "/api/traces",
            "/api/logs",
            "/api/metrics",
            "/api/health",
            f"/api/traces/{shop['ok']}",
            "/metrics",
            "/nope",
        ):
            status, _, body = call(server, path)
            assert status == 401, path
            assert b"s3cr3t" not in body
        wrong = call(server, "/api/traces", {"Authorization": "Bearer s3cr3"})
        assert wrong[0] == 401
        status, _, body = call(server, "/api/traces", {"Authorization": "Bearer s3cr3t"})
        assert (status, strict_json(body)["count"]) == (200, 5)
        for path in ("/", "/static/app.js", "/static/app.css"):
            status, _, body = call(server, path)
            assert status == 200, path
            assert b"checkout" not in body
            assert b"s3cr3t" not in body
        status, headers, body = call(server, "/?token=s3cr3t")
        assert (status, headers["location"]) == (303, "/")
        assert b"checkout" not in body
        assert call(server, "/static/missing.js")[0] == 404


def test_demo_serve_prints_the_url_and_serves_until_interrupted(tmp_path: Any) -> None:
    """`flext-otel demo --serve --port 0` prints the live view URL (with the configured token),
    serves the demo's traces there, and on Ctrl-C shuts down cleanly."""
    env = {**os.environ, "FLEXT_OTEL_HTTP_TOKEN": "demo token", "PYTHONUNBUFFERED": "1"}
    env.pop("OTEL_TRACES_EXPORTER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "flext_otel.cli", "demo", "--serve", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # the banner
        line = process.stdout.readline()
        match = re.fullmatch(
            r"live view: (http://127\.0\.0\.1:(\d+)/)\?token=demo%20token "
            r"\(Ctrl-C to stop\)\n",
            line,
        )
        assert match is not None, line
        port = int(match.group(2))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        deadline = time.monotonic() + 60  # a bound on a loaded machine, not a timing goal
        count = 0
        while count == 0 and time.monotonic() < deadline:
            conn.request("GET", "/api/traces", headers={"Authorization": "Bearer demo token"})
            response = conn.getresponse()
            assert response.status == 200
            count = strict_json(response.read())["count"]
        conn.close()
        assert count > 0
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "shutdown: nothing lost" in out


def test_limit_above_the_maximum_is_capped(cap: Captured) -> None:
    """limit above 1,000 is not an error: at most 1,000 traces and log records come back."""
    tracer = cap.otel.tracer_provider.get_tracer("cap")
    for i in range(1_005):
        with tracer.start_as_current_span(f"t{i}"):
            pass
    status, _, data = get(cap, "/api/traces", "limit=5000")
    assert status == 200
    assert len(data["traces"]) == 1_000
    assert get(cap, "/api/logs", "limit=1001")[0] == 200
