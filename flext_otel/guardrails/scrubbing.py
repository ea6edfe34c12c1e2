"""Secret scrubbing and limit accounting: the rules, the Scrubber, span and log redaction.

Scrubbing (on by default; ``configure(scrubbing=False)`` turns it off)
-----------------------------------------------------------------------
A :class:`Scrubber` redacts span attributes, span event attributes, span status
descriptions, log record attributes and log bodies before the store and before
any exporter sees them. Spans get a redacted *copy* (:meth:`Scrubber.span_transform`;
the same object comes back when nothing matched); log records are redacted in
place by :class:`GuardLogProcessor`, which runs ahead of the store and every
exporter. Metric attributes are not scrubbed by the SDK pipeline: callers that
record measurements with user-supplied tags run them through
:func:`scrub_attributes` (or ``Guardrails.scrub_attributes``) first.

**Key rules.** A key is NFKC-normalised, split into words on every character
that is not a letter or digit (``.``, ``_``, ``-``, spaces, ...) and on
camelCase boundaries (``apiKey`` -> ``api key``, ``APIKey`` -> ``api key``), and
lower-cased; the words without the camelCase split are checked too, so mixed case
such as ``PassWord`` is caught. It is sensitive when one of its words is in :data:`SENSITIVE_WORDS`
(``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``auth``,
``authorization``, ``bearer``, ``cookie``, ``session``, ``jwt``, ``ssn``,
``pan``, ``cvv``, ``credentials``, compounds such as ``apikey`` or
``accesstoken``, ...) or two adjacent words form a pair of
:data:`SENSITIVE_PAIRS` (``api key``, ``private key``, ``access key``,
``credit card``, ``card number``, ...), unless the word right after the match
is a qualifier from :data:`QUALIFIERS` (``count``, ``length``, ``size``,
``duration``, ``timeout``, ``expires``, ``type``, ``method``, ...): those keys
describe a secret without holding it. Whole words only, so ``author``,
``authority`` (the host part of a URL), ``tokenizer_version``, ``passage``,
``keyboard``, ``spanish``, ``cookiecutter``, ``session_count``,
``token_type`` and ``gen_ai.usage.input_tokens`` (a bare plural ``tokens``
names a count; ``access_tokens`` or ``api_keys`` hold secrets) are left
alone. A bare ``key`` is not sensitive (``cache.key``,
``messaging.message.key``). Keys in ``allow_keys`` (exact match; nested keys
as their dotted path) and flext's own ``flext.*`` bookkeeping keys are never
scrubbed. Every ``extra_patterns`` regex that matches a key (searched,
case-insensitively) makes it sensitive too.

A value under a sensitive key is replaced whole (a sequence element-wise,
keeping its length; a nested mapping entry by entry).

**Value rules**, for string values under any other key (and sequence elements,
nested mapping values, string log bodies, status descriptions), case-
insensitively: ``Authorization:``/``Proxy-Authorization:``/``Cookie:``/
``Set-Cookie:``/``X-Api-Key:``/``X-Auth-Token:`` header lines (the value to the
end of the line), ``Bearer <token>`` (8+ characters with a digit, or 20+),
JWTs (``eyJ...\\.eyJ...\\....``), PEM private-key blocks, credentials in URLs
(``scheme://user:pass@``), card numbers (13-19 digits, spaces or dashes
allowed, with a card-issuer prefix and a valid Luhn checksum; also integer
values), US social security numbers (``ddd-dd-dddd``), and ``name=value``,
``name: value`` and JSON ``"name": value`` pairs whose *name* is sensitive by
the key rules (``?password=...``, ``api_key=...``). Only the matched secret is
replaced; surrounding text stays. Matches of ``extra_patterns`` are replaced too.

The replacement (``"[REDACTED]"`` by default) never contains any part of the
secret. A scrubbed span, event or log record gets ``flext.scrubbed_keys``: the
sorted tuple of keys it had scrubbed (``body`` for a log body,
``status.description``, ``events.<name>.<key>`` for event attributes). An
optional ``callback(key, original_value)`` may return a value to use instead
of the redaction (``None`` keeps it); one that raises, or returns something that
is not an attribute value, leaves the value redacted and is counted.

Limits
------
The SDK truncates attribute values to ``attribute_value_length_limit`` (8 KiB
by default) before any processor runs. Guardrails count the values that reach
the pipeline at exactly that length (truncated, or exactly that long) as
``truncated``, once per item, and truncate string log bodies to the same
limit (the SDK does not limit bodies).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from flext_otel.guardrails.options import REDACTED, ScrubbingOptions
from flext_otel.guardrails.transform import SpanTransform
from flext_otel.support.otel_private import LogRecordProcessor

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes

    from flext_otel.support.otel_private import ReadWriteLogRecord

_logger = logging.getLogger("flext_otel")

SCRUBBED_KEYS_ATTRIBUTE = "flext.scrubbed_keys"

# -- key rules ---------------------------------------------------------------

SENSITIVE_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "passphrase", "secret", "secrets", "token",
        "auth", "authorization", "bearer", "cookie", "cookies", "session", "sessionid",
        "sessid", "jwt", "ssn", "pan", "cvv", "cvc", "otp", "credential", "credentials",
        "apikey", "accesskey", "privatekey", "secretkey", "authtoken", "accesstoken",
        "refreshtoken", "idtoken", "sessiontoken", "creditcard", "cardnumber",
        "apikeys", "accesstokens", "refreshtokens", "authtokens", "idtokens",
    }
)  # fmt: skip
"""Words that make a key sensitive on their own."""

SENSITIVE_PAIRS = frozenset(
    {
        ("api", "key"), ("api", "keys"), ("private", "key"), ("access", "key"),
        ("signing", "key"), ("access", "tokens"), ("refresh", "tokens"), ("id", "tokens"),
        ("session", "tokens"),
        ("encryption", "key"), ("client", "key"), ("credit", "card"), ("card", "number"),
        ("social", "security"),
    }
)  # fmt: skip
"""Adjacent word pairs that make a key sensitive."""

QUALIFIERS = frozenset(
    {
        "count", "counts", "total", "length", "len", "size", "bytes", "duration", "ms",
        "seconds", "timeout", "ttl", "age", "expiry", "expires", "expiration", "type",
        "kind", "method", "scheme", "provider", "format", "version", "enabled", "required",
        "present", "valid", "status",
    }
)  # fmt: skip
"""Words that, right after a sensitive word, describe the secret instead of holding it."""

_SEPARATORS = re.compile(r"[\W_]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+")
_VERDICT_CACHE_SIZE = 4096
_INNOCENT, _SENSITIVE, _ALLOWED = 0, 1, 2


def key_words(key: str, *, camel: bool = True) -> list[str]:
    """The lower-case words of ``key``: split on non-alphanumerics and, unless
    ``camel=False``, on camelCase boundaries."""
    words: list[str] = []
    for chunk in _SEPARATORS.split(unicodedata.normalize("NFKC", key)):
        if chunk:
            if camel:
                words.extend(part.lower() for part in _CAMEL.findall(chunk))
            else:
                words.append(chunk.lower())
    return words


def key_is_sensitive(key: str) -> bool:
    """The built-in key rules (see the module docstring), without options."""
    return _words_are_sensitive(key_words(key, camel=False)) or _words_are_sensitive(key_words(key))


def _words_are_sensitive(words: Sequence[str]) -> bool:
    count = len(words)
    for i, word in enumerate(words):
        if word in SENSITIVE_WORDS:
            end = i + 1
        elif i + 1 < count and (word, words[i + 1]) in SENSITIVE_PAIRS:
            end = i + 2
        else:
            continue
        if end < count and words[end] in QUALIFIERS:
            continue
        return True
    return False


# -- value rules -------------------------------------------------------------

_HEADERS = r"proxy-authorization|authorization|set-cookie|cookie|x-api-key|x-auth-token"
_TOKEN_CHARS = r"[\w\-.~+/]"
_STRUCTURAL = (  # possessive quantifiers and start-of-word lookbehinds keep scans linear
    r"(?P<pem>-----BEGIN[A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z ]*PRIVATE KEY-----|\Z))"
    rf"|(?P<hk>(?<![\w\-])(?:{_HEADERS})[ \t]*+[:=][ \t]*+)(?P<hv>[^\r\n]++)"
    rf"|(?P<bk>(?<![\w\-])bearer\s++)(?P<bv>(?={_TOKEN_CHARS}*\d){_TOKEN_CHARS}{{8,}}+=*+"
    rf"|{_TOKEN_CHARS}{{20,}}+=*+)"
    r"|(?P<jwt>(?<![\w\-])eyJ[\w\-]{5,}+\.eyJ[\w\-]{5,}+\.[\w\-]*+)"
    r"|(?P<uk>(?<![\w+.\-])[a-z][a-z0-9+.\-]*+://)(?P<uv>[^\s/?#@:]*+:[^\s/?#@]*+)@"
    r"|(?P<pan>(?<!\d)(?:\d[ \-]?){12,18}\d(?!\d))"
    r"|(?P<ssn>(?<![\d\-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d\-]))"
)
_PAIR_NAMES = (  # only the name and separator: a value is read only when the name is sensitive
    r"(?P<jk>\"(?P<jn>[^\"\\\r\n]{1,100}+)\"\s*+:\s*+)"
    r"|(?P<kk>(?<![\w.\-\[\]])(?P<kn>[\w.\-\[\]]++)\s*+=\s*+)"
    r"|(?P<ck>(?<![\w.\-])(?P<cn>[\w.\-]++)[ \t]*+:[ \t]++)"
)
_PAIR_VALUES = {
    "jk": ("jn", re.compile(r"\"(?:[^\"\\]++|\\.)*+\"|[\w.\-+]++").match),
    "kk": ("kn", re.compile(r"\"[^\"]*+\"|'[^']*+'|[^\s&;,]++").match),
    "ck": ("cn", re.compile(r"[^\s,;]++").match),
}
_HEADER_WORDS = ("authorization", "cookie", "api-key", "auth-token")
_DIGITS = re.compile(r"\d{4}").search  # every card number and SSN has 4 digits in a row
_BIG_INT = 10**12  # integers this large may be card numbers
_SMALL_NUMBER = 1000  # numbers this small (codes, counts) repeat: their pairs are cached
_CLEAN_CACHE_SIZE = 4096
_CLEAN_CACHE_MAX_LEN = 256
_MIN_SECRET = 5


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def looks_like_card_number(digits: str) -> bool:
    """13-19 digits with a card-issuer prefix and a valid Luhn checksum."""
    n = len(digits)
    if not 13 <= n <= 19 or not digits.isdigit():
        return False
    first, two = digits[0], int(digits[:2])
    issuer = (
        (first == "4" and n in (13, 16, 19))
        or (51 <= two <= 55 and n == 16)
        or (2221 <= int(digits[:4]) <= 2720 and n == 16)
        or (two in (34, 37) and n == 15)
        or (two in (30, 36, 38) and n == 14)
        or (two == 35 and 16 <= n <= 19)
        or (first == "6" and 16 <= n <= 19)
    )
    return issuer and _luhn_ok(digits)


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
    """Compiled scrubbing rules (see the module docstring); thread-safe.

    The common case is fast: key verdicts and clean strings are cached
    (bounded); a string is matched against the secret patterns only when cheap
    substring tests find what those patterns need (``=``/``:`` for pairs and
    headers, ``-----``, ``eyJ``, ``bearer``, ``://`` with ``@``, four digits in a
    row in 11+ characters); every pattern scans in linear time.
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
        self._clean: dict[str, None] = {}
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

    def _remember_clean(self, text: str) -> None:
        if len(text) <= _CLEAN_CACHE_MAX_LEN:
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
            or (len(text) >= 11 and _DIGITS(text) is not None)
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
                elif verdict != _ALLOWED and self._scrub_value(key, value, _Outcome()) is not value:
                    return None
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


# -- spans -------------------------------------------------------------------


class _RedactedSpan(ReadableSpan):
    """A finished span's copy with redacted attributes/events/status; drop counts kept."""

    def __init__(
        self,
        span: ReadableSpan,
        attributes: Attributes,
        events: Sequence[Event],
        status: Status,
    ) -> None:
        super().__init__(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
        self._dropped = (span.dropped_attributes, span.dropped_events, span.dropped_links)

    @property
    def dropped_attributes(self) -> int:
        """Attributes the SDK dropped from the original span."""
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        """Events the SDK dropped from the original span."""
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        """Links the SDK dropped from the original span."""
        return self._dropped[2]


def _frozen(attributes: Mapping[str, Any], keys: Iterable[str], dropped: int) -> BoundedAttributes:
    merged = dict(attributes)
    merged[SCRUBBED_KEYS_ATTRIBUTE] = tuple(sorted(set(keys)))
    bounded = BoundedAttributes(maxlen=None, attributes=merged, immutable=True)
    bounded.dropped = dropped
    return bounded


def _count_at_limit(attributes: Mapping[str, Any] | None, limit: int) -> int:
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


def make_span_transform(
    scrubber: Scrubber | None,
    counters: GuardrailCounters | None = None,
    value_length_limit: int | None = None,
) -> SpanTransform | None:
    """A span transform that redacts (``scrubber``) and counts (``counters``).

    Returns the same span object when nothing matched, else a redacted copy.
    ``None`` when there is nothing to do (no scrubber and no counting).
    """
    if scrubber is None and counters is None:
        return None
    limit = value_length_limit

    def transform(span: ReadableSpan) -> ReadableSpan:
        attributes = span.attributes or _NO_ATTRIBUTES
        events = span.events
        tally = counters if limit is not None else None
        check_limit = limit if tally is not None else None
        if scrubber is not None:  # the common case: one pass finds nothing to scrub
            truncated = scrubber.clean_check(attributes, check_limit)
            for event in events:
                if truncated is None:
                    break
                found = scrubber.clean_check(event.attributes or _NO_ATTRIBUTES, check_limit)
                truncated = None if found is None else truncated + found
            if truncated is not None and not span.status.description:
                if tally is not None and truncated:
                    tally.add("truncated", truncated)
                return span
        if tally is not None and limit is not None:
            truncated = _count_at_limit(attributes, limit)
            for event in events:
                truncated += _count_at_limit(event.attributes, limit)
            if truncated:
                tally.add("truncated", truncated)
        if scrubber is None:
            return span
        outcome = _Outcome()
        new_attributes = scrubber.scrub_mapping(attributes, outcome)
        new_events: list[Event] | None = None
        for index, event in enumerate(events):
            event_attributes = event.attributes
            if not event_attributes:
                continue
            event_outcome = _Outcome()
            scrubbed = scrubber.scrub_mapping(event_attributes, event_outcome)
            if scrubbed is event_attributes:
                continue
            if new_events is None:
                new_events = list(events)
            new_events[index] = Event(
                event.name,
                _frozen(scrubbed, event_outcome.keys, event.dropped_attributes),
                event.timestamp,
            )
            outcome.keys.extend(f"events.{event.name}.{k}" for k in event_outcome.keys)
            outcome.callback_errors += event_outcome.callback_errors
        status = span.status
        description = status.description
        if description:
            clean = scrubber.scrub_text(description)
            if clean is not description:
                clean = scrubber._ask_callback("status.description", description, clean, outcome)
                status = Status(status.status_code, str(clean))
        if new_attributes is attributes and new_events is None and status is span.status:
            return span
        if counters is not None:
            counters.add("scrubbed_items")
            counters.add("scrubbed_values", len(outcome.keys))
            counters.add("callback_errors", outcome.callback_errors)
        return _RedactedSpan(
            span,
            _frozen(new_attributes, outcome.keys, span.dropped_attributes),
            new_events if new_events is not None else events,
            status,
        )

    return transform


class TransformingSpanExporter(SpanExporter):
    """Applies a span transform (e.g. scrubbing) before handing spans to ``inner``."""

    def __init__(self, inner: SpanExporter, transform: SpanTransform | None) -> None:
        self.inner = inner
        self._transform = transform

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Transform each span (a failing transform drops it), then export the rest."""
        transform = self._transform
        if transform is None:
            return self.inner.export(spans)
        kept: list[ReadableSpan] = []
        for span in spans:
            try:
                out = transform(span)
            except Exception:  # fail closed: an untransformed span never leaves
                _logger.debug("span transform failed; span not exported", exc_info=True)
                continue
            if out is not None:
                kept.append(out)
        return self.inner.export(kept)

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the inner exporter."""
        return self.inner.force_flush(timeout_millis)


# -- logs --------------------------------------------------------------------


class GuardLogProcessor(LogRecordProcessor):
    """Redacts (and counts truncation of) each log record in place, ahead of every consumer.

    Processors run in registration order on the same record object, so this
    one is registered before the store and every exporter. It never raises: if
    scrubbing itself fails, the record's body and attributes are blanked (fail
    closed) and the failure is counted as ``internal_errors``.
    """

    def __init__(
        self,
        scrubber: Scrubber | None,
        counters: GuardrailCounters,
        value_length_limit: int | None = None,
    ) -> None:
        self._scrubber = scrubber
        self._counters = counters
        self._limit = value_length_limit
        self._logged = False

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Scrub attributes and body; truncate an over-long string body."""
        record = log_record.log_record
        try:
            self._guard(record)
        except Exception as exc:
            self._counters.add("internal_errors")
            if not self._logged:
                self._logged = True
                _logger.warning("log scrubbing failed; the record is blanked: %r", exc)
            try:
                record.body = self._scrubber.replacement if self._scrubber else None
                attributes = record.attributes
                if attributes is not None:
                    for key in list(attributes):
                        del attributes[key]  # type: ignore[attr-defined]
            except Exception:  # nothing more can be done without raising
                _logger.debug("blanking a log record failed", exc_info=True)

    def _guard(self, record: Any) -> None:
        counters = self._counters
        limit = self._limit
        attributes = record.attributes
        body = record.body
        if limit is not None:
            truncated = _count_at_limit(attributes, limit)
            if isinstance(body, str) and len(body) > limit:
                body = record.body = body[:limit]
                truncated += 1
            if truncated:
                counters.add("truncated", truncated)
        scrubber = self._scrubber
        if scrubber is None:
            return
        outcome = _Outcome()
        if attributes:
            scrubbed = scrubber.scrub_mapping(attributes, outcome)
            if scrubbed is not attributes:
                for key, value in scrubbed.items():
                    if value is not attributes.get(key):
                        attributes[key] = value
        if body is not None:
            new_body = scrubber._scrub_value("body", body, outcome)
            if new_body is not body:
                record.body = new_body
        if outcome.keys:
            keys = tuple(sorted(set(outcome.keys)))
            if attributes is None:
                record.attributes = {SCRUBBED_KEYS_ATTRIBUTE: keys}
            else:
                attributes[SCRUBBED_KEYS_ATTRIBUTE] = keys
            counters.add("scrubbed_items")
            counters.add("scrubbed_values", len(outcome.keys))
        counters.add("callback_errors", outcome.callback_errors)

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing buffered: always True."""
        return True


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
    "QUALIFIERS",
    "REDACTED",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "GuardLogProcessor",
    "GuardrailCounters",
    "Scrubber",
    "ScrubbingOptions",
    "TransformingSpanExporter",
    "key_is_sensitive",
    "key_words",
    "looks_like_card_number",
    "make_span_transform",
    "scrub_attributes",
]
