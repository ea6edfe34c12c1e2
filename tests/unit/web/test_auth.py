"""The HTTP server's credentials over real HTTP: bearer header, session cookie, ?token= exchange."""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Mapping

import pytest

from flext_otel.testing import Captured, capture
from flext_otel.web import auth, liveview
from flext_otel.web.server import HttpServerHandle, register_route, serve_http

TOKEN = "s3cr3t/+&token"
QUOTED = "s3cr3t%2F%2B%26token"
PROTECTED = ["/api/traces", "/api/logs", "/api/metrics", "/api/health", "/metrics", "/health"]

Answer = tuple[int, dict[str, str], bytes]


def call(
    server: HttpServerHandle,
    target: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
) -> Answer:
    """One request on a fresh connection: (status, lowercase headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, target, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def cookie_pair(set_cookie: str) -> str:
    """The ``name=value`` part of a Set-Cookie header, as a browser sends it back."""
    return set_cookie.split(";", 1)[0]


@pytest.fixture
def cap() -> Iterator[Captured]:
    """A private pipeline with one span stored."""
    with capture(service_name="auth-test") as captured:
        with captured.otel.tracer_provider.get_tracer("t").start_as_current_span("checkout"):
            pass
        yield captured


@pytest.fixture
def guarded(cap: Captured) -> Iterator[HttpServerHandle]:
    """A server with a token, the live view registered as the server registers it."""
    undo = register_route("GET", "/", liveview.route, public=liveview.is_public)
    try:
        with serve_http(cap.otel, port=0, token=TOKEN) as handle:
            yield handle
    finally:
        undo()


def test_token_link_redirects_to_the_clean_address_and_sets_a_strict_httponly_cookie(
    guarded: HttpServerHandle,
) -> None:
    """GET /?token=<right> answers 303 to / and sets HttpOnly, SameSite=Strict, Path=/."""
    status, headers, body = call(guarded, f"/?token={QUOTED}")
    assert status == 303
    assert headers["location"] == "/"
    cookie = headers["set-cookie"]
    attributes = [part.strip() for part in cookie.split(";")]
    assert attributes[0] == f"{auth.cookie_name(guarded.port)}={auth.session_value(TOKEN)}"
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(attributes[1:])
    assert TOKEN not in cookie
    assert QUOTED not in cookie
    assert TOKEN.encode() not in body
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("target", "location"),
    [
        (f"/?view=logs&token={QUOTED}", "/?view=logs"),
        (f"/index.html?token={QUOTED}", "/index.html"),
        (f"/?token={QUOTED}&a=1&b=", "/?a=1&b="),
    ],
)
def test_redirect_keeps_the_other_parameters_and_the_path(
    guarded: HttpServerHandle, target: str, location: str
) -> None:
    """Only the token parameter leaves the address; the path and other parameters stay."""
    status, headers, _ = call(guarded, target)
    assert (status, headers["location"]) == (303, location)
    assert "set-cookie" in headers


@pytest.mark.parametrize("given", ["wrong", "s3cr3t", "", f"{QUOTED}&token={QUOTED}"])
def test_wrong_token_link_redirects_without_a_cookie(guarded: HttpServerHandle, given: str) -> None:
    """A wrong (or repeated) ?token= still leaves the address but earns no cookie."""
    status, headers, _ = call(guarded, f"/?token={given}")
    assert (status, headers["location"]) == (303, "/")
    assert "set-cookie" not in headers


def test_the_cookie_authorizes_every_protected_route(guarded: HttpServerHandle) -> None:
    """The exchanged cookie opens /api/*, /metrics and /health, where no cookie gets 401."""
    cookie = cookie_pair(call(guarded, f"/?token={QUOTED}")[1]["set-cookie"])
    for path in PROTECTED:
        assert call(guarded, path)[0] == 401, path
        assert call(guarded, path, {"Cookie": cookie})[0] == 200, path
    status, _, body = call(guarded, "/api/traces", {"Cookie": f"theme=dark; {cookie}"})
    assert status == 200
    assert b"checkout" in body


@pytest.mark.parametrize(
    "cookie",
    [
        "flext_otel_session_1={value}",  # another port's cookie
        "{name}=" + "0" * 64,  # forged value
        "{name}=" + TOKEN,  # the raw token is not the session value
        "{name}=",
        "{name}",
    ],
)
def test_a_cookie_for_another_server_or_forged_is_refused(
    guarded: HttpServerHandle, cookie: str
) -> None:
    """Only this server's cookie with the HMAC of its token is a credential."""
    header = cookie.format(name=auth.cookie_name(guarded.port), value=auth.session_value(TOKEN))
    status, headers, _ = call(guarded, "/api/traces", {"Cookie": header})
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")


def test_a_cookie_from_another_token_is_refused(cap: Captured, guarded: HttpServerHandle) -> None:
    """A session from a server with a different token does not open this one."""
    stale = f"{auth.cookie_name(guarded.port)}={auth.session_value('old token')}"
    assert call(guarded, "/api/health", {"Cookie": stale})[0] == 401


def test_bearer_header_still_works_for_api_clients(guarded: HttpServerHandle) -> None:
    """API clients keep using Authorization: Bearer, no cookie involved."""
    status, headers, _ = call(guarded, "/api/traces", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert "set-cookie" not in headers


def test_token_query_is_not_a_credential_for_the_api(guarded: HttpServerHandle) -> None:
    """?token= is exchanged on the page shell only; on /api/* it is ignored (401)."""
    assert call(guarded, f"/api/traces?token={QUOTED}")[0] == 401
    assert call(guarded, f"/metrics?token={QUOTED}")[0] == 401


def test_post_session_exchanges_a_bearer_header_for_the_cookie(guarded: HttpServerHandle) -> None:
    """The page's token field: POST /api/session with the bearer header answers 204 + cookie."""
    status, headers, _ = call(
        guarded, "/api/session", {"Authorization": f"Bearer {TOKEN}"}, method="POST"
    )
    assert status == 204
    cookie = cookie_pair(headers["set-cookie"])
    assert "HttpOnly" in headers["set-cookie"]
    assert call(guarded, "/api/logs", {"Cookie": cookie})[0] == 200


@pytest.mark.parametrize("authorization", ["", "Bearer wrong", f"Basic {TOKEN}"])
def test_post_session_without_the_token_is_401(
    guarded: HttpServerHandle, authorization: str
) -> None:
    """POST /api/session with no or a wrong credential sets nothing."""
    headers = {"Authorization": authorization} if authorization else {}
    status, answer, _ = call(guarded, "/api/session", headers, method="POST")
    assert status == 401
    assert "set-cookie" not in answer


def test_public_routes_are_exactly_the_page_shell(guarded: HttpServerHandle) -> None:
    """Without credentials only /, /index.html and /static/* answer; they carry no telemetry."""
    for path in ("/", "/index.html", "/static/app.js", "/static/app.css"):
        status, _, body = call(guarded, path)
        assert status == 200, path
        assert b"checkout" not in body
        assert TOKEN.encode() not in body
        assert call(guarded, path, method="HEAD")[0] == 200
    for path in [*PROTECTED, "/ready", "/api/session", "/nope", "/static", "/index.htm"]:
        assert call(guarded, path)[0] == 401, path


def test_without_a_server_token_the_link_is_still_cleaned(cap: Captured) -> None:
    """With no token configured, ?token= is stripped (303, no cookie) and the API is open."""
    with serve_http(cap.otel, port=0) as server:
        status, headers, _ = call(server, "/?token=anything")
        assert (status, headers["location"]) == (303, "/")
        assert "set-cookie" not in headers
        status, headers, _ = call(server, "/api/session", method="POST")
        assert status == 204
        assert "set-cookie" not in headers
        assert call(server, "/api/traces")[0] == 200


def test_the_token_option_is_exchanged_too() -> None:
    """A token from FLEXT_OTEL_HTTP_TOKEN (the http_token option) is exchanged like token=."""
    with capture(http_token="from-options") as cap, serve_http(cap.otel, port=0) as server:
        status, headers, _ = call(server, "/?token=from-options")
        assert status == 303
        cookie = cookie_pair(headers["set-cookie"])
        assert call(server, "/health", {"Cookie": cookie})[0] == 200


def test_cookie_parsing_and_session_values() -> None:
    """Cookie headers split on ';', first name wins; session values differ per token."""
    assert auth.cookies(' a=1; b="2" ;a=3; junk; =x') == {"a": "1", "b": "2"}
    assert auth.session_value("t") == auth.session_value("t") != auth.session_value("u")
    assert len(auth.session_value("t")) == 64
    assert auth.cookie_name(8765) == "flext_otel_session_8765"
    assert auth.authorized(None, 1, authorization="", cookie="")
    assert not auth.authorized("t", 1, authorization="Bearer", cookie="")
    assert auth.exchange("PUT", "/?token=t", "t", 1, authorization="", cookie="") is None
    assert auth.exchange("GET", "/api/traces?token=t", "t", 1, authorization="", cookie="") is None
    assert auth.exchange("GET", "/?x=1", "t", 1, authorization="", cookie="") is None
