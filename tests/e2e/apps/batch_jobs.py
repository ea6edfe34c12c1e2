"""Batch work in worker processes: each worker exports its own telemetry.

Run as ``python batch_jobs.py [fork|spawn] [executor|pool]`` (default: spawn executor).
"""

import functools
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

import flext_otel

# a spawned worker starts a fresh interpreter: the initializer configures it
# (a forked worker inherits the pipeline, with a new service.instance.id)
setup_worker = functools.partial(flext_otel.configure, service_name="batch")


def price(order: int) -> float:
    with flext_otel.span("price", order=order):
        flext_otel.metric("orders_priced_total", 1)
    return order * 1.5


def main(start_method: str, kind: str) -> None:
    setup_worker()  # exporters come from the OTEL_* variables
    context = multiprocessing.get_context(start_method)
    if kind == "executor":
        with ProcessPoolExecutor(2, mp_context=context, initializer=setup_worker) as executor:
            total = sum(executor.map(price, range(20)))
    else:  # leaving the with block terminates the workers (SIGTERM): they flush first
        with context.Pool(2, initializer=setup_worker) as pool:
            total = sum(pool.map(price, range(20)))
    print(total)


if __name__ == "__main__":
    main(*(sys.argv[1:] or ["spawn", "executor"]))
