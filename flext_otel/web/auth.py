"""Who may read the HTTP server: the bearer token, the live view's session cookie, the exchange.

A server without a token (no ``serve_http(token=...)``, no ``FLEXT_OTEL_HTTP_TOKEN``)
serves everyone on the address it binds (127.0.0.1 by default). With a token, a
request is let in when it carries either credential:

* ``Authorization: Bearer <token>``: API clients, ``curl``, a Prometheus scrape job;
* the session cookie ``flext_otel_session_<port>``: browsers, after the exchange below.

**Public routes** (no credential needed) are only the ones a route registers as
public; the server registers exactly the live view's page shell: ``GET``/``HEAD``
of ``/``, ``/index.html`` and ``/static/*``. These are the files shipped in the
package (HTML, CSS, JS), hold no telemetry, and must load for the page to show its
token field. Everything else, ``/api/*``, ``/metrics``, ``/health``, ``/ready``
and unknown paths included, answers 401 without a credential.

**The exchange keeps the token out of URLs after first use.** The link
``flext-otel demo --serve`` prints ends in ``/?token=...``. The server answers
that request (``GET`` or ``HEAD`` of the shell with a ``token`` parameter) with
``303 See Other`` to the same address without ``token``; when the token is right
the answer also sets the session cookie (``HttpOnly``: scripts cannot read it;
``SameSite=Strict``: other sites cannot send it; ``Path=/``; no expiry: it ends
with the browser session). The page then calls the API with the cookie, never
with the token; the browser keeps the fragment (``#/traces/...``) across the
redirect. The page's token field does the same without a URL: ``POST
/api/session`` with the bearer header answers 204 and sets the cookie.

The cookie's value is an HMAC-SHA256 of a fixed label keyed by the token, not the
token itself: it is worth as much as the token on this server (and on any server
with the same token) but does not reveal it. Its name carries the server's port
because browsers do not separate cookies by port: an application's live view
and the hub on the same host keep their own sessions. Cookies on 127.0.0.1 are
not marked ``Secure`` (the server speaks plain HTTP).

This module is pure (no I/O, no state): the server calls it from its request
threads. Every comparison with the token is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

Response = tuple[int, Mapping[str, str], bytes]
"""``(status, headers, body)`` as the server writes it."""

COOKIE_PREFIX = "flext_otel_session_"
SESSION_PATH = "/api/session"
SHELL_PATHS = frozenset({"/", "/index.html"})
"""The page shell: the paths on which ``?token=`` is exchanged for the cookie."""
TOKEN_PARAMETER = "token"
_LABEL = b"flext-otel live view session v1"
_NO_STORE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Type": "text/plain; charset=utf-8",
}


def cookie_name(port: int) -> str:
    """The session cookie's name on the server listening on ``port``."""
    return f"{COOKIE_PREFIX}{int(port)}"


def session_value(token: str) -> str:
    """The session cookie's value for ``token``: HMAC-SHA256 of a fixed label, hex."""
    return hmac.new(token.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def bearer_ok(authorization: str, token: str) -> bool:
    """True when an ``Authorization`` header value is ``Bearer <token>`` (scheme any case)."""
    scheme, _, credential = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and _same(credential.strip(), token)


def cookies(header: str) -> dict[str, str]:
    """The ``name=value`` pairs of a ``Cookie`` header (the first of each name wins)."""
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip().strip('"')
    return found


def cookie_ok(cookie_header: str, token: str, port: int) -> bool:
    """True when the ``Cookie`` header carries this server's session cookie for ``token``."""
    value = cookies(cookie_header).get(cookie_name(port))
    return value is not None and _same(value, session_value(token))


def authorized(token: str | None, port: int, *, authorization: str, cookie: str) -> bool:
    """True when no token is set, or the bearer header or the session cookie matches it."""
    if not token:
        return True
    return bearer_ok(authorization, token) or cookie_ok(cookie, token, port)


def unauthorized(authorization: str) -> Response:
    """The 401 answer, with the ``WWW-Authenticate`` challenge (RFC 6750)."""
    challenge = 'Bearer realm="flext-otel"'
    if authorization.strip():
        challenge += ', error="invalid_token"'
    headers = {**_NO_STORE, "WWW-Authenticate": challenge}
    return 401, headers, b"a valid bearer token is required\n"


def _set_cookie(token: str, port: int) -> str:
    return f"{cookie_name(port)}={session_value(token)}; Path=/; HttpOnly; SameSite=Strict"


def exchange(
    method: str,
    target: str,
    token: str | None,
    port: int,
    *,
    authorization: str,
    cookie: str,
) -> Response | None:
    """The answer to a credential exchange, or ``None`` when ``target`` is none.

    ``target`` is the raw request target (path and query). ``GET``/``HEAD`` of the
    shell with ``?token=``: 303 to the same URL without it, setting the cookie when
    the token is right (and taking nothing from a wrong one). ``POST
    /api/session``: 204 setting the cookie when the request is authorized (bearer
    header or the cookie itself), else 401. Without a server token there is
    nothing to exchange: the redirect still strips ``token``, the POST is a 204.
    """
    parts = urlsplit(target)
    path = parts.path or "/"
    if path == SESSION_PATH and method == "POST":
        if not authorized(token, port, authorization=authorization, cookie=cookie):
            return unauthorized(authorization)
        headers = dict(_NO_STORE)
        if token:
            headers["Set-Cookie"] = _set_cookie(token, port)
        return 204, headers, b""
    if method not in ("GET", "HEAD") or path not in SHELL_PATHS:
        return None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    given = [value for name, value in pairs if name == TOKEN_PARAMETER]
    if not given:
        return None
    kept = urlencode([(name, value) for name, value in pairs if name != TOKEN_PARAMETER])
    headers = {**_NO_STORE, "Location": path + (f"?{kept}" if kept else "")}
    if token and len(given) == 1 and _same(given[0], token):
        headers["Set-Cookie"] = _set_cookie(token, port)
    return 303, headers, b"the token is exchanged for a session cookie: see Location\n"


__all__ = [
    "COOKIE_PREFIX",
    "SESSION_PATH",
    "SHELL_PATHS",
    "authorized",
    "bearer_ok",
    "cookie_name",
    "cookie_ok",
    "cookies",
    "exchange",
    "session_value",
    "unauthorized",
]
