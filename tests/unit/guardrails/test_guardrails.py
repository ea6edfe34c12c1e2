"""Guardrails: scrubbing rules, span/log redaction, limits and metric cardinality."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from flext_otel.guardrails.facade import (
    SCRUBBED_KEYS_ATTRIBUTE,
    Scrubber,
    key_words,
    looks_like_card_number,
    make_span_transform,
    scrub_attributes,
)
from flext_otel.guardrails.options import ScrubbingOptions
from flext_otel.pipeline.options import resolve_options
from flext_otel.support.errors import ConfigError
from flext_otel.testing import capture

R = "[REDACTED]"

# -- key rules -------------------------------------------------------------------

SENSITIVE_KEYS = [
    "password",
    "PASSWORD",
    "user.password",
    "db_passwd",
    "pwd",
    "client_secret",
    "aws_secret_access_key",
    "token",
    "X-Auth-Token",
    "refreshToken",
    "accesstoken",
    "apiKey",
    "APIKey",
    "api_key",
    "x-api-key",
    "http.request.header.authorization",
    "Proxy-Authorization",
    "auth",
    "bearer",
    "cookie",
    "http.response.header.set-cookie",
    "session",
    "session.id",
    "sessionId",
    "jwt",
    "private_key",
    "privateKey",
    "credit_card",
    "creditCard",
    "card.number",
    "pan",
    "ssn",
    "user.credentials",
    "passwordHash",
    "db.user.PassWord",
    "MiXeD.CaSe.ToKeN",
    "\uff30\uff21\uff33\uff33\uff37\uff2f\uff32\uff24",  # fullwidth PASSWORD
]

INNOCENT_KEYS = [
    "author",
    "authority",
    "http.authority",
    "tokenizer_version",
    "session_count",
    "session.duration",
    "token_type",
    "auth.method",
    "password_length",
    "gen_ai.usage.input_tokens",
    "llm.token_count.prompt",
    "passage",
    "keyboard",
    "spanish",
    "cookiecutter",
    "cache.key",
    "messaging.message.key",
    "http.method",
    "authenticated",
    "panel",
    "secretarial",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_keys_are_recognised(key: str) -> None:
    """Keys naming a secret (any case, separators, camelCase, NFKC) are sensitive."""
    assert Scrubber().is_sensitive_key(key)


@pytest.mark.parametrize("key", INNOCENT_KEYS)
def test_innocent_keys_that_contain_the_letters_are_not_sensitive(key: str) -> None:
    """Whole words only: author, tokenizer_version, session_count... are left alone."""
    assert not Scrubber().is_sensitive_key(key)


def test_key_words_split_on_separators_and_camel_case() -> None:
    """Keys are split on non-alphanumerics and camelCase boundaries, lower-cased."""
    assert key_words("http.request.header.X-API-Key") == [
        "http",
        "request",
        "header",
        "x",
        "api",
        "key",
    ]
    assert key_words("APIKeyValue") == ["api", "key", "value"]
    assert key_words("tokenizer_version2") == ["tokenizer", "version", "2"]


# -- value rules -----------------------------------------------------------------

SECRET_VALUES = [
    ("Authorization: Bearer abc.def-123456", "abc.def-123456"),
    ("proxy-authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("sent Bearer 9f8e7d6c5b4a3 upstream", "9f8e7d6c5b4a3"),
    ("bEaReR ZZZZZZZZZZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZZZZZZZZZZ"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
    ("card 4111 1111 1111 1111 charged", "4111 1111 1111 1111"),
    ("card 5555-5555-5555-4444", "5555-5555-5555-4444"),
    ("amex 378282246310005", "378282246310005"),
    ("ssn 078-05-1120", "078-05-1120"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "MIIEvQIBADANBg"),
    ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx (truncated", "MHcCAQEEIBx"),
    ("https://bob:hunter22@db.example.com/x", "hunter22"),
    ("/login?user=bob&password=hunter23&next=/", "hunter23"),
    ("PASSWORD=Hunter24", "Hunter24"),
    ('{"user": "bob", "api_key": "k-hunter25"}', "k-hunter25"),
    ("password: hunter26", "hunter26"),
    ("Cookie: sid=abc27; theme=dark", "abc27"),
    ("client_secret='hunter28'", "hunter28"),
    (
        "\u043e\u0448\u0438\u0431\u043a\u0430 token=\u0441\u0435\u043a\u0440\u0435\u0442",
        "\u0441\u0435\u043a\u0440\u0435\u0442",
    ),
]


@pytest.mark.parametrize(("text", "secret"), SECRET_VALUES)
def test_secret_looking_values_are_redacted(text: str, secret: str) -> None:
    """Secret-looking parts of strings are replaced; the replacement holds none of the secret."""
    scrubbed = Scrubber().scrub_text(text)
    assert secret not in scrubbed
    assert R in scrubbed


INNOCENT_VALUES = [
    "GET",
    "/users/{id}",
    "https://example.com/search?q=hello&page=2",
    "https://user@example.com/",
    "SELECT * FROM users WHERE id = 5",
    "user bob logged in at 12:30:00",
    "token expired for user 42",
    "Bearer",
    "error: timeout after 30s",
    "2024-01-15T10:00:00Z",
    "123e4567-e89b-12d3-a456-426614174000",
    "order 1712345678901234567 shipped",
    "4111 1111 1111 1112",  # fails Luhn
    "phone 555-123-4567",
    "basic authentication is enabled",
    "application/json; charset=utf-8",
]


@pytest.mark.parametrize("text", INNOCENT_VALUES)
def test_innocent_values_pass_unchanged(text: str) -> None:
    """Ordinary strings (URLs, SQL, dates, IDs, prose) are returned as the same object."""
    assert Scrubber().scrub_text(text) is text


def test_card_numbers_need_issuer_length_and_luhn() -> None:
    """A card number is 13-19 digits with an issuer prefix and a valid Luhn checksum."""
    assert looks_like_card_number("4111111111111111")
    assert looks_like_card_number("378282246310005")
    assert not looks_like_card_number("4111111111111112")
    assert not looks_like_card_number("1712345678901234567")
    assert not looks_like_card_number("411111111111")


def test_mapping_scrubbing_returns_same_object_when_clean() -> None:
    """The common case allocates nothing: the same mapping comes back."""
    attributes = {"http.method": "GET", "http.status_code": 200, "user.id": 42, "ok": True}
    assert Scrubber().scrub_mapping(attributes) is attributes


def test_sequences_and_nested_mappings_are_scrubbed_element_wise() -> None:
    """Sequences keep their length; nested mappings are scrubbed key by key."""
    scrubber = Scrubber()
    new, keys = scrubber.scrub_attributes(
        {
            "tags": ("ok", "api_key=s3cr3t", "fine"),
            "secrets": ["a", "b"],
            "request": {"headers": {"Cookie": "sid=1", "Accept": "*/*"}},
        }
    )
    assert new["tags"] == ("ok", f"api_key={R}", "fine")
    assert new["secrets"] == (R, R)
    assert new["request"] == {"headers": {"Cookie": R, "Accept": "*/*"}}
    assert keys == ("request.headers.Cookie", "secrets", "tags")


def test_integer_card_numbers_are_redacted() -> None:
    """An integer value that is a card number is replaced; ordinary integers stay."""
    new, keys = Scrubber().scrub_attributes({"n": 4111111111111111, "big": 1712345678901234567})
    assert new == {"n": R, "big": 1712345678901234567}
    assert keys == ("n",)


# -- options -----------------------------------------------------------------------


def test_allow_keys_are_never_scrubbed() -> None:
    """An allowed key keeps its value even when key and value look secret."""
    scrubber = Scrubber(ScrubbingOptions(allow_keys=["session.id"]))
    new, keys = scrubber.scrub_attributes({"session.id": "Bearer abcdefgh1234", "token": "x"})
    assert new["session.id"] == "Bearer abcdefgh1234"
    assert keys == ("token",)


def test_extra_patterns_match_keys_and_values() -> None:
    """An extra pattern makes matching keys sensitive and redacts matching value parts."""
    scrubber = Scrubber(ScrubbingOptions(extra_patterns=[r"internal_\w+", r"ACME-\d{4}"]))
    new, keys = scrubber.scrub_attributes({"internal_ref": "x", "note": "id acme-1234 ok"})
    assert new == {"internal_ref": R, "note": f"id {R} ok"}
    assert keys == ("internal_ref", "note")


def test_custom_replacement_is_used() -> None:
    """``replacement`` is what replaces a secret."""
    new, _ = Scrubber(ScrubbingOptions(replacement="***")).scrub_attributes({"pwd": "x"})
    assert new == {"pwd": "***"}


def test_callback_can_override_and_none_keeps_redaction() -> None:
    """The callback's value replaces the redaction; ``None`` keeps it."""
    seen: list[tuple[str, Any]] = []

    def callback(key: str, value: Any) -> Any:
        seen.append((key, value))
        return "kept-hash" if key == "token" else None

    new, _ = Scrubber(ScrubbingOptions(callback=callback)).scrub_attributes(
        {"token": "t0k3n", "password": "pw"}
    )
    assert new == {"token": "kept-hash", "password": R}
    assert ("token", "t0k3n") in seen


def test_failing_callback_fails_closed_and_is_counted() -> None:
    """A raising callback (or one returning a non-attribute value) leaves the redaction."""

    def callback(key: str, value: Any) -> Any:
        if key == "password":
            raise RuntimeError("boom")
        return {"not": "allowed"}

    with capture(scrubbing=ScrubbingOptions(callback=callback)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"password": "pw1", "token": "tk1"}):
            pass
        span = cap.spans()[0]
        assert span.attributes["password"] == R
        assert span.attributes["token"] == R
        assert cap.otel.health()["guardrails"]["callback_errors"] == 2


@pytest.mark.parametrize(
    ("value", "option"),
    [
        ({"extra_patterns": ["(unclosed"]}, "scrubbing.extra_patterns"),
        ({"extra_patterns": "password"}, "scrubbing.extra_patterns"),
        ({"allow_keys": [1]}, "scrubbing.allow_keys"),
        ({"callback": 3}, "scrubbing.callback"),
        ("yes please", "scrubbing"),
    ],
)
def test_bad_scrubbing_options_raise_config_error_naming_the_option(
    value: Any, option: str
) -> None:
    """A bad regex or wrongly typed field raises ConfigError naming the option."""
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        resolve_options(environ={}, scrubbing=value)


def test_scrubbing_options_constructor_validates() -> None:
    """ScrubbingOptions itself rejects a bad regex with the option's name."""
    with pytest.raises(ConfigError, match=r"scrubbing\.extra_patterns.*invalid regex"):
        ScrubbingOptions(extra_patterns=["[a-"])


def test_scrubbing_env_variable_turns_it_off() -> None:
    """FLEXT_OTEL_SCRUBBING=false disables scrubbing."""
    assert resolve_options(environ={"FLEXT_OTEL_SCRUBBING": "false"}).scrubbing is False


def test_scrubbing_false_disables_redaction() -> None:
    """With scrubbing=False spans keep their values and get no marker."""
    with capture(scrubbing=False) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"password": "pw"}):
            pass
        assert dict(cap.spans()[0].attributes) == {"password": "pw"}
        assert cap.otel.health()["guardrails"]["scrubbing"] is False


def test_scrub_attributes_function_for_metric_tags() -> None:
    """scrub_attributes returns the same mapping when clean and lists scrubbed keys."""
    clean = {"region": "eu"}
    assert scrub_attributes(clean) == (clean, ())
    assert scrub_attributes(clean)[0] is clean
    assert scrub_attributes({"region": "eu", "api_key": "k"}) == (
        {"region": "eu", "api_key": R},
        ("api_key",),
    )
    assert scrub_attributes(None) == (None, ())


def test_pipeline_scrub_attributes_follows_its_options() -> None:
    """otel.guardrails.scrub_attributes uses the pipeline's options and counts."""
    with capture(scrubbing=ScrubbingOptions(allow_keys=["token"])) as cap:
        new, keys = cap.otel.guardrails.scrub_attributes({"token": "t", "pwd": "p"})
        assert new == {"token": "t", "pwd": R}
        assert keys == ("pwd",)
        assert cap.otel.health()["guardrails"]["scrubbed_values"] == 1
    with capture(scrubbing=False) as cap:
        tags = {"pwd": "p"}
        assert cap.otel.guardrails.scrub_attributes(tags) == (tags, ())


# -- spans -----------------------------------------------------------------------


def _finished_span(**attributes: Any) -> ReadableSpan:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span("parent"),
        tracer.start_as_current_span("child", attributes=attributes) as span,
    ):
        span.add_event("e", {"token": "ev-secret", "n": 1})
        span.set_status(Status(StatusCode.ERROR, "login failed: password=pw-in-status"))
    provider.shutdown()
    return next(s for s in exporter.get_finished_spans() if s.name == "child")


def test_span_transform_returns_the_same_span_when_clean() -> None:
    """A span without secrets is passed through as the same object."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", attributes={"a": "b", "n": 1}):
        pass
    span = exporter.get_finished_spans()[0]
    transform = make_span_transform(Scrubber())
    assert transform is not None
    assert transform(span) is span


def test_span_transform_copies_everything_but_the_secrets() -> None:
    """The redacted copy keeps IDs, parent, times, kind, status code, links, resource, scope."""
    span = _finished_span(password="pw", route="/x")
    transform = make_span_transform(Scrubber())
    assert transform is not None
    copy = transform(span)
    assert copy is not None
    assert copy is not span
    assert copy.context == span.context
    assert copy.parent == span.parent
    assert (copy.start_time, copy.end_time) == (span.start_time, span.end_time)
    assert copy.kind == span.kind
    assert copy.resource is span.resource
    assert copy.instrumentation_scope == span.instrumentation_scope
    assert copy.status.status_code is StatusCode.ERROR
    assert copy.status.description == f"login failed: password={R}"
    attributes = dict(copy.attributes or {})
    assert attributes["password"] == R
    assert attributes["route"] == "/x"
    assert attributes[SCRUBBED_KEYS_ATTRIBUTE] == (
        "events.e.token",
        "password",
        "status.description",
    )
    event = copy.events[0]
    assert dict(event.attributes or {}) == {"token": R, "n": 1, SCRUBBED_KEYS_ATTRIBUTE: ("token",)}
    assert copy.dropped_attributes == span.dropped_attributes


def test_console_span_output_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    """The console exporter prints the redacted span."""
    with capture(traces_exporter="console") as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"api_key": "console-secret-1"}):
            pass
        cap.otel.force_flush()
    out = capsys.readouterr().out
    assert "console-secret-1" not in out
    assert "s" in out


# -- logs ------------------------------------------------------------------------


def _emit(cap: Any, body: Any, attributes: dict[str, Any] | None = None) -> None:
    cap.otel.logger_provider.get_logger("t").emit(body=body, attributes=attributes)


def test_log_attributes_and_string_body_are_scrubbed_in_place() -> None:
    """Attributes by key and value, the body by value; the record lists what was scrubbed."""
    with capture() as cap:
        _emit(cap, "login password=lp1 ok", {"user.token": "lt1", "user": "bob"})
        record = cap.logs()[0]
        assert record.body == f"login password={R} ok"
        assert record.attributes["user.token"] == R
        assert record.attributes["user"] == "bob"
        assert record.attributes[SCRUBBED_KEYS_ATTRIBUTE] == ("body", "user.token")


def test_dict_and_list_log_bodies_are_scrubbed() -> None:
    """A mapping body is scrubbed by key, a list body element-wise."""
    with capture() as cap:
        _emit(cap, {"user": "bob", "secret": "ls1", "nested": {"jwt": "x"}})
        _emit(cap, ["fine", "Bearer abcdef123456"])
        first, second = cap.logs()
        assert first.body == {"user": "bob", "secret": R, "nested": {"jwt": R}}
        assert second.body == ["fine", f"Bearer {R}"]
        assert first.attributes[SCRUBBED_KEYS_ATTRIBUTE] == ("body.nested.jwt", "body.secret")


def test_clean_log_record_gets_no_marker() -> None:
    """A record without secrets is stored unchanged, without flext.scrubbed_keys."""
    with capture() as cap:
        _emit(cap, "hello", {"user": "bob"})
        assert dict(cap.logs()[0].attributes) == {"user": "bob"}


def test_log_scrubbing_failure_blanks_the_record() -> None:
    """If scrubbing itself fails, the record is blanked (fail closed) and counted."""

    class Hostile(dict[str, Any]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    with capture() as cap:
        _emit(cap, Hostile(password="x"), {"a": "b"})
        record = cap.logs()[0]
        assert record.body == R
        assert dict(record.attributes) == {}
        assert cap.otel.health()["guardrails"]["internal_errors"] == 1


# -- limits ----------------------------------------------------------------------

TEN_MB = "x" * (10 * 1024 * 1024)


def test_ten_megabyte_values_are_truncated_and_counted() -> None:
    """Span, event and log attributes are cut to the limit; each truncation is counted."""
    with capture() as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"big": TEN_MB}) as span:
            span.add_event("e", {"big": TEN_MB})
        _emit(cap, TEN_MB, {"big": TEN_MB})
        stored = cap.spans()[0]
        assert len(stored.attributes["big"]) == 8192
        assert len(stored.events[0][2]["big"]) == 8192
        record = cap.logs()[0]
        assert len(record.attributes["big"]) == 8192
        assert len(record.body) == 8192
        assert cap.otel.health()["guardrails"]["truncated"] == 4


def test_truncation_follows_the_configured_limit() -> None:
    """OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT changes where values are cut."""
    with capture(attribute_value_length_limit=100) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("s", attributes={"big": "y" * 1000, "small": "z"}):
            pass
        assert len(cap.spans()[0].attributes["big"]) == 100
        assert cap.otel.health()["guardrails"]["truncated"] == 1


# -- metric cardinality ----------------------------------------------------------


@pytest.fixture
def overflow_warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="flext_otel")
    return caplog


def test_cardinality_cap_per_instrument_folds_the_rest_into_one_series(
    overflow_warnings: pytest.LogCaptureFixture,
) -> None:
    """100,000 sets with a cap of 500: at most 501 series, exact overflow sum, one warning."""
    with capture(metric_cardinality_limits={"requests_total": 500}) as cap:
        meter = cap.otel.meter_provider.get_meter("t")
        counter = meter.create_counter("requests_total")
        other = meter.create_counter("other_total")
        for i in range(100_000):
            counter.add(1, {"user": str(i)})
        for i in range(600):
            other.add(1, {"user": str(i)})
        points = cap.metrics("requests_total")
        assert len(points) <= 501
        overflow = [p for p in points if p.attributes.get("otel.metric.overflow") is True]
        assert len(overflow) == 1
        assert overflow[0].value == 100_000 - 500
        assert sum(p.value or 0 for p in points) == 100_000
        assert len(cap.metrics("other_total")) == 600  # global default 2000 applies
        warnings = [r for r in overflow_warnings.records if "cardinality limit" in r.getMessage()]
        assert len(warnings) == 1
        assert "requests_total" in warnings[0].getMessage()
        stats = cap.otel.stats()["metrics:cardinality"]
        assert stats.accepted == 99_500
        assert stats.lost == 0
        health = cap.otel.health()["guardrails"]
        assert health["metric_overflow"] == {"requests_total": 99_500}


def test_global_cardinality_limit_applies_to_every_instrument_and_prometheus() -> None:
    """metric_cardinality_limit caps every instrument, in the store and on /metrics."""
    from prometheus_client import generate_latest

    with capture(metric_cardinality_limit=10) as cap:
        histogram = cap.otel.meter_provider.get_meter("t").create_histogram("latency_ms")
        for i in range(50):
            histogram.record(float(i), {"route": f"/r{i}"})
        points = cap.metrics("latency_ms")
        assert len(points) == 11
        assert [p.count for p in points if p.attributes.get("otel.metric.overflow")] == [40]
        text = generate_latest(cap.otel.prometheus_registry).decode()
        assert text.count("latency_ms_milliseconds_count{") + text.count("latency_ms_count{") == 11
        guardrails = cap.otel.health()["guardrails"]
        assert guardrails["metric_overflow"]["latency_ms"] == 40
        assert guardrails["metric_overflow_total"] >= 40


def test_cardinality_limits_option_parses_env_and_rejects_bad_input() -> None:
    """FLEXT_OTEL_METRIC_CARDINALITY_LIMITS is name=limit,...; bad names/limits are errors."""
    opts = resolve_options(environ={"FLEXT_OTEL_METRIC_CARDINALITY_LIMITS": "A_total=5, b=7"})
    assert dict(opts.metric_cardinality_limits) == {"a_total": 5, "b": 7}
    for bad in ("a=0", "a=x", "*=5", "a"):
        with pytest.raises(ConfigError, match="FLEXT_OTEL_METRIC_CARDINALITY_LIMITS"):
            resolve_options(environ={"FLEXT_OTEL_METRIC_CARDINALITY_LIMITS": bad})
    with pytest.raises(ConfigError, match="metric_cardinality_limits"):
        resolve_options(environ={}, metric_cardinality_limits={"ok": -1})


HOSTILE = [
    "a" * 200_000,
    "1" * 200_000,
    "a=" * 100_000,
    "a: " * 60_000,
    '"a": ' * 40_000,
    "a://" * 50_000,
    "bearer " * 30_000,
    "-" * 200_000,
    "a.b-c_d=e:f " * 16_000,
    "[a]=" * 50_000,
    "a://b:c@" * 25_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:12]))
def test_hostile_strings_are_scanned_in_linear_time(text: str) -> None:
    """200 KB of pathological input is scanned in well under a second (no backtracking blow-up)."""
    import time

    start = time.perf_counter()
    Scrubber().scrub_text(text)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("access_tokens", True),
        ("refresh_tokens", True),
        ("api_keys", True),
        ("apiKeys", True),
        ("tokens", False),
        ("max_tokens", False),
        ("gen_ai.usage.output_tokens", False),
    ],
)
def test_plural_secret_keys_and_token_counts(key: str, sensitive: bool) -> None:
    """Plural keys that hold secrets are scrubbed; token counts are not."""
    from flext_otel.guardrails.scrubbing import Scrubber

    assert Scrubber(None).is_sensitive_key(key) is sensitive
