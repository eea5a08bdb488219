"""Group commit: a journal's commit is a commit point, the transaction ends once per event-loop turn,
and whatever sends (the session's data_to_send, a venue call) commits first."""

from __future__ import annotations

import sqlite3

import anyio
import pytest

from fixgw.errors import StoreError
from fixgw.stores import MemoryMessageStore
from fixgw.stores.sqlite import SqliteMessageStore
from fixgw.transport import next_turn_scheduler

from store_helpers import SID, accepted, killed_writer


def on_disk(path) -> tuple[int, int, int]:
    """(journal rows, stored messages, next target seq) as another connection sees them."""
    db = sqlite3.connect(path)
    try:
        journal = db.execute("SELECT count(*) FROM order_journal").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM fix_messages").fetchone()[0]
        row = db.execute("SELECT next_target_seq FROM fix_sessions").fetchone()
    finally:
        db.close()
    return journal, messages, row[0] if row else 0


def test_group_commit_commit_points_of_one_turn_share_one_transaction(tmp_path):
    path = tmp_path / "gw.db"
    scheduled: list = []
    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        store.defer_commits(scheduled.append)
        before = store.commits
        for n in range(1, 11):
            s.set_next_target_seq(n + 1)  # the inbound message that caused the event
            journal.append(accepted(n))
            s.save_outbound(n, b"report-%d" % n)
            journal.commit()
            assert journal.uncommitted == 0  # a commit point: the records belong to the next flush
        assert on_disk(path) == (0, 0, 1) and len(scheduled) == 1 and store.flush_due
        scheduled.pop()()  # the next turn of the loop
        assert on_disk(path) == (10, 10, 11) and store.commits == before + 1 and not store.flush_due
        journal.append(accepted(11))
        journal.commit()
        assert len(scheduled) == 1  # a new turn, a new flush


def test_group_commit_session_commit_and_flush_commit_at_once(tmp_path):
    path = tmp_path / "gw.db"
    scheduled: list = []
    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        store.defer_commits(scheduled.append)
        journal.append(accepted(1))
        journal.commit()
        s.save_outbound(1, b"report-1")
        s.commit()  # what the session's data_to_send() does before any byte leaves
        assert on_disk(path) == (1, 1, 1)
        journal.append(accepted(2))
        journal.commit()
        store.flush()  # what the gateway does before a venue call
        assert on_disk(path) == (2, 1, 1)
        scheduled.pop()()  # the flush the turn scheduled finds nothing left to do
        assert on_disk(path) == (2, 1, 1)


def test_group_commit_nothing_pending_schedules_nothing(tmp_path):
    scheduled: list = []
    with SqliteMessageStore(tmp_path / "gw.db") as store:
        journal = store.journal("acct")
        store.defer_commits(scheduled.append)
        journal.commit()
        assert scheduled == []


def test_group_commit_without_deferral_commits_at_each_commit_point(tmp_path):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        journal = store.journal("acct")
        journal.append(accepted(1))
        journal.commit()
        assert on_disk(path)[0] == 1


def test_group_commit_failed_deferred_commit_refuses_every_later_write(tmp_path):
    scheduled: list = []
    store = SqliteMessageStore(tmp_path / "gw.db", checkpoint="auto")
    s = store.session_store(SID)
    journal = store.journal("acct")
    store.defer_commits(scheduled.append)
    journal.append(accepted(1))
    journal.commit()
    store.connection.close()  # the COMMIT the next turn runs fails
    scheduled.pop()()  # no caller to raise to: kept
    with pytest.raises(StoreError, match="commit failed"):
        journal.append(accepted(2))
    with pytest.raises(StoreError, match="commit failed"):
        s.save_outbound(1, b"report-1")
    with pytest.raises(StoreError, match="commit failed"):
        s.commit()


def test_group_commit_on_a_running_loop_flushes_at_the_next_turn(tmp_path):
    path = tmp_path / "gw.db"

    async def main() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        with SqliteMessageStore(path) as store:
            journal = store.journal("acct")
            store.defer_commits(next_turn_scheduler())
            journal.append(accepted(1))
            journal.append(accepted(2))
            journal.commit()
            seen_in_turn = on_disk(path)
            await anyio.sleep(0)
            return seen_in_turn, on_disk(path)

    in_turn, next_turn = anyio.run(main)
    assert in_turn[0] == 0 and next_turn[0] == 2


def test_group_commit_memory_store_has_the_same_api():
    store = MemoryMessageStore()
    store.defer_commits(lambda fn: fn())
    store.flush()


_CHILD = killed_writer("fixgw.stores.sqlite:SqliteMessageStore", committed=20, unflushed=10)


def test_group_commit_killed_before_the_flush_keeps_none_of_the_turn(tmp_path, kill_child):
    path = tmp_path / "gw.db"
    assert kill_child(_CHILD, str(path), at=lambda line: line == "pointed") == "pointed"
    # Nothing of the unflushed turn is on disk, not even the inbound numbers that caused it: the peer
    # sends those messages again, and nothing was sent for them.
    assert on_disk(path) == (20, 20, 21)


def test_group_commit_venue_call_queued_in_a_turn_runs_after_its_flush(tmp_path):
    """The gateway's venue worker flushes before each call (``VenueContext.before_call``).

    The race it closes: a worker that just finished a call is already scheduled for the next turn when,
    earlier in that turn, another task reaches a commit point and queues a venue call; the worker takes
    the call in the same turn, before the flush the commit point scheduled.
    """
    from fixgw.config import VenueConfig
    from fixgw.gateway._router import VenueContext

    path = tmp_path / "gw.db"
    seen: list[int] = []

    async def main() -> None:
        with SqliteMessageStore(path) as store:
            journal = store.journal("acct")
            store.defer_commits(next_turn_scheduler())
            venue = VenueContext(VenueConfig(name="v", kind="binance", max_in_flight=1), None)  # type: ignore[arg-type]
            venue.before_call = store.flush  # what the gateway wires (without it, this sees 0)

            async def to_venue() -> None:
                seen.append(on_disk(path)[0])  # what is durable when the request leaves
                tg.cancel_scope.cancel()

            async def order_flow() -> None:  # e.g. a venue event that leads to a cancel
                journal.append(accepted(1))
                journal.commit()
                venue.call(to_venue)

            async def first_call() -> None:
                tg.start_soon(order_flow)  # runs next turn, ahead of this worker's next receive

            async with anyio.create_task_group() as tg:
                tg.start_soon(venue.run_calls)
                venue.call(first_call)

    anyio.run(main)
    assert seen == [1]
