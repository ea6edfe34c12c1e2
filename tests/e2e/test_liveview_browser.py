"""The live view in a real headless Chromium, against a server filled by the demo workload.

Debian's ``/usr/bin/chromium`` is driven through Playwright's Python package (no
downloaded browser). Every request the page makes is checked to stay on the
127.0.0.1 server, so the page provably works with no network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import missing_backend, require_binary
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import Status, StatusCode

from flext_otel.cli.main import Workload
from flext_otel.testing import Captured, capture
from flext_otel.web import liveview
from flext_otel.web.server import HttpServerHandle, register_route, serve_http

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "t0ken/with+odd&chars"
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_LOG = "<script>alert('log')</script><b>bold?</b>"
WAIT_MS = 10_000


def chromium_binary() -> str:
    """Path of Debian's chromium ($CHROMIUM_BIN when set, used as given)."""
    return require_binary(
        CHROMIUM,
        "apt-get install -y --no-install-recommends chromium",
        chosen=bool(os.environ.get("CHROMIUM_BIN")),
    )


@dataclass
class Live:
    """The served pipeline, its URL and the demo's trace IDs."""

    cap: Captured
    server: HttpServerHandle
    hostile_trace_id: str
    hostile_span_id: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    """A token-guarded server over a pipeline filled by the demo workload plus hostile data."""
    # flext_otel.web.server registers the live view at import; re-registering is idempotent and
    # restores it should another test have replaced the '/' route.
    register_route("GET", "/", liveview.route, public=liveview.is_public)
    with capture(service_name="flext-demo") as cap:
        Workload(cap.otel, seed=7).run(0.5)
        tracer = cap.otel.tracer_provider.get_tracer("test.hostile")
        with (
            tracer.start_as_current_span(HOSTILE, attributes={"note": HOSTILE}) as root,
            tracer.start_as_current_span("child") as child,
        ):
            child.set_status(Status(StatusCode.ERROR, HOSTILE))
            cap.otel.logger_provider.get_logger("test.hostile").emit(
                severity_number=SeverityNumber.WARN,
                severity_text="WARN",
                body=HOSTILE_LOG,
                attributes={"payload": HOSTILE},
            )
        context = root.get_span_context()
        with serve_http(cap.otel, port=0, token=TOKEN) as server:
            yield Live(
                cap, server, format(context.trace_id, "032x"), format(context.span_id, "016x")
            )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright."""
    binary = chromium_binary()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_backend("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A page plus what it did: dialogs, script errors, off-host and API requests."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    api_auth: list[str | None] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def watched(browser: Browser, live: Live) -> Iterator[Watched]:
    """A fresh browser context whose requests may only reach the test server."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    seen = Watched(page)

    def only_local(route: Route) -> None:
        if route.request.url.startswith(live.url + "/"):
            route.continue_()
        else:
            seen.foreign.append(route.request.url)
            route.abort()

    def on_request(request: Request) -> None:
        seen.requests.append(request)
        if "/api/" in request.url:
            seen.api_auth.append(request.headers.get("authorization"))

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    context.route("**/*", only_local)
    page.on("request", on_request)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield seen
    finally:
        context.close()
    assert seen.dialogs == []
    assert seen.errors == []
    assert seen.foreign == []


def open_list(watched: Watched, live: Live) -> Page:
    """Open the page with the token once and wait for the traces list."""
    page = watched.page
    page.goto(f"{live.url}/?token={_quote(TOKEN)}")
    page.wait_for_selector("tr[data-trace-id]")
    return page


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def demo_trace(live: Live, *, failed: bool) -> str:
    """A demo checkout trace, failed or not."""
    for trace_id in reversed(live.cap.store.trace_ids()):
        spans = live.cap.store.spans(trace_id=trace_id)
        if (
            any(s.scope == "flext_otel.demo" for s in spans)
            and any(s.is_error for s in spans) == failed
        ):
            return trace_id
    raise AssertionError("the demo produced no such trace")


# -- tests ---------------------------------------------------------------------


def test_traces_list_shows_the_demo_traces(watched: Watched, live: Live) -> None:
    """Every stored trace has one row, carrying its ID in data-trace-id, newest first."""
    page = open_list(watched, live)
    rows = page.locator("tr[data-trace-id]")
    shown = [rows.nth(i).get_attribute("data-trace-id") or "" for i in range(rows.count())]
    store = live.cap.store
    stored = sorted(
        store.trace_ids(),
        key=lambda t: (min(s.start_time_ns for s in store.spans(trace_id=t)), t),
        reverse=True,
    )
    assert shown == stored
    demo = [t for t in stored if live.cap.store.spans("checkout", trace_id=t)]
    assert len(demo) > 5
    assert page.get_by_role("link", name="checkout", exact=True).count() == len(demo)
    failed = demo_trace(live, failed=True)
    assert "error" in (page.locator(f'tr[data-trace-id="{failed}"]').get_attribute("class") or "")


def test_waterfall_has_one_bar_per_span_and_shows_details(watched: Watched, live: Live) -> None:
    """Opening a trace shows a bar per span on its own URL; an error span is marked; a click
    shows attributes and events. Saves the screenshot used by the README."""
    page = open_list(watched, live)
    trace_id = demo_trace(live, failed=True)
    page.locator(f'tr[data-trace-id="{trace_id}"] a').click()
    page.wait_for_url(f"**/#/traces/{trace_id}")
    spans = live.cap.store.spans(trace_id=trace_id)
    bars = page.locator(".waterfall [data-span-id]")
    bars.first.wait_for()
    assert bars.count() == len(spans) == 4
    shown = sorted(bars.nth(i).get_attribute("data-span-id") or "" for i in range(bars.count()))
    assert shown == sorted(s.span_id for s in spans)
    charge = next(s for s in spans if s.name == "charge-card")
    page.locator(f'[data-span-id="{charge.span_id}"]').click()
    details = page.locator(".details")
    details.get_by_text("payment.amount").wait_for()
    assert "card declined" in details.inner_text()
    assert "exception" in details.inner_text()  # the recorded exception event
    error_rows = page.locator(".wf-row.is-error")
    assert error_rows.count() == sum(1 for s in spans if s.is_error) == 2
    assert f"span={charge.span_id}" in page.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "liveview-waterfall.png"), full_page=True)
    assert (ARTIFACTS / "liveview-waterfall.png").stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":  # refresh the README's picture on request
        page.set_viewport_size({"width": 1400, "height": 560})
        page.screenshot(path=str(DOCS / "liveview-waterfall.png"), full_page=True)


def test_trace_url_opens_directly(watched: Watched, live: Live) -> None:
    """/#/traces/{trace_id} is a stable link: loading it shows that trace's waterfall."""
    trace_id = demo_trace(live, failed=False)
    page = watched.page
    page.goto(f"{live.url}/?token={_quote(TOKEN)}#/traces/{trace_id}")
    page.locator(".waterfall [data-span-id]").first.wait_for()
    assert page.locator(".waterfall [data-span-id]").count() == 5
    assert page.url == f"{live.url}/#/traces/{trace_id}"  # the redirect kept the fragment
    page.context.clear_cookies()  # a browser session without the cookie: asked for the token
    page.goto(f"{live.url}/?again#/traces/{'ab' * 16}")
    page.get_by_text("A token is required").wait_for()


def test_hostile_span_name_renders_as_text(watched: Watched, live: Live) -> None:
    """A span named <img src=x onerror=alert(1)> shows as text: no element, no dialog."""
    page = open_list(watched, live)
    row = page.locator(f'tr[data-trace-id="{live.hostile_trace_id}"]')
    assert HOSTILE in row.inner_text()
    row.click()
    bar = page.locator(f'[data-span-id="{live.hostile_span_id}"]')
    bar.wait_for()
    assert page.locator(".wf-row .wf-label").first.inner_text().startswith(HOSTILE)
    assert page.locator("h1").inner_text() == HOSTILE
    bar.click()
    page.locator(".details").get_by_text(HOSTILE).first.wait_for()
    page.goto(f"{live.url}/?token={_quote(TOKEN)}#/logs")
    page.get_by_text(HOSTILE_LOG).wait_for()
    assert page.locator("img, script:not([src]), b").count() == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
    assert watched.dialogs == []


def test_token_link_is_exchanged_for_an_httponly_cookie_and_leaves_the_url(
    watched: Watched, live: Live
) -> None:
    """/?token= redirects to the clean URL and leaves an HttpOnly, SameSite=Strict cookie
    (not the token) that no script sees; API calls carry the cookie and no token."""
    page = watched.page
    response = page.goto(f"{live.url}/?token={_quote(TOKEN)}#/traces")
    assert response is not None
    first = response.request.redirected_from
    assert first is not None
    assert first.url.startswith(f"{live.url}/?token=")
    page.wait_for_selector("tr[data-trace-id]")
    assert page.url == f"{live.url}/#/traces"
    assert page.evaluate("() => document.cookie") == ""
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["name"] == f"flext_otel_session_{live.server.port}"
    assert TOKEN not in cookie["value"]
    assert _quote(TOKEN) not in cookie["value"]
    assert watched.api_auth
    assert set(watched.api_auth) == {None}  # no Authorization header: the cookie does it
    api = [r for r in watched.requests if "/api/" in r.url]
    assert all(cookie["name"] in (r.all_headers().get("cookie") or "") for r in api)
    carrying = [r.url for r in watched.requests if _quote(TOKEN) in r.url or TOKEN in r.url]
    assert carrying == [first.url]  # only the link itself ever held the token


def test_without_a_token_the_page_asks_for_it(watched: Watched, live: Live) -> None:
    """With no cookie the API answers 401 and the page offers a token field that swaps the
    token for the cookie (a wrong one is refused); a reload then needs nothing."""
    page = watched.page
    page.goto(live.url + "/")
    page.get_by_text("A token is required").wait_for()
    assert page.locator("tr[data-trace-id]").count() == 0
    page.get_by_label("Token").fill("not the token")
    page.get_by_role("button", name="Use token").click()
    page.get_by_text("That token was not accepted.").wait_for()
    assert page.context.cookies() == []
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    page.wait_for_selector("tr[data-trace-id]")
    assert page.get_by_text("A token is required").count() == 0
    assert [c["httpOnly"] for c in page.context.cookies()] == [True]
    assert all(TOKEN not in r.url and _quote(TOKEN) not in r.url for r in watched.requests)
    page.reload()
    page.wait_for_selector("tr[data-trace-id]")
    assert page.url == live.url + "/"


def test_new_traces_appear_without_reload(watched: Watched, live: Live) -> None:
    """Polling the API brings a new trace into the list within 5 s, without a reload."""
    page = open_list(watched, live)
    page.evaluate("() => { window.__notReloaded = true; }")
    tracer = live.cap.otel.tracer_provider.get_tracer("test.live")
    with tracer.start_as_current_span("late-arrival") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    page.wait_for_selector(f'tr[data-trace-id="{trace_id}"]', timeout=5_000)
    assert page.evaluate("() => window.__notReloaded") is True


def test_filters_narrow_the_traces_list(watched: Watched, live: Live) -> None:
    """The status filter shows only failed traces; the name filter matches span names."""
    page = open_list(watched, live)
    page.get_by_label("Status").select_option("error")
    failed = demo_trace(live, failed=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('tr[data-trace-id]')]"
        ".every(r => r.classList.contains('is-error'))"
    )
    page.locator(f'tr[data-trace-id="{failed}"]').wait_for()
    page.get_by_label("Status").select_option("")
    page.get_by_label("Span name").fill("<IMG")
    page.wait_for_function("() => document.querySelectorAll('tr[data-trace-id]').length === 1")
    assert page.locator("tr[data-trace-id]").get_attribute("data-trace-id") == (
        live.hostile_trace_id
    )


def test_logs_metrics_and_health_views(watched: Watched, live: Live) -> None:
    """Logs link to their trace and filter by level; metrics draw histogram buckets;
    health lists the pipelines with their counters."""
    page = open_list(watched, live)
    page.get_by_role("link", name="Logs", exact=True).click()
    page.get_by_text(HOSTILE_LOG).wait_for()
    page.get_by_label("Minimum level").select_option("error")
    page.wait_for_function(
        "() => { const rows = document.querySelectorAll('.logs tbody tr');"
        " return rows.length > 0 && [...rows].every(r => r.className === 'level-error'); }"
    )
    linked = page.locator(".logs tbody tr[data-trace-id]").first
    trace_id = linked.get_attribute("data-trace-id")
    linked.locator("a").click()
    page.wait_for_url(f"**/#/traces/{trace_id}**")
    page.locator(".waterfall [data-span-id]").first.wait_for()

    page.get_by_role("link", name="Metrics", exact=True).click()
    card = page.locator('[data-metric="order_amount"]')
    card.wait_for()
    assert card.locator(".hist").count() >= 1
    assert card.locator(".hist-col").count() % 8 == 0  # 7 bounds + +Inf per point

    page.get_by_role("link", name="Health", exact=True).click()
    row = page.locator('[data-pipeline="traces:store"]')
    row.wait_for()
    accepted = live.cap.otel.stats()["traces:store"].accepted
    assert f"{accepted:,}" in row.inner_text() or str(accepted) in row.inner_text()
    instance = live.cap.otel.identity["service.instance.id"]
    assert page.locator(f'[data-instance="{instance}"]').count() == 1  # worker identity shown
