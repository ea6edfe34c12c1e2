"""Guardrails: scrubbing rules, span/log redaction, limits, sampling and metric cardinality."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from flext_otel.guardrails.facade import (
    SCRUBBED_KEYS_ATTRIBUTE,
    SDK_HAS_CARDINALITY_LIMITS,
    RateLimitingSampler,
    Scrubber,
    TailSamplingProcessor,
    key_words,
    looks_like_card_number,
    make_span_transform,
    scrub_attributes,
)
from flext_otel.guardrails.options import SamplingOptions, ScrubbingOptions
from flext_otel.pipeline.options import resolve_options
from flext_otel.support.counters import PipelineCounters
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


# -- head sampling and rate limit -------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _rate_limited(per_second: float) -> tuple[TracerProvider, InMemorySpanExporter, Any, Any]:
    clock = _Clock()
    counters = PipelineCounters("traces:sampler")
    sampler = RateLimitingSampler(
        sampling.ParentBased(sampling.ALWAYS_ON), per_second, counters, clock
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter, clock, counters


def test_rate_limit_caps_root_traces_per_second_and_children_follow() -> None:
    """At most N roots per second are sampled; their children too; dropped roots counted."""
    provider, exporter, clock, counters = _rate_limited(2)
    tracer = provider.get_tracer("t")
    for _ in range(5):
        with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
            pass
    assert [s.name for s in exporter.get_finished_spans()].count("root") == 2
    assert [s.name for s in exporter.get_finished_spans()].count("child") == 2
    stats = counters.snapshot()
    assert (stats.accepted, stats.exported, stats.dropped["sampled_out"]) == (5, 2, 3)
    clock.now += 1.0
    with tracer.start_as_current_span("root"):
        pass
    assert [s.name for s in exporter.get_finished_spans()].count("root") == 4 - 1


def test_rate_limit_zero_drops_every_root() -> None:
    """A rate of zero samples no new trace."""
    provider, exporter, _, counters = _rate_limited(0)
    with provider.get_tracer("t").start_as_current_span("root"):
        pass
    assert exporter.get_finished_spans() == ()
    assert counters.snapshot().dropped["sampled_out"] == 1


def test_rate_limit_is_wired_and_reported_in_stats() -> None:
    """configure(sampling=...) installs the limiter; stats() shows traces:sampler."""
    with capture(sampling=SamplingOptions(max_traces_per_second=1)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        for _ in range(10):
            with tracer.start_as_current_span("root"):
                pass
        stored = len(cap.spans())
        stats = cap.otel.stats()["traces:sampler"]
        assert 1 <= stored <= 2
        assert stats.dropped["sampled_out"] == 10 - stored
        assert stats.lost == 0


@pytest.mark.parametrize(
    ("fields", "option"),
    [
        ({"max_traces_per_second": -1}, "sampling.max_traces_per_second"),
        ({"max_traces_per_second": float("nan")}, "sampling.max_traces_per_second"),
        ({"background_ratio": 1.5}, "sampling.background_ratio"),
        ({"background_ratio": -0.1}, "sampling.background_ratio"),
        ({"max_buffered_spans": -5}, "sampling.max_buffered_spans"),
        ({"max_buffered_spans": 0}, "sampling.max_buffered_spans"),
        ({"decision_wait_ms": -1}, "sampling.decision_wait_ms"),
        ({"slow_threshold_ms": -3}, "sampling.slow_threshold_ms"),
        ({"tail": "yes"}, "sampling.tail"),
    ],
)
def test_bad_sampling_options_raise_config_error_naming_the_option(
    fields: dict[str, Any], option: str
) -> None:
    """Negative rates or capacities and ratios outside [0, 1] name the option."""
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        SamplingOptions(**fields)
    with pytest.raises(ConfigError, match=option.replace(".", r"\.")):
        resolve_options(environ={}, sampling=fields)


def test_unknown_sampler_name_raises_config_error() -> None:
    """An unknown OTEL_TRACES_SAMPLER names the variable (or the option)."""
    with pytest.raises(ConfigError, match="OTEL_TRACES_SAMPLER"):
        resolve_options(environ={"OTEL_TRACES_SAMPLER": "sometimes"})
    with pytest.raises(ConfigError, match="sampler"):
        resolve_options(environ={}, sampler="sometimes")


def test_sampling_cannot_come_from_the_environment_but_accepts_a_mapping() -> None:
    """`sampling` is an argument (object or mapping of its fields)."""
    opts = resolve_options(environ={}, sampling={"max_traces_per_second": 5})
    assert opts.sampling == SamplingOptions(max_traces_per_second=5)


# -- tail sampling ---------------------------------------------------------------


class _Recorder(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.lock = threading.Lock()
        self.flushed = 0
        self.stopped = 0

    def on_end(self, span: ReadableSpan) -> None:
        with self.lock:
            self.spans.append(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.flushed += 1
        return True

    def shutdown(self) -> None:
        self.stopped += 1


class _NsClock:
    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        return self.now


def _tail(**fields: Any) -> tuple[TracerProvider, TailSamplingProcessor, _Recorder, _NsClock]:
    clock = _NsClock()
    tail = TailSamplingProcessor(
        SamplingOptions(tail=True, **fields), PipelineCounters("traces:tail"), clock_ns=clock
    )
    recorder = _Recorder()
    tail.add_child(recorder)
    provider = TracerProvider()
    provider.add_span_processor(tail)
    return provider, tail, recorder, clock


def _trace(tracer: trace_api.Tracer, children: int = 3, *, error: bool = False, ms: int = 1) -> int:
    start = 1_000_000_000
    with tracer.start_as_current_span("root", start_time=start, end_on_exit=False) as root:
        for i in range(children):
            with tracer.start_as_current_span(f"child{i}") as child:
                if error and i == children - 1:
                    child.set_status(Status(StatusCode.ERROR, "failed"))
    root.end(end_time=start + ms * 1_000_000)
    return root.get_span_context().trace_id


def test_tail_keeps_error_traces_whole() -> None:
    """A trace with an ERROR span is kept with every span; an ok fast one is dropped whole."""
    provider, tail, recorder, _ = _tail()
    tracer = provider.get_tracer("t")
    kept = _trace(tracer, error=True)
    dropped = _trace(tracer)
    ids = [s.context.trace_id for s in recorder.spans if s.context is not None]
    assert ids.count(kept) == 4
    assert dropped not in ids
    assert tail.stats().dropped["sampled_out"] == 4
    assert tail.buffered() == 0


def test_tail_keeps_slow_traces_whole() -> None:
    """A root lasting at least slow_threshold_ms keeps the whole trace."""
    provider, _, recorder, _ = _tail(slow_threshold_ms=100)
    tracer = provider.get_tracer("t")
    slow = _trace(tracer, ms=150)
    fast = _trace(tracer, ms=5)
    ids = [s.context.trace_id for s in recorder.spans if s.context is not None]
    assert ids.count(slow) == 4
    assert fast not in ids


def test_tail_background_ratio_is_deterministic_by_trace_id() -> None:
    """Ratio 1.0 keeps every trace; with 0.5 the decision follows the trace ID."""
    provider, _, recorder, _ = _tail(background_ratio=1.0)
    _trace(provider.get_tracer("t"))
    assert len(recorder.spans) == 4
    provider, _tail_processor, recorder, _ = _tail(background_ratio=0.5)
    tracer = provider.get_tracer("t")
    ids = [_trace(tracer, children=1) for _ in range(200)]
    expected = {t for t in ids if (t & 0xFFFFFFFFFFFFFFFF) < (1 << 63)}
    kept = {s.context.trace_id for s in recorder.spans if s.context is not None}
    assert kept == expected
    assert 40 < len(kept) < 160


def test_tail_late_children_follow_the_decision() -> None:
    """A span ending after its trace was decided is kept or dropped with it."""
    provider, tail, recorder, _ = _tail(keep_errors=True)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    ctx = trace_api.set_span_in_context(root)
    late = tracer.start_span("late", context=ctx)
    root.set_status(Status(StatusCode.ERROR))
    root.end()
    late.end()
    assert [s.name for s in recorder.spans] == ["root", "late"]
    root2 = tracer.start_span("root2")
    late2 = tracer.start_span("late2", context=trace_api.set_span_in_context(root2))
    root2.end()
    late2.end()
    assert "late2" not in [s.name for s in recorder.spans]
    assert tail.stats().dropped["sampled_out"] == 2


def test_tail_decides_after_the_wait_and_on_flush() -> None:
    """A trace whose root never ends is decided after decision_wait_ms or on force_flush."""
    provider, tail, recorder, clock = _tail(decision_wait_ms=1000, background_ratio=1.0)
    tracer = provider.get_tracer("t")
    root = tracer.start_span("open-root")
    with tracer.start_as_current_span("child", context=trace_api.set_span_in_context(root)):
        pass
    assert tail.buffered() == 1
    assert recorder.spans == []
    clock.now += 2_000_000_000
    with tracer.start_as_current_span("other-root"):
        pass
    assert sorted(s.name for s in recorder.spans) == ["child", "other-root"]
    root.end()
    assert "open-root" in [s.name for s in recorder.spans]  # follows the remembered keep
    pending = tracer.start_span("pending-root")
    with tracer.start_as_current_span("c2", context=trace_api.set_span_in_context(pending)):
        pass
    assert tail.force_flush(1000)
    assert "c2" in [s.name for s in recorder.spans]
    assert recorder.flushed == 1
    tail.shutdown()
    tail.shutdown()
    assert recorder.stopped == 1


def test_tail_buffer_stays_bounded_under_100x_load() -> None:
    """100x more open-trace spans than the bound: the buffer never exceeds it; evictions counted."""
    bound = 200
    provider, tail, recorder, _ = _tail(max_buffered_spans=bound, background_ratio=0.5)
    tracer = provider.get_tracer("t")
    roots = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(bound * 100 // 8 // 4):
                root = tracer.start_span("root")
                roots.append(root)
                ctx = trace_api.set_span_in_context(root)
                for _ in range(4):
                    tracer.start_span("child", context=ctx).end()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tail.high_water <= bound
    assert tail.buffered() <= bound
    during = tail.stats()
    assert during.exported + during.dropped["sampled_out"] >= bound * 100 - bound
    assert during.dropped["sampled_out"] > bound  # evictions of dropped traces are counted
    for root in roots:
        root.end()
    stats = tail.stats()
    assert stats.accepted == bound * 100 + len(roots)
    assert stats.exported + stats.dropped["sampled_out"] + tail.buffered() == stats.accepted
    forwarded = {s.context.trace_id for s in recorder.spans if s.context is not None}
    with_root = {s.context.trace_id for s in recorder.spans if s.context and s.parent is None}
    assert forwarded
    assert forwarded == with_root
    assert len(recorder.spans) == 5 * len(forwarded)  # kept traces are whole


def test_tail_sampling_wired_into_the_pipeline() -> None:
    """With tail sampling on, the store sees only kept traces; stats show sampled_out."""
    with capture(sampling=SamplingOptions(tail=True)) as cap:
        tracer = cap.otel.tracer_provider.get_tracer("t")
        kept = _trace(tracer, error=True)
        _trace(tracer)
        stored = {s.trace_id for s in cap.spans()}
        assert stored == {format(kept, "032x")}
        assert len(cap.spans()) == 4
        stats = cap.otel.stats()
        assert stats["traces:tail_sampler"].dropped["sampled_out"] == 4
        assert cap.otel.health()["guardrails"]["sampled_out"] == 4
    assert cap.report is not None
    assert cap.report.lost == 0


# -- metric cardinality ----------------------------------------------------------


@pytest.fixture
def overflow_warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="flext_otel")
    return caplog


@pytest.mark.skipif(
    not SDK_HAS_CARDINALITY_LIMITS, reason="opentelemetry-sdk < 1.45.2 has no cardinality limits"
)
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


@pytest.mark.skipif(
    not SDK_HAS_CARDINALITY_LIMITS, reason="opentelemetry-sdk < 1.45.2 has no cardinality limits"
)
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


def test_head_sampler_drops_are_counted_as_sampled_out() -> None:
    """A head sampler that drops spans is counted under traces:sampler; nothing is lost."""
    import flext_otel

    with capture(sampler="traceidratio", sampler_arg=0.1) as cap:
        for _ in range(300):
            with flext_otel.span("x"):
                pass
        stats = cap.otel.stats()["traces:sampler"]
        kept = len(cap.spans())
    assert stats.accepted == 300
    assert stats.exported == kept
    assert stats.dropped == {"sampled_out": 300 - kept}
    assert cap.report is not None
    assert cap.report.ok


def test_always_on_head_sampler_is_not_wrapped() -> None:
    """The default sampler keeps every span, so no sampler counters are added."""
    with capture() as cap:
        assert "traces:sampler" not in cap.otel.stats()


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
