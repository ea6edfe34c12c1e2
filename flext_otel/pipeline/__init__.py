"""The pipeline: options, the one SDK assembly point (``FlextOtel``), current-pipeline state,
process hooks, proxy providers, in-SDK processors and correlation IDs.

Imports: ``export``, ``guardrails``, ``store``, ``support`` and ``domain``.
"""
