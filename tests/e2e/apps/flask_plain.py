"""The same Flask service with no telemetry code: opentelemetry-instrument adds it."""

import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"


@app.get("/health")
def health() -> str:
    return str(os.getpid())
