"""Pipelined commits on PostgreSQL (``fixgw.stores._pipeline``): the commit leaves the event loop, and
nothing that depends on it leaves the process before it has landed.

A commit is held back for real: another connection takes ``LOCK TABLE ... IN SHARE MODE`` on the store's
tables, so the server makes every write of the store's commit wait until that connection lets go. While
it holds: the loop keeps running, the commit has not landed, nothing that waits for it was released (the
client socket gets no byte, the venue no order); once it lets go, everything is released in order. A
commit the server refuses (a stale fencing token) releases nothing, ever.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest

if not os.environ.get("CI"):  # without psycopg these skip; CI must run them (the test extra brings psycopg)
    pytest.importorskip("psycopg", reason="psycopg is not installed")
import psycopg  # noqa: E402

from fixgw.errors import StoreError  # noqa: E402
from fixgw.stores.postgres import PostgresMessageStore  # noqa: E402

from pg_gateway import node_config, running_sim  # noqa: E402
from store_helpers import SID, accepted  # noqa: E402
from test_postgres_store import on_server  # noqa: E402

_TABLES = "fix_sessions, fix_messages, order_journal"


class Blocker:
    """Another connection holding SHARE locks on the store's tables: the store's writes wait for it."""

    def __init__(self, dsn: str) -> None:
        self._db = psycopg.connect(dsn)  # not autocommit: the lock lasts until ``release``
        self._db.execute(f"LOCK TABLE {_TABLES} IN SHARE MODE")
        self._lock = threading.Lock()
        self.released = threading.Event()

    def release(self) -> None:
        with self._lock:
            if not self.released.is_set():
                self._db.rollback()
                self._db.close()
                self.released.set()


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _store(pg_dsn: str) -> tuple[PostgresMessageStore, Any, Any]:
    store = PostgresMessageStore(pg_dsn)
    return store, store.session_store(SID), store.journal("acct")


def _write_turn(s: Any, journal: Any, n: int) -> None:
    """One turn's writes: an inbound number, a journal record, an outbound message."""
    s.set_next_target_seq(n + 1)
    journal.append(accepted(n))
    s.save_outbound(n, b"report-%d" % n)


def test_pipelined_commit_held_by_the_server_loop_runs_nothing_released_until_it_lands(pg_dsn):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        store, s, journal = _store(pg_dsn)
        try:
            store.pipeline_commits(loop.call_soon_threadsafe)
            released: list[int] = []
            blocker = Blocker(pg_dsn)
            try:
                _write_turn(s, journal, 1)
                started = time.monotonic()
                s.commit()  # what data_to_send() does: seals the commit, does not wait for it
                first = s.covering()
                _write_turn(s, journal, 2)  # the next turn's writes accumulate while commit 1 is in flight
                s.commit()
                second = s.covering()
                assert time.monotonic() - started < 1.0  # the loop was not held by the commit
                assert (first, second) == (1, 2) and store.pipeline.durable == 0
                store.pipeline.when_durable(first, lambda: released.append(first))
                store.pipeline.when_durable(second, lambda: released.append(second))
                waiting = asyncio.ensure_future(store.durable())  # type: ignore[arg-type]
                ticks = 0
                for _ in range(30):  # 0.3 s of a running loop while the server holds the commit
                    await asyncio.sleep(0.01)
                    ticks += 1
                assert ticks == 30 and released == [] and not waiting.done()
                assert on_server(pg_dsn) == (0, 0, 1)
            finally:
                blocker.release()
            await _until(lambda: released == [1, 2])  # landed, released in order, commit 2 after commit 1
            await asyncio.wait_for(waiting, 10)
            assert on_server(pg_dsn) == (2, 2, 3) and store.pipeline.durable == 2
            assert store.durable() is None  # nothing pending: nothing to wait for
        finally:
            store.close()

    asyncio.run(main())


def test_pipelined_reads_see_writes_whose_commit_is_in_flight(pg_dsn):
    async def main() -> None:
        store, s, journal = _store(pg_dsn)
        try:
            store.pipeline_commits(asyncio.get_running_loop().call_soon_threadsafe)
            for n in range(1, 4):
                _write_turn(s, journal, n)
                s.commit()
            # A read waits for the commit in flight, then sees it and what is still queued.
            assert [seq for seq, _ in s.fetch(1, 0)] == [1, 2, 3]
            assert journal.find_order_id(cl_ord_id=None, venue_order_id=None) is None
            assert [r.order_id for r in journal.load_order("acct-3")] == ["acct-3"]
            store.flush()  # synchronous: durable on return
            assert on_server(pg_dsn) == (3, 3, 4)
            assert [r.order_id for _, r in journal.records()] == ["acct-1", "acct-2", "acct-3"]
        finally:
            store.close()

    asyncio.run(main())


def test_pipelined_commit_refused_by_fencing_releases_nothing_and_refuses_every_later_write(pg_dsn):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        store, s, journal = _store(pg_dsn)
        failures: list[StoreError] = []
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as db:  # another node took the lease: token 8
                db.execute("INSERT INTO fixgw_leases VALUES ('session:x', 'B', 8, now() + interval '1 hour')")
            store.fence("session:x", 7)  # this node still holds token 7: a stale owner
            store.pipeline_commits(loop.call_soon_threadsafe, failures.append)
            released: list[int] = []
            _write_turn(s, journal, 1)
            s.commit()
            ticket = s.covering()
            store.pipeline.when_durable(ticket, lambda: released.append(ticket))
            waiting = store.durable()
            assert waiting is not None
            with pytest.raises(StoreError, match="fenced"):
                await asyncio.wait_for(waiting, 10)  # type: ignore[arg-type]
            await _until(lambda: failures)
            assert released == [] and store.pipeline.durable == 0 and on_server(pg_dsn) == (0, 0, 1)
            assert "fenced" in str(failures[0])
            with pytest.raises(StoreError, match="fenced"):
                journal.append(accepted(2))
            with pytest.raises(StoreError, match="fenced"):
                s.commit()
            store.pipeline.when_durable(ticket, lambda: released.append(ticket))
            assert released == []
        finally:
            with pytest.raises(StoreError):
                store.close()

    asyncio.run(main())


# -- the gateway: FIX bytes and venue calls wait for the commit ----------------------------------------

API_KEY = "pl-key-" + "0" * 20
API_SECRET = "pl-secret-" + "1" * 40


@pytest.fixture
def sim():
    with running_sim(API_KEY, API_SECRET, counterparty=False) as server:
        yield server


def _config(sim: Any, pg_dsn: str) -> Any:
    return node_config(sim, pg_dsn, API_KEY, API_SECRET)


def _venue_orders(sim: Any) -> list[Any]:
    def read(st: Any) -> list[Any]:
        return [o for orders in st.engine.orders.values() for o in orders.values() if o.account_id == "gw"]

    return list(sim.call(read))


@pytest.mark.slow
def test_gateway_commit_held_by_the_server_no_byte_to_the_client_no_venue_call_until_it_lands(sim, pg_dsn):
    import anyio

    from fixgw.gateway import Gateway
    from gateway.fixclient import FixClient

    async def main() -> None:
        gw = Gateway(_config(sim, pg_dsn))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        async with anyio.create_task_group() as tg:
            await tg.start(gw.run)
            await client.connect(gw.port)
            await client.new_order("W1", "1", "0.5", price="90")  # before the lock: the first order goes through
            await client.wait_for(lambda m: m.get(11) == b"W1" and m.get(150) == b"0")
            blocker = Blocker(pg_dsn)
            # Should the commit block the event loop (this test's loop too), the lock goes after 5 s anyway.
            safety = threading.Timer(5.0, blocker.release)
            safety.start()
            try:
                next_in, inbox, at_venue = client.next_in, len(client.inbox), len(_venue_orders(sim))
                await client.new_order("BAD1", "1", "1", symbol="NOPE/USDT", price="1")  # answered at once
                await client.new_order("OK1", "1", "0.5", price="90")  # a venue call
                await client.pump(0.5)
                assert not blocker.released.is_set(), "the event loop was held by the commit"
                assert (client.next_in, len(client.inbox)) == (next_in, inbox)  # no byte reached the client
                assert len(_venue_orders(sim)) == at_venue  # the venue was not called
            finally:
                safety.cancel()
                blocker.release()
            reject = await client.wait_for(lambda m: m.get(11) == b"BAD1")
            new = await client.wait_for(lambda m: m.get(11) == b"OK1" and m.get(150) == b"0")
            assert int(reject[34]) < int(new[34]) and len(_venue_orders(sim)) == at_venue + 1
            await client.logout()
            gw.stop()
        rows = dict(on_journal(pg_dsn))
        assert rows.get("SubmitOrder") == 2  # the orders were journaled (and durable) before their venue calls

    anyio.run(main)


def on_journal(dsn: str) -> list[tuple[str, int]]:
    with psycopg.connect(dsn, autocommit=True) as db:
        return [(k, int(n)) for k, n in db.execute("SELECT kind, count(*) FROM order_journal GROUP BY kind")]

