"""Venue events that a WebSocket read publishes are applied at the end of that read, in the same
event-loop turn and in one pass; events published elsewhere wait for the loop's next turn."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from websockets.asyncio.server import serve

from fixgw.clock import SystemClock
from fixgw.gateway._app import _inbox_scheduler
from fixgw.gateway._router import Router
from fixgw.gateway._venue_events import VenueInbox
from fixgw.venues._common.ws import ReconnectingWebSocket

pytestmark = pytest.mark.anyio


async def _noop(*_: object) -> None:
    return None


async def test_inbox_events_of_one_read_applied_after_the_read_in_its_callback_in_order():
    messages = [f"e{n}" for n in range(6)]
    applied: list[tuple[object, object]] = []  # (event, the task it was applied in)
    seen_at_apply: list[int] = []  # how many messages the reader had handled when each event was applied
    handled: list[str] = []
    done = anyio.Event()

    def apply(event: object) -> None:
        applied.append((event, asyncio.current_task()))
        order.append("applied")
        seen_at_apply.append(len(handled))
        if len(applied) == len(messages):
            done.set()

    inbox = VenueInbox(Router(SystemClock()), apply, _inbox_scheduler())
    order: list[str] = []

    def on_message(text: str) -> None:
        if not handled:  # a callback the loop runs at its next turn: the events must come before it
            asyncio.get_running_loop().call_soon(order.append, "next turn")
        handled.append(text)
        inbox.put(text)  # what an adapter's event sink does

    async def server(conn):
        await conn.recv()
        for text in messages:
            conn.protocol.send_text(text.encode())
        conn.send_data()  # one write: the client reads them together
        await conn.wait_closed()

    async with serve(server, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=on_message, inbox=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            with anyio.fail_after(5):
                await ws.subscribed.wait()
            await anyio.sleep(0.05)  # the reader waits: the messages come in a read callback
            await ws.send("go")
            with anyio.fail_after(5):
                await done.wait()
            tg.cancel_scope.cancel()
    assert [e for e, _ in applied] == messages  # in the order published
    assert all(task is None for _, task in applied)  # in the read's callback, not the reading task
    assert order.index("next turn") > 0, "the first events waited for the next turn"
    # applied after the message of the read that carried it was handled (not in the handler's call)
    assert all(seen > n for n, seen in enumerate(seen_at_apply))


async def test_inbox_event_published_outside_a_read_applied_at_the_next_turn():
    applied: list[object] = []
    inbox = VenueInbox(Router(SystemClock()), applied.append, _inbox_scheduler())
    inbox.put("outside")
    assert applied == []  # not in the call that published it
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert applied == ["outside"]
