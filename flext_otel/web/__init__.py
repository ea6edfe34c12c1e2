"""The HTTP server (``/metrics``, ``/health``, ``/ready``) and the live view.

Imports: ``api`` and the packages below it.
"""
