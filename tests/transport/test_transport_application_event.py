"""The application gets the session's ApplicationMessage event (PossResend, number, type) without
reading tags; an application that only overrides ``on_message`` still gets every message."""

from __future__ import annotations

import anyio
import pytest

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application

from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
ORDER = [(11, "O1"), (55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00"), (38, "2"), (40, 1)]


class Events(Application):
    def __init__(self) -> None:
        self.got: list[tuple[bool, int, bytes]] = []

    def on_application_message(self, session, event):
        self.got.append((event.poss_resend, event.seq, event.msg_type))


class Messages(Application):
    def __init__(self) -> None:
        self.got: list[bytes] = []

    def on_message(self, session, message):
        self.got.append(message.get(11))


async def _send_two_orders(app: Application) -> None:
    acceptor = Acceptor([SessionConfig(GW)], app, MemoryMessageStore())
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        client = await RawFixClient.connect(port)
        await client.logon()
        await client.send("D", ORDER)
        await client.send("D", [(11, "O2"), *ORDER[1:]], extra_header=[(97, "Y")])
        with anyio.fail_after(5):
            while len(app.got) < 2:  # type: ignore[attr-defined]
                await anyio.sleep(0.01)
        await client.aclose()
        tg.cancel_scope.cancel()


async def test_application_event_carries_poss_resend_seq_and_type():
    app = Events()
    await _send_two_orders(app)
    assert app.got == [(False, 2, b"D"), (True, 3, b"D")]


async def test_application_on_message_only_still_gets_every_message():
    app = Messages()
    await _send_two_orders(app)
    assert app.got == [b"O1", b"O2"]
