"""The FIX transport: TCP/TLS acceptor and initiator driving sans-I/O sessions (the only anyio code
on the FIX path). See ``fixgw.transport.api`` for the embedding guide; its names are this package's."""

from . import api as _api
from .api import *  # noqa: F403 - the public surface is api.__all__

__all__ = list(_api.__all__)
