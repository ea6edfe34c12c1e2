"""A Flask service: flext-otel configured at import, the contrib Flask instrumentation."""

import os

from flask import Flask
from opentelemetry.instrumentation.flask import FlaskInstrumentor

import flext_otel

flext_otel.configure(service_name="shop")  # exporters come from the OTEL_* variables

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)


@app.get("/")
def index() -> str:
    return "ok"


@app.get("/health")  # left out of the telemetry with OTEL_PYTHON_EXCLUDED_URLS=health
def health() -> str:
    return str(os.getpid())
