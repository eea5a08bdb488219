"""An acceptor restarted mid-session on the same SQLite file resumes its numbers and answers resends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from fixgw.session import SessionConfig, SessionID
from fixgw.stores.sqlite import SqliteMessageStore
from fixgw.transport import Acceptor, Application, body_fields

from transport_fix_client import CLOSED, RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
ROOT = Path(__file__).resolve().parents[2]
ORDER = [(55, "BTC/USDT"), (54, 1), (60, "20260101-00:00:00"), (38, "1"), (40, 1), (21, 1)]


class Echo(Application):
    def on_message(self, session, message):
        session.send(message.get(35), body_fields(message))


async def _send_orders(client: RawFixClient, ids: list[str]) -> list[int]:
    for cl in ids:
        await client.send("D", [(11, cl)] + ORDER)
    seqs = []
    for cl in ids:
        echo = await client.expect("D")
        assert echo.get(11) == cl.encode()
        seqs.append(int(echo.get(34)))
    return seqs


async def _check_resend(client: RawFixClient, echoed: dict[int, bytes], last: int) -> None:
    """Ask for 1..infinity; stored orders must come back as PossDup, admin messages as gap fills."""
    await client.send("2", [(7, 1), (16, 0)])
    covered: dict[int, bytes] = {}
    while not all(s in covered for s in range(1, last + 1)):
        msg = await client.receive()
        assert msg is not CLOSED
        seq = int(msg.get(34))
        mt = msg.get(35)
        if mt == b"4":
            assert msg.get(123) == b"Y" and msg.get(43) == b"Y"
            for s in range(seq, int(msg.get(36))):
                covered[s] = b"gapfill"
        elif mt == b"D":
            assert msg.get(43) == b"Y" and msg.get(122) is not None
            covered[seq] = msg.get(11)
        elif mt == b"0":
            continue
        else:  # pragma: no cover - anything else is a failure
            raise AssertionError(f"unexpected {msg.fields}")
    for seq, cl in echoed.items():
        assert covered[seq] == cl


async def test_acceptor_restarted_on_same_store_resumes_seqs_and_answers_resend(tmp_path):
    path = tmp_path / "gw.db"
    store = SqliteMessageStore(path)
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as first_run:
            acceptor = Acceptor([SessionConfig(GW)], Echo(), store)
            port = await tg.start(acceptor.serve)
            client = await RawFixClient.connect(port)
            assert (await client.logon()).get(34) == b"1"
            seqs = await _send_orders(client, ["A1", "A2", "A3"])
            assert seqs == [2, 3, 4]
            await acceptor.aclose()
            assert await client.receive() is CLOSED
            await client.aclose()
            first_run.cancel()
        store.close()

        # A new acceptor object on a new store object over the same file.
        store2 = SqliteMessageStore(path)
        acceptor2 = Acceptor([SessionConfig(GW)], Echo(), store2)
        port2 = await tg.start(acceptor2.serve)
        again = await RawFixClient.connect(port2)
        again.seq = client.seq  # our numbers go on too
        reply = await again.logon()
        assert reply.get(34) == b"5"
        await _check_resend(again, {2: b"A1", 3: b"A2", 4: b"A3"}, 5)
        # Still in sequence afterwards.
        assert await _send_orders(again, ["B1"]) == [6]
        await again.aclose()
        tg.cancel_scope.cancel()
    store2.close()


def _start_echo_process(store: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "echo_acceptor.py"),
            "--port", "0", "--print-port", "--store", str(store),
            "--session", "FIX.4.4:GATEWAY:CLIENT",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    return proc, int(line.split()[1])


async def test_echo_acceptor_process_killed_restarted_resumes_and_resends(tmp_path):
    store = tmp_path / "echo.db"
    proc, port = await anyio.to_thread.run_sync(_start_echo_process, store)
    try:
        client = await RawFixClient.connect(port)
        assert (await client.logon()).get(34) == b"1"
        assert await _send_orders(client, ["K1", "K2"]) == [2, 3]
        os.kill(proc.pid, signal.SIGKILL)
        await anyio.to_thread.run_sync(proc.wait)
        assert await client.receive() is CLOSED
        await client.aclose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    proc, port = await anyio.to_thread.run_sync(_start_echo_process, store)
    try:
        again = await RawFixClient.connect(port)
        again.seq = client.seq
        assert (await again.logon()).get(34) == b"4"
        await _check_resend(again, {2: b"K1", 3: b"K2"}, 4)
        await again.aclose()
    finally:
        proc.terminate()
        await anyio.to_thread.run_sync(proc.wait)
