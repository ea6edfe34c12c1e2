"""A Starlette service: flext-otel configured at import, the contrib Starlette
instrumentation."""

import os

from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import flext_otel

flext_otel.configure(service_name="shop")  # exporters come from the OTEL_* variables


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


app = Starlette(routes=[Route("/", index), Route("/health", health)])
StarletteInstrumentor.instrument_app(app)
