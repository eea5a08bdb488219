"""The message store and its order journals share one SQLite transaction: both commit, or neither."""

from __future__ import annotations

import sqlite3
import textwrap

import pytest

from fixgw.orders import OrderAccepted
from fixgw.session import SessionID
from fixgw.stores import MemoryMessageStore, MemoryOrderJournal
from fixgw.stores.sqlite import SqliteMessageStore

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")


def accepted(n: int) -> OrderAccepted:
    return OrderAccepted(order_id=f"acct-{n}", ts_ns=n, venue_order_id=str(n))


def counts(path) -> tuple[int, int]:
    """(journal rows, stored messages) as another connection sees them: what is on disk."""
    db = sqlite3.connect(path)
    try:
        journal = db.execute("SELECT count(*) FROM order_journal").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM fix_messages").fetchone()[0]
    finally:
        db.close()
    return journal, messages


@pytest.mark.parametrize("side", ["journal", "session"])
def test_store_commit_from_either_side_commits_journal_messages_and_seqs(tmp_path, side):
    path = tmp_path / "gw.db"
    with SqliteMessageStore(path) as store:
        s = store.session_store(SID)
        journal = store.journal("acct")
        journal.append(accepted(1))
        s.save_outbound(1, b"report-1")
        assert counts(path) == (0, 0) and journal.uncommitted == 1
        # The session store's commit is what the session's data_to_send() does before bytes leave.
        (journal.commit if side == "journal" else s.commit)()
        assert counts(path) == (1, 1) and journal.uncommitted == 0
        assert [r for _, r in journal.records()] == [accepted(1)]
        with SqliteMessageStore(path, checkpoint="auto") as other:
            assert other.session_store(SID).next_sender_seq == 2


def test_store_memory_journal_is_a_fresh_memory_journal():
    store = MemoryMessageStore()
    journal = store.journal("acct")
    assert isinstance(journal, MemoryOrderJournal) and journal.account == "acct"


_CHILD = textwrap.dedent(
    """
    import sys, time
    from fixgw.orders import OrderAccepted
    from fixgw.session import SessionID
    from fixgw.stores.sqlite import SqliteMessageStore
    store = SqliteMessageStore(sys.argv[1])
    s = store.session_store(SessionID("FIX.4.4", "GATEWAY", "CLIENT"))
    journal = store.journal("acct")
    for n in range(1, 51):
        journal.append(OrderAccepted(order_id=f"acct-{n}", ts_ns=n, venue_order_id=str(n)))
        s.save_outbound(n, b"report-%d" % n)
        (journal.commit if n % 2 else s.commit)()
    journal.append(OrderAccepted(order_id="acct-51", ts_ns=51, venue_order_id="51"))
    print("journaled", flush=True)
    time.sleep(60)
    """
)


def test_store_journal_killed_between_append_and_report_keeps_neither(tmp_path, kill_child):
    path = tmp_path / "gw.db"
    assert kill_child(_CHILD, str(path), at=lambda line: line == "journaled") == "journaled"
    # Event 51 was journaled but its report never stored: the crash drops the event as well.
    assert counts(path) == (50, 50)
    with SqliteMessageStore(path) as store:
        assert store.session_store(SID).next_sender_seq == 51
        assert [r.order_id for _, r in store.journal("acct").records()][-1] == "acct-50"
