"""Celery tasks on a prefork pool; flext-otel is configured in every pool process.

The broker is kombu's filesystem transport (no server), in CELERY_DATA_DIR.
"""

import os
from pathlib import Path

from celery import Celery

import flext_otel
from flext_otel.integrations.celery import connect_worker_hooks

data = Path(os.environ.get("CELERY_DATA_DIR", "celery-data"))
for folder in ("queue", "processed", "results", "control"):
    (data / folder).mkdir(parents=True, exist_ok=True)

app = Celery("celery_app", broker="filesystem://", backend=f"file://{data / 'results'}")
app.conf.broker_transport_options = {
    "data_folder_in": str(data / "queue"),
    "data_folder_out": str(data / "queue"),
    "processed_folder": str(data / "processed"),
    "control_folder": str(data / "control"),
}
connect_worker_hooks(service_name="worker")  # exporters come from the OTEL_* variables


@app.task
def price(order: int) -> float:
    with flext_otel.span("price", order=order):
        flext_otel.metric("orders_priced_total", 1)
    return order * 1.5
