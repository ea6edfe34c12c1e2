"""Scrubber on the value shapes attributes take: nested, sequences, big numbers, caches."""

from __future__ import annotations

from typing import Any

import pytest

from flext_otel.guardrails.options import REDACTED, ScrubbingOptions
from flext_otel.guardrails.scrubbing import Scrubber

CARD = 4111111111111111  # a Luhn-valid test card number


def test_a_sensitive_key_redacts_a_nested_mapping_key_by_key() -> None:
    """Under a sensitive key every nested value is redacted and reported by its dotted key."""
    scrubber = Scrubber()
    new, keys = scrubber.scrub_attributes({"password": {"old": "a", "new": "b"}, "x": 1})
    assert new == {"password": {"old": REDACTED, "new": REDACTED}, "x": 1}
    assert keys == ("password.new", "password.old")


def test_a_sensitive_key_redacts_every_item_of_a_sequence() -> None:
    """A list under a sensitive key keeps its length, each item redacted."""
    new, keys = Scrubber().scrub_attributes({"api_key": ["k1-aaaaaa", "k2-bbbbbb"]})
    assert new["api_key"] == (REDACTED, REDACTED)
    assert keys == ("api_key",)


def test_a_card_number_as_an_integer_is_redacted() -> None:
    """An int that is a valid card number is redacted even under an innocent key."""
    new, keys = Scrubber().scrub_attributes({"order.ref": CARD, "order.total": 10**13 + 1})
    assert new["order.ref"] == REDACTED
    assert new["order.total"] == 10**13 + 1  # big, but not a card number
    assert keys == ("order.ref",)


def test_secrets_inside_sequences_and_nested_mappings_are_found() -> None:
    """Strings in lists and nested mappings are scanned; clean ones stay the same objects."""
    scrubber = Scrubber()
    clean = ["plain", "values"]
    attributes: dict[str, Any] = {
        "args": ["ok", "Authorization: Bearer abcdefghijklmnop"],
        "context": {"note": "password=hunter22", "n": 3},
        "tags": clean,
    }
    new, keys = scrubber.scrub_attributes(attributes)
    assert new["args"][0] == "ok"
    assert "abcdefghijklmnop" not in new["args"][1]
    assert "hunter22" not in new["context"]["note"]
    assert new["tags"] is clean
    assert set(keys) == {"args", "context.note"}


def test_absurdly_deep_nesting_is_redacted_whole() -> None:
    """Past eight levels of nesting the value is redacted rather than walked (fail closed)."""
    deep: Any = "leaf-value-with-no-secret"
    for _ in range(12):
        deep = [deep]
    new, keys = Scrubber().scrub_attributes({"blob": deep})
    assert new["blob"] != deep
    assert keys == ("blob",)


def test_unhashable_values_are_checked_item_by_item() -> None:
    """A list value (unhashable in the clean-pair cache) is still checked and kept when clean."""
    scrubber = Scrubber()
    attributes = {"tags": ["alpha", "beta"], "route": "/users/{id}"}
    assert scrubber.clean_check(attributes) == 0
    assert scrubber.clean_check(attributes) == 0  # and again, from the caches
    assert scrubber.scrub_attributes(attributes) == (attributes, ())


def test_clean_check_counts_strings_at_the_truncation_limit() -> None:
    """With a limit, clean_check counts values that the SDK will truncate."""
    scrubber = Scrubber()
    attributes = {"a": "x" * 300, "b": "short", "c": ("y" * 400, "z")}
    assert scrubber.clean_check(attributes, 256) == 2
    assert scrubber.clean_check({"a": b"bytes"}) is None  # an odd type needs the full pass


def test_callback_can_keep_replace_or_fail_closed() -> None:
    """The callback's value replaces the redaction; a bad value or an exception keeps it."""
    calls: list[tuple[str, Any]] = []

    def decide(key: str, value: Any) -> Any:
        calls.append((key, value))
        if key == "token":
            return "tok-…"
        if key == "secret":
            return {"not": "an attribute value"}
        if key == "password":
            raise RuntimeError("callback bug")
        return None

    scrubber = Scrubber(ScrubbingOptions(callback=decide))
    new, _ = scrubber.scrub_attributes(
        {"token": "abcdefgh", "secret": "s3cr3t-value", "password": "pw-123456", "api_key": "k"}
    )
    assert new == {"token": "tok-…", "secret": REDACTED, "password": REDACTED, "api_key": REDACTED}
    assert {key for key, _ in calls} == {"token", "secret", "password", "api_key"}


def test_extra_patterns_redact_keys_and_text() -> None:
    """extra_patterns make matching keys sensitive and matching text redacted."""
    scrubber = Scrubber(ScrubbingOptions(extra_patterns=("internal-[0-9]+",)))
    assert scrubber.is_sensitive_key("internal-42")
    assert scrubber.scrub_text("see internal-7 now") == f"see {REDACTED} now"
    assert scrubber.scrub_text("nothing here") == "nothing here"


def test_allowed_and_flext_keys_are_never_scrubbed() -> None:
    """allow_keys and flext.* bookkeeping keys pass through whatever their value."""
    scrubber = Scrubber(ScrubbingOptions(allow_keys=frozenset({"password"})))
    attributes = {"password": "hunter2-visible", "flext.note": "token=abc123456"}
    assert scrubber.scrub_attributes(attributes) == (attributes, ())


@pytest.mark.parametrize("count", [5_000])
def test_caches_stay_bounded_and_correct_past_their_size(count: int) -> None:
    """Thousands of distinct keys and values overflow the caches; verdicts stay right."""
    scrubber = Scrubber()
    for i in range(count):
        attributes = {f"key{i}": f"value-{i:06d}", "route": f"/r/{i}"}
        assert scrubber.scrub_attributes(attributes) == (attributes, ())
    assert scrubber.is_sensitive_key("password")
    assert not scrubber.is_sensitive_key("key1")
    new, keys = scrubber.scrub_attributes({"note": "password=hunter22"})
    assert keys == ("note",)
    assert "hunter22" not in new["note"]
