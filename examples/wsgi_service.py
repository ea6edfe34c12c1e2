"""A stdlib WSGI service: request spans, W3C trace context and baggage in and out."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from opentelemetry import trace
from opentelemetry.trace import SpanKind

import flext_otel

TRACER = trace.get_tracer(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the example's output readable."""


def traced(app: WsgiApp) -> WsgiApp:
    """Middleware: extract traceparent/baggage, run the request in a SERVER span."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with (
            flext_otel.attach_extracted(headers),
            TRACER.start_as_current_span(
                f"{method} {path}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": path},
            ),
        ):
            return list(app(environ, start_response))

    return middleware


def inventory_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = json.dumps(
        {"in_stock": True, "correlation_id": flext_otel.get_correlation_id()}
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def main() -> None:
    otel = flext_otel.configure(service_name="wsgi-demo")
    server = make_server("127.0.0.1", 0, traced(inventory_app), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/stock"
        with flext_otel.correlation_scope("order-981"), flext_otel.span("checkout") as client:
            headers = flext_otel.inject()  # traceparent + baggage(correlation_id)
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                answer = json.load(response)
        print("service answered:", answer)
        server_span = otel.store.spans(name="GET /stock")[0]
        print(
            "same trace:",
            server_span.trace_id == format(client.get_span_context().trace_id, "032x"),
        )
        print(
            "server span parent is the client span:",
            server_span.parent_span_id == format(client.get_span_context().span_id, "016x"),
        )
        print("correlation id crossed the hop:", server_span.correlation_id)
        print("server span kind:", server_span.kind)
    finally:
        server.shutdown()
        server.server_close()
        print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
