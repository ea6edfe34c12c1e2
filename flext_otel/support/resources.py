"""Who sent a record: the service and instance named by its resource.

Imports: the standard library only. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN_SERVICE = "unknown_service"


def identify(resource: Mapping[str, Any]) -> tuple[str, str, int | None]:
    """``(service, instance, pid)`` of a resource.

    The instance is ``service.instance.id``; a process whose SDK sets none is
    named ``<service>/<process.pid>`` (or ``<service>`` alone without a pid).
    """
    service = resource.get("service.name")
    service = service if isinstance(service, str) and service else UNKNOWN_SERVICE
    pid = resource.get("process.pid")
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
    instance = resource.get("service.instance.id")
    if not isinstance(instance, str) or not instance:
        instance = f"{service}/{pid}" if pid is not None else service
    return service, instance, pid


__all__ = ["UNKNOWN_SERVICE", "identify"]
