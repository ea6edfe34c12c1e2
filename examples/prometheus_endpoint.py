"""Serve /metrics, /health and /ready for Prometheus and load balancers."""

from __future__ import annotations

import json
import urllib.request

import flext_otel


def main() -> None:
    otel = flext_otel.configure(service_name="prom-demo")
    server = flext_otel.serve_http(otel, port=0)  # 127.0.0.1, a free port
    try:
        for region in ("eu", "eu", "us"):
            flext_otel.metric("orders_total", 1, tags={"region": region})
        flext_otel.health_check("database", "healthy")
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
            lines = [
                ln for ln in response.read().decode().splitlines() if ln.startswith("orders_total")
            ]
        print("scrape:", *lines, sep="\n  ")
        with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
            health = json.load(response)
        print("health:", health["status"], health["components"]["database"]["status"])
    finally:
        server.close()
        print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
