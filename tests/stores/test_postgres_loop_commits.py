"""Pipelined commits run by the event loop itself (``fixgw.stores._pgpipeline.LoopCommits``), the loop's
reads of committed events (``SharedEvents.after_async``) and one ``INSERT`` per table and commit
(``PgWriter._batch_of``), on a real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

if not os.environ.get("CI"):  # without psycopg these skip; CI must run them (the test extra brings psycopg)
    pytest.importorskip("psycopg", reason="psycopg is not installed")

from fixgw.errors import StoreError  # noqa: E402
from fixgw.orders import OrderSubmitted  # noqa: E402
from fixgw.stores._pgpipeline import LoopCommits  # noqa: E402
from fixgw.stores._pipeline import CommitPipeline  # noqa: E402
from fixgw.stores.journal_postgres import SharedEvents  # noqa: E402
from fixgw.stores.postgres import PostgresMessageStore  # noqa: E402

from store_helpers import SID, accepted  # noqa: E402
from test_postgres_store import on_server  # noqa: E402


def test_loop_commits_commit_larger_than_the_socket_buffer_lands_without_a_thread(pg_dsn):
    async def main() -> None:
        store = PostgresMessageStore(pg_dsn)
        try:
            s, journal = store.session_store(SID), store.journal("acct")
            threads = threading.active_count()
            store.pipeline_commits(asyncio.get_running_loop().call_soon_threadsafe)
            assert isinstance(store.pipeline, LoopCommits) and threading.active_count() == threads
            big = b"x" * (4 << 20)  # far more than a socket buffer holds: sent as the socket drains
            s.set_next_target_seq(2)
            journal.append(accepted(1))
            s.save_outbound(1, big)
            s.commit()
            first = s.covering()
            s.save_outbound(2, b"second")  # the next commit's writes, while the first is in flight
            s.commit()
            second = s.covering()
            assert (first, second) == (1, 2) and store.pipeline.durable == 0  # sealed, not landed yet
            released: list[int] = []
            store.pipeline.when_durable(first, lambda: released.append(first))
            store.pipeline.when_durable(second, lambda: released.append(second))
            waiting = store.durable()
            assert waiting is not None
            await asyncio.wait_for(waiting, 30)  # type: ignore[arg-type]
            assert released == [1, 2] and store.pipeline.durable == 2
            assert on_server(pg_dsn) == (1, 2, 2)  # (journal rows, messages, next target seq)
            assert s.fetch(1, 1) == [(1, big)]
        finally:
            store.close()

    asyncio.run(main())


def test_pipeline_commits_without_a_running_loop_commit_thread_lands(pg_dsn):
    loop = asyncio.new_event_loop()
    store = PostgresMessageStore(pg_dsn)
    try:
        store.pipeline_commits(loop.call_soon_threadsafe)  # no running loop: commits on a thread
        assert type(store.pipeline) is CommitPipeline
        s = store.session_store(SID)
        s.save_outbound(1, b"one")
        s.commit()
        waiting = store.durable()
        if waiting is not None:
            loop.run_until_complete(asyncio.wait_for(waiting, 10))  # type: ignore[arg-type]
        assert store.pipeline.durable >= 1 and on_server(pg_dsn)[1] == 1
    finally:
        store.close()
        loop.close()


def test_pg_writer_alternating_inserts_one_statement_per_table_reset_keeps_its_place(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        s, journal = store.session_store(SID), store.journal("acct")
        for n in range(1, 4):  # the journal's rows and the messages' rows alternate, as in a turn
            journal.append(accepted(n))
            s.save_outbound(n, b"m%d" % n)
        query = store._render(commit=False)
        assert query.count("INSERT INTO order_journal") == 1 and query.count("INSERT INTO fix_messages") == 1
        s.reset(5)  # a DELETE of the session's messages: rows saved after it must not move before it
        s.save_outbound(1, b"after-reset")
        journal.append(accepted(4))
        query = store._render(commit=False)
        assert query.index("DELETE FROM fix_messages") < query.rindex("INSERT INTO fix_messages")
        store.commit()
        assert s.fetch(1, 0) == [(1, b"after-reset")]
        assert [r.order_id for _, r in journal.records()] == ["acct-1", "acct-2", "acct-3", "acct-4"]


def test_shared_events_after_async_reads_what_after_reads_without_a_thread(pg_dsn):
    with PostgresMessageStore(pg_dsn) as store:
        journal = store.journal("A\\1")  # (a backslash: escaped in the table, read back as written)
        for n in range(3):
            journal.append(OrderSubmitted(order_id=f"o'{n}", ts_ns=n))
        journal.append(accepted(9))
        store.commit()
    source = SharedEvents(pg_dsn)
    try:
        async def main() -> tuple[list, list]:
            threads = threading.active_count()
            got = await source.after_async(1, 10)
            assert threading.active_count() == threads
            return got, await source.after_async(10**6)

        got, none = asyncio.run(main())
        assert none == []
        expected = source.after(1, 10)
        assert [(i, a, o, type(r), r.order_id) for i, a, o, r in got] == \
               [(i, a, o, type(r), r.order_id) for i, a, o, r in expected]
        assert [(i, a, o) for i, a, o, _ in got][:2] == [(2, "A\\1", "o'1"), (3, "A\\1", "o'2")]
    finally:
        source.close()
    with pytest.raises(StoreError, match="closed"):
        asyncio.run(source.after_async(0))


def test_loop_commits_loop_closed_with_commits_in_flight_close_lands_them(pg_dsn):
    store = PostgresMessageStore(pg_dsn)
    s = store.session_store(SID)

    async def main() -> None:
        store.pipeline_commits(asyncio.get_running_loop().call_soon_threadsafe)
        s.save_outbound(1, b"one")
        s.commit()  # sealed and sent; the loop ends before its answer is read

    asyncio.run(main())
    assert isinstance(store.pipeline, LoopCommits)
    s.save_outbound(2, b"two")
    s.commit()  # the loop is closed: sealed behind the first, sent by whoever waits for it
    store.close()  # waits for what is in flight and commits the rest
    assert on_server(pg_dsn)[1] == 2
    assert store.pipeline.durable >= 1
