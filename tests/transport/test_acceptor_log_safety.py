"""No peer can write a line of its own into the log: CompIDs of a stranger's Logon and any field of a
logged-on session reach the narrative and wire logs escaped, one record one line."""

from __future__ import annotations

import logging

import anyio
import pytest

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_fields

from transport_fix_client import CLOSED, RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
FORGED = "\n2026-01-01 00:00:00,000 CRITICAL fixgw.gateway: fake\r\n"


class Echo(Application):
    def on_message(self, session, message):
        session.send(message.get(35), body_fields(message))


class Lines(logging.Handler):
    """Keep every record's formatted text, as a log file would get it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def lines():
    handler = Lines()
    root = logging.getLogger("fixgw")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # the wire log too
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _forged_lines(texts: list[str]) -> list[str]:
    return [t for t in texts if "\n" in t or "\r" in t]


async def test_acceptor_logon_comp_id_with_newline_logged_escaped_not_answered(lines):
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_failure_delay=0)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        for sender, target in [("CLIENT" + FORGED, "GATEWAY"), ("CLIENT", "GATEWAY" + FORGED)]:
            client = await RawFixClient.connect(port, sender=sender, target=target)
            await client.send("A", [(98, 0), (108, 30)])
            # An unreadable CompID is never echoed back: the connection closes without a byte.
            assert await client.receive() is CLOSED and client.received_bytes == 0
            await client.aclose()
        tg.cancel_scope.cancel()
    refused = [t for t in lines.texts if "refused" in t]
    assert len(refused) == 2, lines.texts
    assert "\\x0a2026-01-01 00:00:00,000 CRITICAL" in refused[0]
    assert _forged_lines(lines.texts) == []


async def test_acceptor_field_with_newline_wire_log_one_line_per_message(lines):
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        await client.send("B", [(148, "headline" + FORGED), (33, 1), (58, "text" + FORGED)])
        echo = await client.expect("B")
        assert echo.get(58) == ("text" + FORGED).encode()
        await client.send("5")
        await client.expect("5")
        await client.aclose()
        await acceptor.handles[GW].wait_disconnected()
        tg.cancel_scope.cancel()
    wire = [t for t in lines.texts if "fixgw.wire." in t]
    assert sum("35=B|" in t for t in wire) == 2, wire  # in and out
    assert all("58=text\\x0a2026-01-01" in t for t in wire if "35=B|" in t)
    assert _forged_lines(lines.texts) == []
