"""A Starlette service that sets flext-otel up and shuts it down in its lifespan."""

import contextlib
import os
from collections.abc import AsyncIterator

from opentelemetry.instrumentation.starlette import StarletteInstrumentor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import flext_otel


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    otel = flext_otel.configure(service_name="shop")  # exporters from the OTEL_* variables
    yield
    print(otel.shutdown(), flush=True)  # flushes this worker; "nothing lost"


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


app = Starlette(routes=[Route("/", index), Route("/health", health)], lifespan=lifespan)
StarletteInstrumentor.instrument_app(app)
