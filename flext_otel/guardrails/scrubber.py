"""The compiled scrubbing rules: :class:`Scrubber`, its counters, metric-attribute scrubbing.

The rules are stated in :mod:`flext_otel.guardrails.rules`; this module applies
them to mappings and text, fast in the common case (cached key verdicts, cached
clean values and pairs, cheap substring tests before any regex). Pure Python:
no OpenTelemetry import (the OTel glue is :mod:`flext_otel.guardrails.scrubbing`).

Imports: ``guardrails.rules``, ``guardrails.options`` and the standard library.
Threading: a :class:`Scrubber` is shared by every thread; its caches are plain
dicts that are only added to or cleared whole (safe under the GIL), and its
methods never raise on attribute values of any type. :class:`GuardrailCounters`
takes a lock per update.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from flext_otel.guardrails.options import REDACTED, ScrubbingOptions
from flext_otel.guardrails.rules import (
    _ALLOWED,
    _BIG_INT,
    _CLEAN_CACHE_MAX_LEN,
    _CLEAN_CACHE_SIZE,
    _HEADER_WORDS,
    _INNOCENT,
    _MIN_SECRET,
    _PAIR_NAMES,
    _PAIR_VALUES,
    _SENSITIVE,
    _SMALL_NUMBER,
    _STRUCTURAL,
    _VERDICT_CACHE_SIZE,
    key_is_sensitive,
    looks_like_card_number,
    may_hold_number_secret,
)

# -- counters ----------------------------------------------------------------


class GuardrailCounters:
    """Thread-safe counts of what the guardrails did (shown by ``FlextOtel.health()``)."""

    __slots__ = ("_counts", "_lock")

    NAMES = ("scrubbed_items", "scrubbed_values", "callback_errors", "truncated", "internal_errors")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.NAMES, 0)

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        if n:
            with self._lock:
                self._counts[name] += n

    def snapshot(self) -> dict[str, int]:
        """The counts as a plain dict."""
        with self._lock:
            return dict(self._counts)


class _Outcome:
    """What one scrub pass changed: dotted keys scrubbed and callback failures."""

    __slots__ = ("callback_errors", "keys")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.callback_errors = 0


_Primitive = (str, bool, int, float)
_NO_ATTRIBUTES: Mapping[str, Any] = {}


def _is_attribute_value(value: object) -> bool:
    if isinstance(value, _Primitive):
        return True
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, _Primitive) for v in value)
    return False


# -- the scrubber ------------------------------------------------------------


class Scrubber:
    """Compiled scrubbing rules (see :mod:`flext_otel.guardrails.rules`); thread-safe.

    (Longer than 250 lines on purpose: one compiled rule set and the caches its
    hot path shares; split apart, each span would pay extra calls.)

    The common case is fast: key verdicts and clean strings are cached
    (bounded); a string is matched against the secret patterns only when cheap
    substring tests find what those patterns need (``=``/``:`` for pairs and
    headers, ``-----``, ``eyJ``, ``bearer``, ``://`` with ``@``, four digits in a
    row in 11+ characters with 9+ digits in all); every pattern scans in linear time.
    """

    def __init__(self, options: ScrubbingOptions | None = None) -> None:
        opts = options if options is not None else ScrubbingOptions()
        self.options = opts
        self.replacement = opts.replacement
        self._allow = opts.allow_keys
        self._callback = opts.callback
        extra = "|".join(f"(?:{p})" for p in opts.extra_patterns)
        self._extra_search = re.compile(extra, re.IGNORECASE).search if extra else None
        self._extra_sub = re.compile(extra, re.IGNORECASE).sub if extra else None
        self._structural = re.compile(_STRUCTURAL, re.IGNORECASE).sub
        self._pairs = re.compile(_PAIR_NAMES, re.IGNORECASE).search
        self._always_scan = bool(extra)
        self._min_len = 1 if extra else _MIN_SECRET
        self._verdicts: dict[str, int] = {}
        self._clean: dict[str | float, None] = {}  # clean strings and large numbers
        self._clean_pairs: dict[tuple[str, Any], None] = {}

    # -- keys -------------------------------------------------------------
    def key_verdict(self, key: str) -> int:
        """0 innocent, 1 sensitive, 2 never scrubbed (allowed or flext bookkeeping)."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            if key in self._allow or key.startswith("flext."):
                verdict = _ALLOWED
            elif key_is_sensitive(key) or (
                self._extra_search is not None and self._extra_search(key) is not None
            ):
                verdict = _SENSITIVE
            else:
                verdict = _INNOCENT
            if len(self._verdicts) >= _VERDICT_CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def is_sensitive_key(self, key: str) -> bool:
        """True when a value under ``key`` is redacted whole."""
        return self.key_verdict(key) == _SENSITIVE

    # -- text -------------------------------------------------------------
    def _structural_repl(self, match: re.Match[str]) -> str:
        kind = match.lastgroup
        if kind == "pan":
            digits = match.group("pan").replace(" ", "").replace("-", "")
            return self.replacement if looks_like_card_number(digits) else match.group(0)
        if kind in ("hv", "bv", "uv"):
            prefix = {"hv": "hk", "bv": "bk", "uv": "uk"}[kind]
            return match.group(prefix) + self.replacement + ("@" if kind == "uv" else "")
        return self.replacement

    def _scrub_pairs(self, text: str) -> str:
        """Redact the values of ``name=value``, ``name: value`` and ``"name": value`` pairs
        whose name is sensitive. After an innocent name, scanning resumes right after its
        separator, so a pair nested in its value (``error: password=x``) is still seen."""
        search = self._pairs
        parts: list[str] = []
        pos = last = 0
        end = len(text)
        while pos < end:
            match = search(text, pos)
            if match is None:
                break
            pos = max(match.end(), pos + 1)
            name_group, value_match = _PAIR_VALUES[match.lastgroup or ""]
            if not self.is_sensitive_key(match.group(name_group)):
                continue
            value = value_match(text, match.end())
            if value is None:
                continue
            quote = value.group(0)[0] if text[value.start()] in ('"', "'") else ""
            parts.append(text[last : value.start()])
            parts.append(f"{quote}{self.replacement}{quote}")
            last = pos = value.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)

    def _remember_clean(self, text: str | float) -> None:
        if type(text) is not str or len(text) <= _CLEAN_CACHE_MAX_LEN:
            clean = self._clean
            if len(clean) >= _CLEAN_CACHE_SIZE:
                clean.clear()
            clean[text] = None

    def scrub_text(self, text: str) -> str:
        """``text`` with every secret-looking part replaced; the same object when clean.

        Short strings already found clean are remembered (bounded), so repeated
        values (routes, hosts, methods) cost one dictionary lookup.
        """
        if len(text) < self._min_len or text in self._clean:
            return text
        # cheap tests for what each family of rules needs, before any regex runs
        separated = self._always_scan or "=" in text or ":" in text
        lower = text.lower()
        structural = (
            self._always_scan
            or "-----" in text
            or "eyJ" in text
            or may_hold_number_secret(text)
            or "bearer" in lower
            or ("@" in text and "://" in text)
            or (separated and any(word in lower for word in _HEADER_WORDS))
        )
        if not structural and not separated:
            self._remember_clean(text)
            return text
        new = self._structural(self._structural_repl, text) if structural else text
        if separated:
            new = self._scrub_pairs(new)
        if self._extra_sub is not None:
            new = self._extra_sub(self.replacement, new)
        if new == text:
            self._remember_clean(text)
            return text
        return new

    # -- values -----------------------------------------------------------
    def _redact(self, key: str, value: Any, outcome: _Outcome) -> Any:
        """The redaction of ``value`` (whole), after the callback's say."""
        if isinstance(value, Mapping):
            return {k: self._redact(f"{key}.{k}", v, outcome) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            redacted: Any = tuple(self.replacement for _ in value)
        else:
            redacted = self.replacement
        return self._ask_callback(key, value, redacted, outcome)

    def _ask_callback(self, key: str, original: Any, redacted: Any, outcome: _Outcome) -> Any:
        outcome.keys.append(key)
        callback = self._callback
        if callback is None:
            return redacted
        try:
            chosen = callback(key, original)
        except Exception:  # fail closed: keep the redaction
            outcome.callback_errors += 1
            return redacted
        if chosen is None:
            return redacted
        if not _is_attribute_value(chosen):
            outcome.callback_errors += 1
            return redacted
        return chosen

    def _scrub_value(self, key: str, value: Any, outcome: _Outcome, depth: int = 0) -> Any:
        """``value`` under the innocent key ``key`` with secrets replaced (same object if clean)."""
        if isinstance(value, str):
            new = self.scrub_text(value)
            if new is value:
                return value
            return self._ask_callback(key, value, new, outcome)
        if isinstance(value, (bool, float)):
            return value
        if isinstance(value, int):
            if -_BIG_INT < value < _BIG_INT or not looks_like_card_number(str(abs(value))):
                return value
            return self._ask_callback(key, value, self.replacement, outcome)
        if depth > 8:  # absurdly deep nesting: fail closed
            return self._redact(key, value, outcome)
        if isinstance(value, Mapping):
            return self.scrub_mapping(value, outcome, prefix=f"{key}.", depth=depth + 1)
        if isinstance(value, (list, tuple)):
            items = [self._scrub_value(key, v, outcome, depth + 1) for v in value]
            if all(a is b for a, b in zip(items, value, strict=True)):
                return value
            return type(value)(items)
        return value

    def known_clean(self, attributes: dict[str, Any]) -> bool:
        """True when every ``(key, value)`` pair of ``attributes`` was found clean
        before (one C-level pass over the pair cache; such values are short, so
        none can be at a length limit). False means "check": it may still be clean.
        """
        try:
            return attributes.items() <= self._clean_pairs.keys()
        except TypeError:  # an unhashable value (a list): check item by item
            return False

    def clean_check(self, attributes: Mapping[str, Any], limit: int | None = None) -> int | None:
        """One pass over ``attributes``: ``None`` when something needs scrubbing, else how
        many string values are at least ``limit`` long (truncated by the SDK).

        Key verdicts and clean strings are cached; ``(key, value)`` pairs whose value
        repeats (a string seen clean before, a bool, a small number) are remembered
        too (bounded), so a mapping of repeated pairs is checked in one C-level pass
        while unique values (IDs) do not churn that cache.
        """
        pairs = self._clean_pairs
        items = list(attributes.items())  # one pass over the SDK's (Python-level) mapping
        if limit is None or limit > _CLEAN_CACHE_MAX_LEN:
            try:
                if all(map(pairs.__contains__, items)):
                    return 0
            except TypeError:  # an unhashable value: check item by item
                pass
        verdicts = self._verdicts
        clean = self._clean
        min_len = self._min_len
        big = limit if limit is not None else 1 << 62
        truncated = 0
        cacheable: list[tuple[str, Any]] = []
        for item in items:
            key, value = item
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = self.key_verdict(key)
            if verdict == _SENSITIVE:
                return None
            kind = type(value)
            if kind is str:
                size = len(value)
                if size >= big:
                    truncated += 1
                if size < min_len or value in clean:  # seen before: worth remembering
                    if size <= _CLEAN_CACHE_MAX_LEN:
                        cacheable.append(item)
                elif verdict != _ALLOWED and self.scrub_text(value) is not value:
                    return None
            elif kind is int or kind is float:
                if -_BIG_INT < value < _BIG_INT:
                    if -_SMALL_NUMBER < value < _SMALL_NUMBER:
                        cacheable.append(item)
                elif value in clean:  # a large number seen clean before (a thread ID)
                    cacheable.append(item)
                elif verdict != _ALLOWED and self._scrub_value(key, value, _Outcome()) is not value:
                    return None
                else:  # remembered, so a repeat is cached as a pair
                    self._remember_clean(value)
            elif kind is bool:
                cacheable.append(item)
            elif kind is tuple or kind is list:
                truncated += sum(1 for v in value if isinstance(v, str) and len(v) >= big)
                if verdict != _ALLOWED and self._scrub_value(key, value, _Outcome()) is not value:
                    return None
            else:
                return None
        if len(pairs) + len(cacheable) > _CLEAN_CACHE_SIZE:
            pairs.clear()
        pairs.update(dict.fromkeys(cacheable))
        return truncated

    def scrub_mapping(
        self,
        attributes: Mapping[str, Any],
        outcome: _Outcome | None = None,
        *,
        prefix: str = "",
        depth: int = 0,
    ) -> Mapping[str, Any]:
        """``attributes`` with secrets replaced: the SAME mapping when nothing matched."""
        own = outcome if outcome is not None else _Outcome()
        changed: dict[str, Any] | None = None
        verdicts = self._verdicts
        clean = self._clean
        min_len = self._min_len
        for key, value in attributes.items():
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = self.key_verdict(key)
            if verdict == _INNOCENT:
                kind = type(value)
                if kind is str:
                    if len(value) < min_len or value in clean:
                        continue
                elif (
                    kind is bool or kind is float or (kind is int and -_BIG_INT < value < _BIG_INT)
                ):
                    continue
                new = self._scrub_value(prefix + key, value, own, depth)
            elif verdict == _SENSITIVE:
                new = self._redact(prefix + key, value, own)
            else:
                continue
            if new is not value:
                if changed is None:
                    changed = {}
                changed[key] = new
        if changed is None:
            return attributes
        return {key: changed.get(key, value) for key, value in attributes.items()}

    def scrub_attributes(
        self, attributes: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        """``(attributes with secrets replaced, scrubbed keys)``; the same mapping when clean.

        No ``flext.scrubbed_keys`` entry is added (use it for metric attributes,
        where an extra attribute would create a new series).
        """
        if self.clean_check(attributes) is not None:  # the common case: nothing to do
            return attributes, ()
        outcome = _Outcome()
        new = self.scrub_mapping(attributes, outcome)
        return new, tuple(sorted(set(outcome.keys)))


def count_at_limit(attributes: Mapping[str, Any] | None, limit: int) -> int:
    if not attributes:
        return 0
    hits = 0
    for value in attributes.values():
        if type(value) is str:
            if len(value) >= limit:
                hits += 1
        elif isinstance(value, (list, tuple)):
            hits += sum(1 for v in value if isinstance(v, str) and len(v) >= limit)
    return hits


# -- metric attributes -------------------------------------------------------

_DEFAULT_SCRUBBER: Scrubber | None = None


def scrub_attributes(
    attributes: Mapping[str, Any] | None, options: ScrubbingOptions | None = None
) -> tuple[Mapping[str, Any] | None, tuple[str, ...]]:
    """``(attributes with secrets replaced, scrubbed keys)`` by the default (or given) rules.

    The same mapping object comes back when nothing matched. Meant for metric
    attributes (tags), which the SDK pipeline does not scrub.

    >>> scrub_attributes({"region": "eu", "api_key": "s3cr3t"})
    ({'region': 'eu', 'api_key': '[REDACTED]'}, ('api_key',))
    """
    global _DEFAULT_SCRUBBER  # one lazily built default, no import-time work
    if not attributes:
        return attributes, ()
    if options is None:
        if _DEFAULT_SCRUBBER is None:
            _DEFAULT_SCRUBBER = Scrubber()
        scrubber = _DEFAULT_SCRUBBER
    else:
        scrubber = Scrubber(options)
    return scrubber.scrub_attributes(attributes)


__all__ = [
    "REDACTED",
    "GuardrailCounters",
    "Scrubber",
    "ScrubbingOptions",
    "count_at_limit",
    "scrub_attributes",
]
