"""Embed a FIX acceptor or initiator in a few lines.

Write an ``Application`` (every callback optional), build the sessions' configs and a store, and serve::

    import anyio
    from fixgw.session import SessionConfig, SessionID
    from fixgw.stores.sqlite import SqliteMessageStore
    from fixgw.transport import Acceptor, Application, body_fields

    class Echo(Application):
        def on_logon(self, session):
            print("logged on", session.session_id)

        def on_message(self, session, message):
            session.send(message.msg_type, body_fields(message))

    async def main():
        store = SqliteMessageStore("fix.db")
        sessions = [SessionConfig(SessionID("FIX.4.4", "GATEWAY", "CLIENT1"))]
        await Acceptor(sessions, Echo(), store, host="0.0.0.0", port=9878).serve()

    anyio.run(main)

An initiator is the same with ``Initiator(config, app, store, host=..., port=...)`` and
``await initiator.run()`` (it reconnects with exponential backoff until ``stop()``). TLS: pass
``ssl_context=server_tls_context(cert, key, client_ca=..., require_client_cert=True)`` to the acceptor
or ``ssl_context=client_tls_context(cafile=...)`` to the initiator.

Sending: ``session.send(msg_type, fields) -> seq`` from any task of the event loop (the message is
stored before it can leave; while disconnected it waits in the store for a resend), or
``session.send_threadsafe(...)`` from another thread. A fan-out to many sessions sends with
``flush=False`` and then calls each ``session.flush()``: one write per session, straight to the
kernel. ``acceptor.handles[session_id]`` and
``initiator.handle`` give the ``SessionHandle`` outside the callbacks; ``session.logout(text)`` and
``session.disconnect()`` end a connection.

A peer that does not read is cut off rather than buffered for without end: when what waits behind
the write in progress passes ``max_backlog`` bytes, or when the socket takes nothing for
``stall_timeout`` seconds (``session.stall_timeout``; see "Backpressure" in ``driver.py``). A big
resend is streamed chunk by chunk as the socket takes it and never counts against the bound.

Logging: the wire log (every message in and out) goes to ``fixgw.wire.<session>`` at INFO, the
narrative (connections, logons, why a connection closed) to ``fixgw.session``. Socket and TLS failures
surface as ``fixgw.errors.TransportError``.
"""

from __future__ import annotations

from typing import Any

from .acceptor import Acceptor
from ..backoff import Backoff
from .driver import DEFAULT_MAX_BACKLOG, DEFAULT_READ_SIZE, DEFAULT_STALL_TIMEOUT, Application, SessionHandle
from .initiator import Initiator
from .tls import client_tls_context, server_tls_context
from .turns import next_turn_scheduler
from .wirelog import wire_logger_name

__all__ = [
    "Acceptor",
    "Initiator",
    "Application",
    "SessionHandle",
    "Backoff",
    "server_tls_context",
    "client_tls_context",
    "body_fields",
    "next_turn_scheduler",
    "body_bytes",
    "wire_logger_name",
    "HEADER_TAGS",
    "DEFAULT_MAX_BACKLOG",
    "DEFAULT_READ_SIZE",
    "DEFAULT_STALL_TIMEOUT",
]

#: Standard header and trailer tags of FIX 4.2/4.4: the session writes them, the application does not.
HEADER_TAGS = frozenset(
    {8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52, 122, 212,
     213, 347, 369, 627, 628, 629, 630, 10, 93, 89}
)

#: Bytes a header field takes besides its value: the tag's digits, "=" and SOH.
_HEADER_TAG_WIDTH = {tag: len(str(tag)) + 2 for tag in HEADER_TAGS}


def body_bytes(message: Any) -> bytes:
    """Return the body of a received message as ready ``tag=value SOH`` bytes, cut from its raw frame.

    Cheaper than ``body_fields`` for forwarding or echoing (the session sends ready bytes as they are).
    Assumes the standard header comes first, as FIX requires; a signed message (89) or one without
    its raw frame falls back to re-encoding ``body_fields``.
    """
    raw = message.raw
    if raw is None or 89 in message:
        return b"".join(b"%d=%s\x01" % (tag, value) for tag, value in body_fields(message))
    width = _HEADER_TAG_WIDTH
    start = 0
    fields = message.fields
    for tag, value in fields:
        w = width.get(tag)
        if w is None:
            break
        start += w + len(value)
    else:
        return b""
    return raw[start : len(raw) - len(fields[-1][1]) - 4]


def body_fields(message: Any) -> list[tuple[int, bytes]]:
    """Return the body fields of a received message (header and trailer removed), in wire order."""
    header = HEADER_TAGS
    return [(tag, value) for tag, value in message.fields if tag not in header]
