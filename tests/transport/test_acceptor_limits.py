"""The acceptor under load from strangers: descriptor exhaustion, caps on connections waiting for a
Logon, and the brake on repeated failed Logons. Real loopback sockets, a real child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from fixgw.session import Session, SessionConfig, SessionID
from fixgw.stores.memory import MemoryMessageStore
from fixgw.transport import Acceptor, Application, body_fields

from transport_fix_client import RawFixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

GW = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
HERE = Path(__file__).parent


class Echo(Application):
    def on_message(self, session, message):
        session.send(message.get(35), body_fields(message))


async def _wait_until(predicate, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


async def _closed_at_once(stream, timeout: float = 2.0) -> bool:
    """True when the acceptor closed the connection without a byte; False when it keeps it open."""
    with anyio.move_on_after(timeout):
        try:
            data = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return True
        raise AssertionError(f"unexpected bytes {data!r}")
    return False


async def _echo_round_trip(port: int) -> None:
    client = await RawFixClient.connect(port)
    try:
        reply = await client.logon(reset=True, timeout=10.0)
        assert reply.get(35) == b"A"
        await client.send("B", [(148, "after the storm"), (33, 1), (58, "x")])
        echo = await client.expect("B", timeout=10.0)
        assert echo.get(148) == b"after the storm"
    finally:
        await client.aclose()


def test_acceptor_descriptor_exhaustion_survives_and_serves_afterwards():
    # The child runs with 64 descriptors and (on purpose) pending caps above that, so accept() fails
    # with EMFILE; we open 150 idle connections. It must keep running, then serve a real client.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    child = subprocess.Popen([sys.executable, str(HERE / "acceptor_process.py"), "64", "256", "256"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             text=True)
    try:
        line = child.stdout.readline()
        assert line.startswith("PORT "), (line, child.stderr.read() if child.poll() is not None else "")
        port = int(line.split()[1])

        async def scenario() -> None:
            idle = []
            for _ in range(150):
                idle.append(await anyio.connect_tcp("127.0.0.1", port))
            await anyio.sleep(1.0)  # the child runs out of descriptors and backs off meanwhile
            assert child.poll() is None, "the acceptor process died"
            for stream in idle:
                await stream.aclose()
            await _echo_round_trip(port)

        anyio.run(scenario)
        assert child.poll() is None, "the acceptor process died"
    finally:
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        err = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert "Too many open files" in err and "retrying in" in err, err
    assert "open-file limit 64" in err, err  # the start-up warning about a cap the limit cannot hold


async def test_acceptor_total_pending_cap_closes_extra_connections_at_once():
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_timeout=30.0,
                        max_pending_connections=4, max_pending_per_address=100)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        idle = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(4)]
        await _wait_until(lambda: acceptor.pending_connections == 4)
        extra = await anyio.connect_tcp("127.0.0.1", port)
        assert await _closed_at_once(extra)
        assert acceptor.pending_connections == 4
        assert not await _closed_at_once(idle[0], timeout=0.2)  # the admitted ones are still open
        for stream in idle:
            await stream.aclose()
        await _wait_until(lambda: acceptor.pending_connections == 0)
        await _echo_round_trip(port)
        tg.cancel_scope.cancel()


async def test_acceptor_per_address_pending_cap_refuses_that_address_only():
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_timeout=30.0,
                        max_pending_connections=100, max_pending_per_address=2)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        idle = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(2)]
        await _wait_until(lambda: acceptor.pending_connections == 2)
        third = await anyio.connect_tcp("127.0.0.1", port)
        assert await _closed_at_once(third)
        other = await anyio.connect_tcp("127.0.0.1", port, local_host="127.0.0.2")
        await _wait_until(lambda: acceptor.pending_connections == 3)
        assert not await _closed_at_once(other, timeout=0.2)
        # A connection handed to its session no longer counts: a client can log on beside the idle ones.
        await idle.pop().aclose()
        await _wait_until(lambda: acceptor.pending_connections == 2)
        await _echo_round_trip(port)
        assert acceptor.pending_connections == 2
        for stream in [*idle, other]:
            await stream.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_per_address_cap_never_below_session_count_so_one_host_logs_all_on():
    sessions = [SessionConfig(SessionID("FIX.4.4", GW.sender_comp_id, f"C{i}")) for i in range(5)]
    acceptor = Acceptor(sessions, Echo(), MemoryMessageStore(), logon_timeout=30.0,
                        max_pending_connections=100, max_pending_per_address=2)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        idle = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(5)]
        await _wait_until(lambda: acceptor.pending_connections == 5)
        for stream in idle:
            assert not await _closed_at_once(stream, timeout=0.05)
        sixth = await anyio.connect_tcp("127.0.0.1", port)
        assert await _closed_at_once(sixth)
        for stream in idle:
            await stream.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_refused_logon_caps_log_warnings_rate_limited(caplog):
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_timeout=30.0,
                        max_pending_connections=1, max_pending_per_address=1)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        idle = await anyio.connect_tcp("127.0.0.1", port)
        await _wait_until(lambda: acceptor.pending_connections == 1)
        with caplog.at_level("WARNING", logger="fixgw.session"):
            for _ in range(20):
                extra = await anyio.connect_tcp("127.0.0.1", port)
                assert await _closed_at_once(extra)
        refusals = [r for r in caplog.records if "refused" in r.getMessage() and "waiting for a Logon" in r.getMessage()]
        assert len(refusals) == 1, [r.getMessage() for r in refusals]
        await idle.aclose()
        tg.cancel_scope.cancel()


async def test_acceptor_repeated_bad_passwords_answers_slow_down():
    session = Session(SessionConfig(GW), MemoryMessageStore().session_store(GW),
                      authenticator=lambda _sid, _user, password, _peer: password == "right")
    acceptor = Acceptor([session], Echo(), MemoryMessageStore(), logon_failure_delay=0.1,
                        logon_failure_max_delay=5.0)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        answered = []
        for _ in range(5):
            client = await RawFixClient.connect(port)
            await client.send("A", [(98, 0), (108, 30), (553, "u"), (554, "wrong")], seq=1)
            # Refused by the engine: a Logout (once the engine says why) or a bare close.
            await client.read_until_closed(timeout=10.0)
            answered.append(time.monotonic())
            await client.aclose()
            await acceptor.handles[GW].wait_disconnected()
        gaps = [b - a for a, b in zip(answered, answered[1:])]
        # Failures 1..4 make the next answer wait 0.1, 0.2, 0.4, 0.8 s: each gap grows.
        assert all(later > earlier for earlier, later in zip(gaps, gaps[1:])), gaps
        assert gaps[-1] >= 0.75, gaps
        tg.cancel_scope.cancel()


async def test_acceptor_logon_brake_parallel_connections_queue_behind_each_other():
    acceptor = Acceptor([SessionConfig(GW)], Echo(), MemoryMessageStore(), logon_failure_delay=0.2)
    async with anyio.create_task_group() as tg:
        port = await tg.start(acceptor.serve)
        stranger = await RawFixClient.connect(port, sender="STRANGER")
        await stranger.send("A", [(98, 0), (108, 30)])
        await stranger.read_until_closed()
        await stranger.aclose()
        # One failure on record: four Logons sent together get one answer slot each, 0.2 s apart.
        times: list[float] = []

        async def guess() -> None:
            client = await RawFixClient.connect(port, sender="STRANGER")
            await client.send("A", [(98, 0), (108, 30)])
            await client.expect("5", timeout=10.0)
            times.append(time.monotonic())
            await client.aclose()

        start = time.monotonic()
        async with anyio.create_task_group() as guesses:
            for _ in range(4):
                guesses.start_soon(guess)
        times.sort()
        offsets = [round(t - start, 3) for t in times]
        assert offsets[0] >= 0.15, offsets
        assert all(b - a >= 0.15 for a, b in zip(offsets, offsets[1:])), offsets
        tg.cancel_scope.cancel()
