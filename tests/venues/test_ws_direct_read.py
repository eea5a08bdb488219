"""Venue WebSocket reads without hand-overs: a plain handler gets each message in the callback that read
it (no reader task woken, no event-loop turn), ``after_read`` work runs once the read's messages are all
handled, and the last request of a turn can be written at once (``write_at_once``)."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from websockets.asyncio.server import serve

from fixgw.venues._common.ws import ReconnectingWebSocket, after_read, write_at_once

pytestmark = pytest.mark.anyio


async def _noop(*_: object) -> None:
    return None


async def _connected(ws: ReconnectingWebSocket) -> None:
    with anyio.fail_after(5):
        await ws.subscribed.wait()


def _burst_server(messages: list[str]):
    """A server that, once the client says "go", writes ``messages`` in one write, then waits."""

    async def handler(conn):
        await conn.recv()
        for text in messages:
            conn.protocol.send_text(text.encode())
        conn.send_data()
        await conn.wait_closed()

    return handler


async def test_ws_inbox_plain_handler_runs_in_read_callback_then_after_read_work_once():
    messages = [f"m{n}" for n in range(5)]
    seen: list[tuple[str, object]] = []  # (message, the task it was handled in)
    after: list[list[str]] = []  # what was handled when the after-read work ran
    registered: list[bool] = []
    done = anyio.Event()

    def on_message(text: str) -> None:
        seen.append((text, asyncio.current_task()))
        if len(registered) == len(after):  # once per read: the first message of it registers
            registered.append(after_read(lambda: after.append([t for t, _ in seen])))
        if len(seen) == len(messages):
            done.set()

    async with serve(_burst_server(messages), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=on_message, inbox=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            await _connected(ws)
            await anyio.sleep(0.05)  # the reader is waiting: the messages come in a read callback
            await ws.send("go")
            with anyio.fail_after(5):
                await done.wait()
                while len(after) < len(registered):
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert [t for t, _ in seen] == messages
    assert all(task is None for _, task in seen), "handled in the reading task, a turn after the read"
    assert registered and all(registered)
    assert after[-1] == messages  # the work ran after the read's messages, in order
    assert after_read(lambda: None) is False  # outside a read nothing is registered


async def test_ws_inbox_handler_awaitable_holds_later_messages_until_done_in_order():
    messages = ["first", "slow", "x", "y"]
    log: list[str] = []
    done = anyio.Event()

    async def finish_slow() -> None:
        await anyio.sleep(0.05)
        log.append("slow-done")

    def on_message(text: str):
        log.append(text)
        if text == "y":
            done.set()
        return finish_slow() if text == "slow" else None

    async with serve(_burst_server(messages), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=on_message, inbox=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            await _connected(ws)
            await anyio.sleep(0.05)
            await ws.send("go")
            with anyio.fail_after(5):
                await done.wait()
            await anyio.sleep(0.05)
            log.append("checked")
            tg.cancel_scope.cancel()
    assert log == ["first", "slow", "slow-done", "x", "y", "checked"]


async def test_ws_inbox_handler_error_raised_from_run_later_messages_not_handled():
    handled: list[str] = []

    def on_message(text: str) -> None:
        handled.append(text)
        if text == "bad":
            raise ValueError("handler failed")

    async with serve(_burst_server(["ok", "bad", "after"]), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=on_message, inbox=True)

        async def go() -> None:
            await _connected(ws)
            await anyio.sleep(0.05)
            await ws.send("go")

        with anyio.fail_after(5), pytest.raises(BaseExceptionGroup) as raised:
            async with anyio.create_task_group() as tg:
                tg.start_soon(go)
                await ws.run()  # the error ends the run, as a handler's error always did
    failed = raised.value.subgroup(ValueError)
    assert failed is not None and "handler failed" in str(failed.exceptions[0])
    assert handled == ["ok", "bad"]


async def test_ws_send_soon_after_write_at_once_writes_in_the_call_with_earlier_frames():
    got: list[str] = []
    done = anyio.Event()

    async def handler(conn):
        async for message in conn:
            got.append(message)
            if len(got) == 3:
                done.set()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = ReconnectingWebSocket(f"ws://127.0.0.1:{port}", on_connect=_noop, on_message=_noop)
        async with anyio.create_task_group() as tg:
            tg.start_soon(ws.run)
            await _connected(ws)
            transport = ws._conn.transport  # type: ignore[union-attr]
            writes: list[bytes] = []
            write = transport.write

            def counting_write(data: bytes) -> None:  # a spy: the real write still happens
                writes.append(bytes(data))
                write(data)

            transport.write = counting_write  # type: ignore[method-assign]
            ws.send_soon("a")
            write_at_once(True)
            ws.send_soon("b")
            assert len(writes) == 1  # at once, in the call: both frames (masked) in one write
            assert len(writes[0]) == 2 * 7  # two 1-byte masked text frames: 2 header + 4 mask + 1 byte each
            ws.send_soon("c")  # the flag was used up: this one waits for the end of the turn
            assert len(writes) == 1
            with anyio.fail_after(5):
                await done.wait()
            written = list(writes)  # (closing writes more)
            tg.cancel_scope.cancel()
    assert got == ["a", "b", "c"]
    assert len(written) == 2
