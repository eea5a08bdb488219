"""PostgreSQL implementation of the session ``MessageStore`` port (``fixgw.session.store``).

Theory of operation
-------------------
The same contract as ``fixgw.stores.sqlite``, on a PostgreSQL database that several gateway processes
may share. Every FIX session is a row of ``fix_sessions`` (keyed by BeginString, SenderCompID,
TargetCompID); its outbound messages are rows of ``fix_messages`` keyed by (session row, MsgSeqNum).
The tables (and the order journal's) are created when the store is opened.

Writes are batched in the process (``fixgw.stores._pg``): ``save_outbound`` queues the message and
advances the in-memory sender number, ``set_next_*_seq`` and ``reset`` change the in-memory numbers, and
``commit()`` queues the changed sequence numbers of every session and sends the whole batch with
``BEGIN`` and ``COMMIT`` as one query: one round trip per commit. A message and the sender number that
follows it land in the same transaction. The session engine calls ``commit()`` from ``data_to_send()``,
so every byte that leaves the process is committed first. With pipelined commits (what the gateway runs:
``PgWriter.pipeline_commits``) a session's ``commit()`` seals the commit without waiting for it, and the
session's driver holds the bytes until that commit has landed (``pipeline``, ``covering()``).

Durability is the server's: with ``synchronous_commit=on`` (PostgreSQL's default) a commit that returned
is flushed to the server's WAL and survives a crash of this process, of the server and of its host. A
connection string may set ``options=-csynchronous_commit=off`` to trade the last few hundred milliseconds
of commits on a server crash for latency (a crash of the gateway process still loses nothing committed).

Order journals share the connection and the transaction: ``journal(account)`` returns a
``PostgresOrderJournal`` that queues into this store's batch, so journal records and the outbound
messages of one event-loop turn commit together, and a commit from either side commits both. Group
commit (``defer_commits``, ``commit_soon``, ``flush``) is the SQLite store's, with the same rule: whatever
sends calls a real commit first. A failed commit is final: the store keeps the error and raises it from
every later write, read and commit (its in-memory numbers no longer match the database).

A store object must be used from one thread at a time, and one process owns a session at a time:
sequence numbers are kept in memory between commits (the lease table, ``fixgw.stores.lease``, is how
several processes agree on who that is).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..errors import StoreError
from ._pg import PgWriter, Statement, pg_text
from ._session import DEFAULT_SEQ_RESERVE, StoredSession, check_seq_reserve, release_reserved, session_key
from .journal_postgres import PostgresOrderJournal
from .lease import session_lease_key

__all__ = ["PostgresMessageStore", "PostgresSessionStore"]

_MAX_SEQ = 2**63 - 1
_INSERT_SESSION = Statement(template=(
    "INSERT INTO fix_sessions (begin_string, sender_comp_id, target_comp_id, next_sender_seq,"
    " next_target_seq, creation_time_ns) VALUES ({}, {}, {}, 1, 1, {}) ON CONFLICT DO NOTHING"
))
_SELECT_SESSION = (
    "SELECT id, next_sender_seq, next_target_seq, creation_time_ns FROM fix_sessions"
    " WHERE begin_string = %s AND sender_comp_id = %s AND target_comp_id = %s"
)
_SAVE = Statement(
    "INSERT INTO fix_messages (session_id, seq, raw) VALUES ",
    " ON CONFLICT (session_id, seq) DO UPDATE SET raw = EXCLUDED.raw",
    key=2,
)
_UPDATE_SEQS = Statement(template=(
    "UPDATE fix_sessions SET next_sender_seq = {}, next_target_seq = {}, creation_time_ns = {} WHERE id = {}"
))
_FETCH = "SELECT seq, raw FROM fix_messages WHERE session_id = %s AND seq >= %s AND seq <= %s ORDER BY seq"
_DELETE = Statement(template="DELETE FROM fix_messages WHERE session_id = {}")


class PostgresMessageStore(PgWriter):
    """Sequence numbers and outbound messages of many FIX sessions in one PostgreSQL database.

    ``dsn`` is a libpq connection string or URI (its password is never shown: ``repr`` and errors use
    ``dsn`` with the password replaced by ``***``). ``now_ns`` gives the creation time of sessions seen
    for the first time (default: system time). ``seq_reserve``: how many sender numbers one durable write
    reserves for messages never resent (``advance_sender_seq``: see ``fixgw.stores._session``; 0: none).
    """

    def __init__(self, dsn: str, *, now_ns: Callable[[], int] = time.time_ns, connect_timeout: float = 10.0,
                 seq_reserve: int = DEFAULT_SEQ_RESERVE) -> None:
        #: Sender numbers one durable write reserves for unstored messages (``fixgw.stores._session``).
        self.seq_reserve = check_seq_reserve(seq_reserve)
        super().__init__(dsn, connect_timeout=connect_timeout)
        self._now_ns = now_ns
        self._dirty: set[PostgresSessionStore] = set()
        self._sessions: dict[tuple[str, str, str], PostgresSessionStore] = {}
        #: Session row -> the fencing scope of its rows (its lease key: ``fixgw.stores.lease``).
        self._row_scopes: dict[int, str] = {}

    def journal(self, account: str) -> PostgresOrderJournal:
        """Return the order journal of ``account`` in this database, writing in this store's transactions."""
        self._check_open()
        return PostgresOrderJournal(self, account)

    def session_store(self, session_id: Any) -> PostgresSessionStore:
        """Return the store of one session, creating its row on first use (the same object for the same id)."""
        self._check_open()
        key = session_key(session_id)
        store = self._sessions.get(key)
        if store is not None:
            return store
        params = tuple(pg_text(part) for part in key)
        rows = self.read(_SELECT_SESSION, params)
        if not rows:
            self.queue(_INSERT_SESSION, (*params, self._now_ns()))
            self.commit()
            rows = self.read(_SELECT_SESSION, params)
            if not rows:  # pragma: no cover - the row was just committed
                raise StoreError(f"{self.dsn}: session {key} vanished after it was created")
        row, sender, target, created = rows[0]
        store = PostgresSessionStore(self, session_id, row, sender, target, created)
        self._sessions[key] = store
        self._row_scopes[row] = session_lease_key(session_id)
        return store

    def reload_session(self, session_id: Any, account: str | None = None) -> None:
        """Read a session's numbers (and ``account``'s next journal number) from the database again: what a
        node does when it takes a session over from another process that wrote since it was opened."""
        store = self.session_store(session_id)
        self._dirty.discard(store)  # numbers this process holds for it are stale: never written back
        self.flush()
        rows = self.read(_SELECT_SESSION, tuple(pg_text(part) for part in session_key(session_id)))
        if rows:
            _row, store.next_sender_seq, store.next_target_seq, store.creation_time_ns = rows[0]
        store._reserved = 0  # the row's number already covers any mark; the next advance reserves anew
        if account is not None:
            self.forget_journal_seq(account)

    def __enter__(self) -> PostgresMessageStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Write the exact next sender numbers (no gap after an orderly restart) and close (``PgWriter.close``).
        A store holding fences keeps its reserved marks: a node handing sessions over writes nothing more."""
        if not self._closed and self._failed is None and not self._fences:
            release_reserved(self, self._sessions.values())
        super().close()

    def _before_commit(self) -> None:
        dirty = self._dirty
        if dirty:
            for s in dirty:
                self.queue(_UPDATE_SEQS, (s.durable_sender_seq, s.next_target_seq, s.creation_time_ns, s._row),
                           self._row_scopes.get(s._row))
            dirty.clear()


class PostgresSessionStore(StoredSession):
    """One session's view of a ``PostgresMessageStore``; implements the ``SessionStore`` port.

    Sequence numbers are read from memory; changes are written at the next ``commit()``, which commits
    every session of the store in one transaction.
    """

    __slots__ = ()
    _owner: PostgresMessageStore

    def save_outbound(self, seq: int, raw: bytes) -> None:
        """Store outbound message ``seq`` and set the next sender number to ``seq + 1`` in one step."""
        owner = self._owner
        if not 0 < seq <= _MAX_SEQ:
            raise StoreError(f"{owner.dsn}: MsgSeqNum {seq} out of range")
        owner.queue(_SAVE, (self._row, seq, bytes(raw)), owner._row_scopes.get(self._row))
        self.next_sender_seq = seq + 1
        owner._dirty.add(self)

    def set_next_sender_seq(self, n: int) -> None:
        """Set the sequence number of the next message we send."""
        owner = self._owner
        owner.begin()
        owner._dirty.add(self)
        self.next_sender_seq = n
        self._reserved = 0  # the row holds exactly ``n``

    def set_next_target_seq(self, n: int) -> None:
        """Set the sequence number we expect from the peer next (called for every inbound message)."""
        owner = self._owner
        owner.begin()
        owner._dirty.add(self)
        self.next_target_seq = n

    def fetch(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return stored ``(seq, raw)`` with ``begin <= seq <= end`` in order; ``end`` 0 means no limit.

        Uncommitted messages are included (they are sent into the open transaction first).
        """
        hi = _MAX_SEQ if end == 0 else min(end, _MAX_SEQ)
        lo = max(begin, 0)
        if lo > hi:
            return []
        rows = self._owner.read(_FETCH, (self._row, lo, hi))
        return [(int(seq), bytes(raw)) for seq, raw in rows]

    def reset(self, now_ns: int) -> None:
        """Set both sequence numbers to 1, drop the stored messages and restart the creation time."""
        owner = self._owner
        owner.queue(_DELETE, (self._row,), owner._row_scopes.get(self._row))
        owner._dirty.add(self)
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.creation_time_ns = now_ns
        self._reserved = 0

    def commit(self) -> None:
        """Make every pending write durable (commits the whole store, every session). With pipelined
        commits (``PgWriter.pipeline_commits``) it does not wait: it seals the commit, and whatever sends
        waits for ``pipeline`` (the session's driver holds the bytes until that commit has landed)."""
        self._owner.request_commit()

    def flush(self) -> None:
        """Make every pending write durable and return once it is, pipelined commits or not."""
        self._owner.flush()

    @property
    def pipeline(self) -> Any:
        """The store's commit pipeline (``fixgw.stores._pipeline.CommitPipeline``) or None: see ``commit``."""
        return self._owner.pipeline

    def covering(self) -> int:
        """The ticket of the commit covering every write so far (pipelined commits only)."""
        return self._owner.covering()
