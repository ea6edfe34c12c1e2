"""Instrumentation: adapters (entity -> OTel), decorators and logging bridges.

Imports: ``pipeline`` and the packages below it.
"""
