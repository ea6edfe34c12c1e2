"""The hub: OTLP ingest into the store, metric merging across instances, forwarding.

Imports: ``web`` and the packages below it.
"""
