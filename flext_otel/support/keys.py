"""Attribute keys that several layers write or read.

Imports: nothing.
"""

#: Span and log-record attribute that carries the correlation ID.
CORRELATION_ATTRIBUTE = "flext.correlation_id"
