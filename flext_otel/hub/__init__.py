"""The hub: OTLP ingest into the store, metric merging across instances, forwarding.

``Hub`` holds the state (store, instances, merged metrics, counters);
``start_hub()`` serves it (OTLP/gRPC, OTLP/HTTP, the UI); ``flext-otel serve`` and
``flext-otel run`` (``flext_otel.cli.hub``) are its command line.

Imports: ``web`` and the packages below it. Nothing binds a port at import.
"""

from flext_otel.hub.core import Hub, HubOtel
from flext_otel.hub.receivers import HubServer, start_hub

__all__ = ["Hub", "HubOtel", "HubServer", "start_hub"]
