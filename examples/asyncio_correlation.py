"""Correlation IDs across asyncio tasks: each request keeps its own, nothing leaks."""

from __future__ import annotations

import asyncio

import flext_otel


@flext_otel.flext_monitor_function
async def fetch_price(item: str) -> float:
    await asyncio.sleep(0.001)
    return float(len(item))


async def handle_request(request_id: str, items: list[str]) -> float:
    with flext_otel.correlation_scope(request_id):
        with flext_otel.span("handle-request", items=len(items)):
            prices = await asyncio.gather(*(fetch_price(i) for i in items))
            flext_otel.log(f"priced {len(items)} items", context={"total": sum(prices)})
            assert flext_otel.get_correlation_id() == request_id
            return sum(prices)


async def run() -> None:
    requests = {f"req-{n}": ["book", "lamp", "mug"][: n % 3 + 1] for n in range(20)}
    await asyncio.gather(*(handle_request(rid, items) for rid, items in requests.items()))


def main() -> None:
    otel = flext_otel.configure(service_name="async-demo")
    asyncio.run(run())
    leaks = [
        s.name for s in otel.store.spans() if s.name == "fetch_price" and s.correlation_id is None
    ]
    by_request: dict[str, int] = {}
    for s in otel.store.spans(name="fetch_price"):
        by_request[s.correlation_id or "?"] = by_request.get(s.correlation_id or "?", 0) + 1
    print("spans per correlation id:", dict(sorted(by_request.items())[:5]), "...")
    print("spans without an id:", len(leaks))
    print("shutdown:", otel.shutdown())


if __name__ == "__main__":
    main()
