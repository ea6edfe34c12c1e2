"""Secret scrubbing rules: pure key and value logic, the :class:`Scrubber`, guardrail counters.

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

Module layout
-------------
Pure Python, no OpenTelemetry import: this module states the rules (key words,
pairs, qualifiers, value patterns, card numbers); :mod:`flext_otel.guardrails.scrubber`
compiles them into a :class:`~flext_otel.guardrails.scrubber.Scrubber` that
replaces secrets in mappings and text; :mod:`flext_otel.guardrails.scrubbing`
applies it to OTel spans and log records. Imports: the standard library only.
Constants and pure functions: safe on any thread.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

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
_NO_ASCII_DIGITS = str.maketrans("", "", "0123456789")
_MIN_SECRET_DIGITS = 9  # an SSN has 9 digits, a card number 13 to 19


def may_hold_number_secret(text: str) -> bool:
    """Whether ``text`` has enough digits for a card number or an SSN (cheap, C-level).

    Four digits in a row in 11+ characters, and for ASCII text at least 9 digits
    in all: IDs such as ``/users/12345`` skip the pattern scan.
    """
    if len(text) < 11 or _DIGITS(text) is None:
        return False
    if not text.isascii():
        return True
    return len(text) - len(text.translate(_NO_ASCII_DIGITS)) >= _MIN_SECRET_DIGITS


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


__all__ = [
    "QUALIFIERS",
    "SCRUBBED_KEYS_ATTRIBUTE",
    "SENSITIVE_PAIRS",
    "SENSITIVE_WORDS",
    "key_is_sensitive",
    "key_words",
    "looks_like_card_number",
    "may_hold_number_secret",
]
