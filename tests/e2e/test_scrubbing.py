"""Secrets never reach the OTLP receiver, the store, the console or /metrics.

Each case puts one secret somewhere a user might (span or event attribute, status
description, log attribute or body, metric tag) through a real pipeline with the
OTLP gRPC exporters, the console exporters and the ``/metrics`` endpoint, then
searches every destination for any fragment of it. Innocent cases must arrive
unchanged.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import Status, StatusCode

from flext_otel.testing import Captured, OtlpReceiver, capture

pytestmark = pytest.mark.e2e

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIsecretPEM23xyz\n-----END RSA PRIVATE KEY-----"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQyMCJ9.SecretSig20abc"


@dataclass(frozen=True)
class Case:
    """Where a secret goes (``where``), under which key, and fragments that must vanish."""

    id: str
    where: str  # span | event | status | log_attr | log_body | metric
    key: str
    value: Any
    secrets: tuple[str, ...]


SECRETS = [
    # sensitive keys
    Case("key-password", "span", "password", "pwSecret001", ("pwSecret001",)),
    Case("key-mixed-case", "span", "db.user.PassWord", "pwSecret002", ("pwSecret002",)),
    Case("key-camel-apikey", "span", "apiKey", "akSecret003", ("akSecret003",)),
    Case("key-header-x-api-key", "span", "X-API-KEY", "akSecret004", ("akSecret004",)),
    Case(
        "key-authorization-seq",
        "span",
        "http.request.header.authorization",
        ("Basic dXNlcjpTZWNyZXQwMDU=",),
        ("dXNlcjpTZWNyZXQwMDU",),
    ),
    Case(
        "key-set-cookie-seq",
        "span",
        "http.response.header.set-cookie",
        ("sid=cookieSecret006; Path=/", "theme=dark"),
        ("cookieSecret006",),
    ),
    Case("key-session-id", "span", "user.session_id", "sessSecret007", ("sessSecret007",)),
    Case("key-aws-secret", "span", "aws_secret_access_key", "awsSecret008", ("awsSecret008",)),
    Case("key-client-secret", "span", "oauth.client_secret", "csSecret009", ("csSecret009",)),
    Case("key-jwt", "span", "jwt", "jwtSecret010", ("jwtSecret010",)),
    Case("key-credit-card", "span", "creditCard", "4242 4242 4242 4242", ("4242 4242 4242 4242",)),
    Case("key-ssn", "span", "customer.ssn", "ssnSecret012", ("ssnSecret012",)),
    Case("key-private-key", "span", "tls.private_key", "pkSecret013", ("pkSecret013",)),
    Case("key-unicode-fullwidth", "span", "\uff30\uff37\uff24", "pwSecret014", ("pwSecret014",)),
    Case("key-event-token", "event", "token", "tokSecret015", ("tokSecret015",)),
    # secret-looking values under innocent keys
    Case(
        "value-url-credentials",
        "span",
        "db.connection",
        "postgres://alice:urlSecret016@db.example.com/x",
        ("urlSecret016",),
    ),
    Case(
        "value-query-password",
        "span",
        "http.target",
        "/login?user=bob&password=qsSecret017&next=/",
        ("qsSecret017",),
    ),
    Case(
        "value-header-line",
        "span",
        "raw.header",
        "Authorization: Bearer hdrSecret018abc",
        ("hdrSecret018abc",),
    ),
    Case("value-bearer", "span", "note", "sent Bearer brSecret019xyz0", ("brSecret019xyz0",)),
    Case("value-jwt", "span", "blob", JWT, ("SecretSig20abc", "eyJzdWIiOiJzZWNyZXQyMCJ9")),
    Case(
        "value-card-dashes",
        "span",
        "payment.note",
        "paid with 4111-1111-1111-1111 today",
        ("4111-1111-1111-1111",),
    ),
    Case("value-ssn", "span", "notes", "ssn 219-09-9999 on file", ("219-09-9999",)),
    Case("value-pem", "span", "cert", PEM, ("MIIsecretPEM23xyz",)),
    Case("value-nested-seq", "span", "tags", ("ok", "api_key=seqSecret024"), ("seqSecret024",)),
    Case("value-int-card", "span", "n", 5555555555554444, ("5555555555554444",)),
    Case("status-description", "status", "", "failed: token=stSecret026", ("stSecret026",)),
    Case(
        "event-exception-message",
        "event",
        "exception.message",
        "connect failed: mysql://app:exSecret027@db/prod",
        ("exSecret027",),
    ),
    # logs
    Case("log-key", "log_attr", "user.password", "lgSecret028", ("lgSecret028",)),
    Case(
        "log-nested-mapping",
        "log_attr",
        "request",
        {"headers": {"Cookie": "lgSecret029"}},
        ("lgSecret029",),
    ),
    Case("log-body-text", "log_body", "", "login ok password=lgSecret030 bob", ("lgSecret030",)),
    Case(
        "log-body-mapping",
        "log_body",
        "",
        {"user": "bob", "api_key": "lgSecret031"},
        ("lgSecret031",),
    ),
    Case(
        "log-body-unicode",
        "log_body",
        "",
        "\u041e\u0448\u0438\u0431\u043a\u0430 Authorization: Bearer lgSecret032"
        "\u0442\u0435\u0441\u0442",
        ("lgSecret032",),
    ),
    Case("log-body-list", "log_body", "", ["ok", "secret=lgSecret033"], ("lgSecret033",)),
    Case("log-mixed-case-key", "log_attr", "MiXeD.CaSe.ToKeN", "lgSecret034", ("lgSecret034",)),
    Case(
        "log-json-string",
        "log_attr",
        "payload",
        '{"user": "bob", "password": "lgSecret035"}',
        ("lgSecret035",),
    ),
    Case("log-upper-value", "log_attr", "msg", "PASSWORD=lgSecret036", ("lgSecret036",)),
    Case("log-bearer-upper", "log_attr", "line", "BEARER lgSecret037abcd", ("lgSecret037abcd",)),
    # metric tags (recorded through the pipeline's scrub_attributes, as flext's API does)
    Case("metric-tag-key", "metric", "api_key", "mtSecret038", ("mtSecret038",)),
    Case("metric-tag-value", "metric", "dsn", "redis://u:mtSecret039@cache:6379", ("mtSecret039",)),
]

INNOCENT = [
    Case("author", "span", "author", "Ada Lovelace", ()),
    Case("authority", "span", "http.authority", "example.com:8443", ()),
    Case("tokenizer", "span", "tokenizer_version", "v2", ()),
    Case("session-count", "span", "session_count", 3, ()),
    Case("passage", "span", "passage", "call me Ishmael", ()),
    Case("keyboard", "span", "keyboard", "dvorak", ()),
    Case("spanish", "span", "spanish", "hola", ()),
    Case("cookiecutter", "span", "cookiecutter", "template", ()),
    Case("gen-ai-tokens", "span", "gen_ai.usage.input_tokens", 1234, ()),
    Case("token-type", "span", "token_type", "Bearer", ()),
    Case("url", "span", "url.full", "https://example.com/search?q=hello&page=2", ()),
    Case("sql", "span", "db.statement", "SELECT * FROM users WHERE id = 5", ()),
    Case("big-int", "span", "ts", 1712345678901234567, ()),
    Case("uuid", "event", "id", "123e4567-e89b-12d3-a456-426614174000", ()),
    Case("log-text", "log_body", "", "user bob logged in at 12:30:00", ()),
    Case("log-attr", "log_attr", "cache.key", "user:42", ()),
    Case("metric-region", "metric", "region", "eu-west-1", ()),
]


def _record(cap: Captured, cases: list[Case]) -> None:
    tracer = cap.otel.tracer_provider.get_tracer("e2e")
    logger = cap.otel.logger_provider.get_logger("e2e")
    counter = cap.otel.meter_provider.get_meter("e2e").create_counter("requests_total")
    for case in cases:
        if case.where in ("span", "event", "status"):
            with tracer.start_as_current_span(case.id) as span:
                if case.where == "span":
                    span.set_attribute(case.key, case.value)
                elif case.where == "event":
                    span.add_event("evt", {case.key: case.value})
                else:
                    span.set_status(Status(StatusCode.ERROR, case.value))
        elif case.where == "log_attr":
            logger.emit(body=case.id, attributes={case.key: case.value})
        elif case.where == "log_body":
            logger.emit(body=case.value, attributes={"case": case.id})
        else:
            tags, _ = cap.otel.guardrails.scrub_attributes({case.key: case.value, "case": case.id})
            counter.add(1, tags)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver("grpc") as rx:
        yield rx


def _everything(cap: Captured, rx: OtlpReceiver, console: str, n_spans: int, n_logs: int) -> str:
    rx.wait_for_spans(n_spans, timeout=10.0)
    rx.wait_for_logs(n_logs, timeout=10.0)
    from flext_otel.web.server import serve_http

    with (
        serve_http(cap.otel, port=0) as server,
        urllib.request.urlopen(server.url + "/metrics", timeout=10) as response,
    ):
        metrics_text = response.read().decode()
    parts = [
        console,
        metrics_text,
        repr([s.to_dict() for s in cap.spans()]),
        repr([r.to_dict() for r in cap.logs()]),
        repr(cap.metrics()),
        repr(rx.spans()),
        repr(rx.logs()),
        repr(rx.metrics()),
    ]
    return "\n".join(parts)


def _pipeline(rx: OtlpReceiver) -> Any:
    return capture(
        traces_exporter="otlp,console",
        logs_exporter="otlp,console",
        metrics_exporter="otlp",
        otlp_endpoint=rx.endpoint,
        bsp_schedule_delay_ms=50,
        blrp_schedule_delay_ms=50,
    )


def test_secret_table_is_large_enough() -> None:
    """The table holds at least 30 secret-bearing cases covering every place."""
    assert len(SECRETS) >= 30
    assert {c.where for c in SECRETS} == {
        "span",
        "event",
        "status",
        "log_attr",
        "log_body",
        "metric",
    }


def test_no_secret_reaches_any_destination(
    receiver: OtlpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not one fragment of any secret reaches OTLP, the store, the console or /metrics."""
    spans = sum(1 for c in SECRETS if c.where in ("span", "event", "status"))
    logs = sum(1 for c in SECRETS if c.where in ("log_attr", "log_body"))
    with _pipeline(receiver) as cap:
        _record(cap, SECRETS)
        assert cap.otel.force_flush(10_000)
        console = capsys.readouterr().out
        seen = _everything(cap, receiver, console, spans, logs)
        assert len(receiver.spans()) == spans
        assert len(receiver.logs()) == logs
        assert "mtSecret" not in seen
        assert "[REDACTED]" in metrics_of(receiver)
    leaked = [(c.id, s) for c in SECRETS for s in c.secrets if s in seen]
    assert leaked == []
    for case in SECRETS:  # and every case still arrived, marked as scrubbed
        assert case.id in seen or case.where in {"log_body", "metric"}
    assert seen.count("flext.scrubbed_keys") >= len(SECRETS) - 2


def metrics_of(rx: OtlpReceiver) -> str:
    """Every received metric point's attributes, as text."""
    return repr([p.attributes for p in rx.metrics()])


def test_secret_spans_arrive_marked_at_the_receiver(receiver: OtlpReceiver) -> None:
    """A scrubbed span arrives with the redaction and flext.scrubbed_keys."""
    with _pipeline(receiver) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("e2e")
        with tracer.start_as_current_span("login", attributes={"password": "x1", "user": "bob"}):
            pass
        assert cap.otel.force_flush(10_000)
        (span,) = receiver.wait_for_spans(1, timeout=10.0)
    assert span.attributes["password"] == "[REDACTED]"
    assert span.attributes["user"] == "bob"
    assert list(span.attributes["flext.scrubbed_keys"]) == ["password"]


def test_innocent_cases_arrive_unchanged(
    receiver: OtlpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """Innocent keys and values reach OTLP and the store exactly as recorded."""
    with _pipeline(receiver) as cap:
        _record(cap, INNOCENT)
        assert cap.otel.force_flush(10_000)
        capsys.readouterr()
        spans = receiver.wait_for_spans(
            sum(1 for c in INNOCENT if c.where in ("span", "event")), timeout=10.0
        )
        logs = receiver.wait_for_logs(
            sum(1 for c in INNOCENT if c.where.startswith("log")), timeout=10.0
        )
        stored = {s.name: s for s in cap.spans()}
        points = cap.metrics("requests_total")
    by_name = {s.name: s for s in spans}
    for case in INNOCENT:
        if case.where == "span":
            assert by_name[case.id].attributes[case.key] == case.value
            assert stored[case.id].attributes[case.key] == case.value
            assert "flext.scrubbed_keys" not in by_name[case.id].attributes
        elif case.where == "event":
            assert by_name[case.id].events[0][2] == {case.key: case.value}
        elif case.where == "log_body":
            assert any(r.body == case.value for r in logs)
        elif case.where == "log_attr":
            assert any(r.attributes == {case.key: case.value} for r in logs)
        else:
            assert any(p.attributes.get(case.key) == case.value for p in points)
    assert all("flext.scrubbed_keys" not in r.attributes for r in logs)


def test_ten_megabyte_attribute_never_reaches_the_receiver(receiver: OtlpReceiver) -> None:
    """Span, event and log attributes arrive cut to 8 KiB."""
    big = "z" * (10 * 1024 * 1024)
    with _pipeline(receiver) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("e2e")
        with tracer.start_as_current_span("big", attributes={"big": big}) as span:
            span.add_event("e", {"big": big})
        cap.otel.logger_provider.get_logger("e2e").emit(body="big", attributes={"big": big})
        assert cap.otel.force_flush(10_000)
        (received,) = receiver.wait_for_spans(1, timeout=10.0)
        (log,) = receiver.wait_for_logs(1, timeout=10.0)
    assert len(received.attributes["big"]) == 8192
    assert len(received.events[0][2]["big"]) == 8192
    assert len(log.attributes["big"]) == 8192
