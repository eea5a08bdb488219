"""Translate foreign I/O exceptions into ``fixgw.errors.TransportError`` at the transport boundary."""

from __future__ import annotations

import errno
import ssl
from contextlib import contextmanager
from typing import Iterator

import anyio

from ..errors import TransportError

__all__ = ["IO_ERRORS", "RESOURCE_ERRNOS", "TRANSIENT_ACCEPT_ERRNOS", "translate_io_errors", "describe"]

#: Everything a socket or TLS stream may raise when the connection fails.
IO_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ssl.SSLError and ConnectionError
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    anyio.BusyResourceError,
)

#: ``accept`` failures that mean the process or the system ran short of descriptors or memory: the
#: listener backs off and tries again (the waiting connections stay queued in the kernel meanwhile).
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: ``accept`` failures that concern one connection only (it died before we took it, or a firewall
#: rule refused it): the listener goes on at once.
TRANSIENT_ACCEPT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNABORTED", "ECONNRESET", "EPROTO", "EPERM", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN",
                 "ENONET", "EHOSTUNREACH", "EOPNOTSUPP", "ENETUNREACH", "EAGAIN", "EWOULDBLOCK", "EINTR")
    if hasattr(errno, name)
)


def describe(exc: BaseException) -> str:
    """Return a short human text for an I/O exception, looking through anyio's wrappers."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, anyio.EndOfStream):
        return "connection closed by peer"
    if isinstance(exc, (anyio.BrokenResourceError, anyio.ClosedResourceError)) and cause is not None:
        exc = cause
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    text = str(exc) or type(exc).__name__
    return text


@contextmanager
def translate_io_errors(what: str) -> Iterator[None]:
    """Re-raise socket, TLS and anyio stream errors as ``TransportError`` naming ``what`` failed."""
    try:
        yield
    except IO_ERRORS as exc:
        raise TransportError(f"{what}: {describe(exc)}") from exc
