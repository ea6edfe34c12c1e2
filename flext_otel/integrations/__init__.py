"""Hooks for servers and launchers (OpenTelemetry distro and configurator, gunicorn).

Imports: ``testing`` and the packages below it.
"""
