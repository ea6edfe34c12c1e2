"""Hooks for servers and launchers: the OpenTelemetry distro and configurator
(``distro``), gunicorn's config module (``gunicorn``) and celery's worker signals
(``celery``).

Imports: ``api``, ``testing`` and the packages below them; server packages lazily.
"""
