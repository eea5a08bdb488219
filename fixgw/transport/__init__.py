"""The FIX transport: TCP/TLS acceptor and initiator driving sans-I/O sessions (the only anyio code
on the FIX path). See ``fixgw.transport.api`` for the embedding guide."""

from .api import (
    DEFAULT_MAX_BACKLOG,
    DEFAULT_READ_SIZE,
    HEADER_TAGS,
    Acceptor,
    Application,
    Backoff,
    Initiator,
    SessionHandle,
    body_bytes,
    body_fields,
    client_tls_context,
    server_tls_context,
    wire_logger_name,
)

__all__ = [
    "Acceptor",
    "Initiator",
    "Application",
    "SessionHandle",
    "Backoff",
    "server_tls_context",
    "client_tls_context",
    "body_fields",
    "body_bytes",
    "wire_logger_name",
    "HEADER_TAGS",
    "DEFAULT_MAX_BACKLOG",
    "DEFAULT_READ_SIZE",
]
