"""Which process sent what: the live view's ``service=`` / ``instance=`` filters and
``/api/instances``.

In-process, every record comes from this process. In the hub (``flext-otel serve``)
records come from many processes; each keeps its resource, whose ``service.name``
and ``service.instance.id`` name the sender (see
:func:`flext_otel.support.resources.identify`). A pipeline object that can tell more
(the hub's ``HubOtel``) offers ``instances(service, instance)`` and
``metric_points(service, instance)``; this module uses them when present.

Imports: ``support``. Pure functions over the pipeline given; safe from any thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flext_otel.support.resources import identify

if TYPE_CHECKING:
    from flext_otel.pipeline.sdk import FlextOtel

__all__ = ["instances", "metric_points", "owned", "owner_test"]


def _owner(params: Mapping[str, str]) -> tuple[str | None, str | None]:
    return params.get("service"), params.get("instance")


def owner_test(params: Mapping[str, str]) -> Callable[[Mapping[str, Any]], bool] | None:
    """Whether a resource names the ``service`` / ``instance`` asked for (None: no filter)."""
    service, instance = _owner(params)
    if service is None and instance is None:
        return None

    def test(resource: Mapping[str, Any]) -> bool:
        owner_service, owner_instance, _ = identify(resource)
        return (service is None or owner_service == service) and (
            instance is None or owner_instance == instance
        )

    return test


def owned(records: list[Any], params: Mapping[str, str]) -> list[Any]:
    """The records whose resource names the ``service`` / ``instance`` asked for."""
    test = owner_test(params)
    if test is None:
        return records
    return [record for record in records if test(record.resource)]


def metric_points(otel: FlextOtel, name: str | None, params: Mapping[str, str]) -> list[Any]:
    """Metric points of the service / instance asked for (a hub merges many)."""
    service, instance = _owner(params)
    per_owner = getattr(otel, "metric_points", None)
    if callable(per_owner):
        points = per_owner(service, instance)
        return [p for p in points if name is None or p.name == name]
    own_service, own_instance, _ = identify(otel.resource.attributes)
    if service not in (None, own_service) or instance not in (None, own_instance):
        return []
    return otel.store.metrics(name)


def instances(otel: FlextOtel, params: Mapping[str, str]) -> dict[str, Any]:
    """The ``/api/instances`` answer: ``{"instances": [...], "count": n}``."""
    service, instance = _owner(params)
    listed = getattr(otel, "instances", None)
    if callable(listed):
        rows = list(listed(service, instance))
    else:  # in-process: this process is the one instance
        own_service, own_instance, pid = identify(otel.resource.attributes)
        stats = otel.store.stats()
        rows = [
            {
                "service": own_service,
                "instance": own_instance,
                "pid": pid,
                "first_seen": otel.created_at_ns,
                "last_seen": time.time_ns(),
                "spans": stats["spans"].accepted,
                "logs": stats["logs"].accepted,
                "metric_points": len(otel.store.metrics()),
            }
        ]
        rows = [
            r for r in rows if service in (None, r["service"]) and instance in (None, r["instance"])
        ]
    return {"instances": rows, "count": len(rows)}
