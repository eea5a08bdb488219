"""SQLite implementation of the session ``MessageStore`` port (``fixgw.session.store``).

Theory of operation
-------------------
One SQLite file serves a whole gateway: every FIX session is a row of ``fix_sessions`` (keyed by
BeginString, SenderCompID, TargetCompID) and its outbound messages are rows of ``fix_messages`` keyed by
``(session row << 32) | MsgSeqNum``, so saving a message appends to one b-tree and a resend range is one
key range. The file runs in WAL mode through one connection owned by the ``SqliteMessageStore``.

Writes are batched. The first write after a commit opens a transaction; ``save_outbound`` queues the
message in memory and advances the in-memory sender sequence number, ``set_next_*_seq`` and ``reset`` change the
in-memory numbers (``advance_sender_seq``, for messages never resent, dirties the session only past
a reserved mark: ``fixgw.stores._session``), and ``commit()`` inserts the queued messages and journal
rows (one ``executemany`` each), writes the changed sequence numbers of every session and commits the transaction. A read of the
messages (``fetch``) or of a journal inserts what is queued first, so it sees every write as before. A message and the sender number that follows it therefore always land in the same
transaction: after a crash either both are there or neither is. The session engine calls ``commit()``
from ``data_to_send()``, so every byte that leaves the process is already committed.

Sender numbers: a stored message proves its own number, so saving one does not rewrite the session's
row (an ``UPDATE`` and a page of the WAL saved on most commits: an order's reports usually travel in a
commit of their own). The row's ``sender_from_messages`` says so: when it is 1, the next sender number
is the larger of the row's ``next_sender_seq`` and the session's highest stored MsgSeqNum + 1 (read
once, when the session is opened); when it is 0 (a file of schema version 1, or a number used again:
``set_next_sender_seq`` lowered it to or below a stored message, or a message was saved again under a
number at or below the highest) the row alone holds it, and every save writes it, as before, until a
message goes past the highest again. A save under a number below the session's next one (set ahead by
``set_next_sender_seq`` and not used) writes the row too: it held the larger number. ``close()`` writes
every row exactly, so a reader of the file finds ``next_sender_seq`` exact after an orderly stop; while
the store is open (or after a crash) the row may lag behind the stored messages, never ahead of what was
sent.

Durability: ``synchronous=NORMAL`` (the default here) with WAL makes every commit survive a crash of the
*process* (``kill -9``): a commit has been written to the WAL file in the operating system's cache when
``commit()`` returns. It does not fsync on every commit, so a power loss or kernel crash may lose the
last commits (the database stays consistent). Pass ``synchronous="FULL"`` to fsync the WAL on every
commit and survive power loss as well, at the price of one fsync per commit.

Checkpoints: SQLite's automatic WAL checkpoint runs inside the ``COMMIT`` that crosses 1000 pages and
copies the WAL into the database (with two fsyncs) there and then: a stall of milliseconds on the event
loop, for every few hundred messages. With ``checkpoint="background"`` (the default for files) automatic
checkpoints are off and a daemon thread with its own connection runs a PASSIVE checkpoint every
``checkpoint_interval`` seconds when something was committed; the writer never waits for it (WAL lets it
append while pages are copied). Under steady writing a PASSIVE pass never quite catches up, so the WAL
would not start over; once it holds ``wal_restart_pages`` pages the thread asks the writer to checkpoint
the few frames written since its last pass at the end of its next ``commit()`` (a short stall, once per
that many pages), after which the next transaction starts the WAL from its beginning again.
``checkpoint="auto"`` keeps SQLite's built-in behaviour.

Order journals share the file and the transaction: ``journal(account)`` returns a
``SqliteOrderJournal`` that writes through this store's connection, into the same open batch. The
journal's records and the outbound messages written in one event-loop turn therefore commit together,
and a commit from either side (``journal.commit()`` or the session's ``data_to_send()``) commits both:
after a crash a journaled event and the report it produced are both in the file or neither is. The
journal sets no pragmas, so it never runs an automatic checkpoint of its own.

Group commit: ``defer_commits(schedule)`` turns a journal's ``commit()`` into a *commit point*: what was
written so far forms one consistent unit, and the ``COMMIT`` itself is deferred to ``flush()``, which
``schedule`` runs at the next turn of the event loop (the gateway passes the loop's ``call_soon``), so
every change applied in one turn of the loop costs one transaction instead of one each. Persisted
before sent still holds, because whatever sends calls a real commit first: the session's
``data_to_send()`` commits (every FIX byte), and the gateway flushes before each venue call. A crash
before the flush loses only what nothing has yet been told about: the inbound messages that caused it
are not counted either (their MsgSeqNum is in the same transaction), so the peer sends them again. If a
deferred commit fails, the store keeps the error and refuses every later write and commit with it.

A store object must be used from one thread at a time (the gateway uses it from its event loop thread),
and one process owns a file at a time: sequence numbers are kept in memory between commits.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from typing import Any, Callable

from ..errors import StoreError
from ._checkpoint import Checkpointer
from ._groupcommit import GroupCommit
from ._session import DEFAULT_SEQ_RESERVE, StoredSession, check_seq_reserve, release_reserved, session_key
from .journal_sqlite import JournalRows, SqliteOrderJournal

__all__ = ["SqliteMessageStore", "SqliteSessionStore"]

log = logging.getLogger("fixgw.store")

#: 1: the first layout; 2: ``fix_sessions.sender_from_messages`` (added to a version-1 file when it is opened).
_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS fix_sessions (
    id               INTEGER PRIMARY KEY,
    begin_string     TEXT    NOT NULL,
    sender_comp_id   TEXT    NOT NULL,
    target_comp_id   TEXT    NOT NULL,
    next_sender_seq  INTEGER NOT NULL,
    next_target_seq  INTEGER NOT NULL,
    creation_time_ns INTEGER NOT NULL,
    -- 1: the next sender number is also past the session's last stored message (see "Sender numbers").
    sender_from_messages INTEGER NOT NULL DEFAULT 0,
    UNIQUE (begin_string, sender_comp_id, target_comp_id)
);
CREATE TABLE IF NOT EXISTS fix_messages (
    -- (session row << 32) | MsgSeqNum: one append-only b-tree, no separate index to update.
    key INTEGER PRIMARY KEY,
    raw BLOB    NOT NULL
);
"""
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1
_INSERT_MESSAGE = "INSERT OR REPLACE INTO fix_messages (key, raw) VALUES (?, ?)"
_UPDATE_SEQS = (
    "UPDATE fix_sessions SET next_sender_seq = ?, next_target_seq = ?, creation_time_ns = ?, sender_from_messages = ?"
    " WHERE id = ?"
)
_TOP = "SELECT max(key) FROM fix_messages WHERE key >= ? AND key <= ?"
_FETCH = "SELECT key, raw FROM fix_messages WHERE key >= ? AND key <= ? ORDER BY key"
_DELETE = "DELETE FROM fix_messages WHERE key >= ? AND key <= ?"
#: Small pages: a commit rewrites a few pages (the last leaf, the session row), so WAL traffic per
#: commit is proportional to the page size (about 3 KB per echoed message at 1 KiB against 11 KB at
#: SQLite's default 4 KiB). Applies when the file is created.
_PAGE_SIZE = 1024


class SqliteMessageStore(GroupCommit):
    """Sequence numbers and outbound messages of many FIX sessions in one SQLite file (WAL).

    ``path`` may be ``":memory:"`` for a throw-away store. ``synchronous`` is SQLite's setting:
    ``"NORMAL"`` survives a process crash, ``"FULL"`` also a power loss (see the module docstring).
    ``now_ns`` gives the creation time of sessions seen for the first time (default: system time).
    ``seq_reserve``: how many sender numbers one durable write reserves for messages never resent
    (``advance_sender_seq``: see ``fixgw.stores._session``; 0 reserves none).
    ``checkpoint`` is ``"background"`` or ``"auto"``; with background checkpoints, every
    ``checkpoint_interval`` seconds a PASSIVE checkpoint runs off-thread and, once the WAL holds more
    than ``wal_restart_pages`` pages (1 KiB each), the writer catches up at its next commit so that the
    WAL starts over (see the module docstring).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        now_ns: Callable[[], int] = time.time_ns,
        checkpoint: str = "background",
        checkpoint_interval: float = 0.1,
        wal_restart_pages: int = 65536,
        seq_reserve: int = DEFAULT_SEQ_RESERVE,
    ) -> None:
        sync = synchronous.upper()
        if sync not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
        if checkpoint not in ("background", "auto"):
            raise ValueError(f"checkpoint must be 'background' or 'auto', not {checkpoint!r}")
        if checkpoint_interval <= 0:
            raise ValueError("checkpoint_interval must be positive")
        self._path = os.fspath(path)
        self._now_ns = now_ns
        #: Sender numbers one durable write reserves for unstored messages (``fixgw.stores._session``).
        self.seq_reserve = check_seq_reserve(seq_reserve)
        self._in_transaction = False
        self._dirty: set[SqliteSessionStore] = set()
        self._sessions: dict[tuple[str, str, str], SqliteSessionStore] = {}
        self._closed = False
        self._commits = 0
        self._catch_up_wanted = False
        self._checkpointer: Checkpointer | None = None
        self._init_group_commit()
        self._failed: StoreError | None = None
        #: Outbound messages saved in the open transaction and not inserted yet: ``(key, raw)``.
        self._messages: list[tuple[int, bytes]] = []
        #: The rows the journals of this store appended and did not insert yet (``journal_sqlite``).
        self.journal_rows = JournalRows()
        try:
            # isolation_level=None: the module never opens transactions behind our back.
            self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync}")
            self._db.execute("PRAGMA busy_timeout=5000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, _SCHEMA_VERSION):
                raise StoreError(f"{self._path}: unknown store schema version {version}")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(fix_sessions)")}
            if "sender_from_messages" not in columns:  # a version-1 file; 0 keeps every row authoritative
                self._db.execute(
                    "ALTER TABLE fix_sessions ADD COLUMN sender_from_messages INTEGER NOT NULL DEFAULT 0"
                )
            self._db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            in_memory = self._path == ":memory:" or self._path.startswith("file::memory:")
            if checkpoint == "background" and not in_memory:
                self._db.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = Checkpointer(self, checkpoint_interval, wal_restart_pages)
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: cannot open message store: {exc}") from exc

    @property
    def path(self) -> str:
        return self._path

    @property
    def connection(self) -> sqlite3.Connection:
        """The store's one connection; whatever writes through it must open writes with ``begin()``."""
        return self._db

    @property
    def commits(self) -> int:
        """How many transactions this store has committed (a journal tells its pending records by it)."""
        return self._commits

    def begin(self) -> None:
        """Open the batch transaction unless one is open; ``commit()`` ends it for every writer."""
        try:
            self._begin()
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: cannot begin a transaction: {exc}") from exc

    def journal(self, account: str) -> SqliteOrderJournal:
        """Return the order journal of ``account`` in this file, writing in this store's transactions."""
        self._check_open()
        return SqliteOrderJournal(self, account)

    def session_store(self, session_id: Any) -> SqliteSessionStore:
        """Return the store of one session, creating its row on first use.

        ``session_id`` is a ``fixgw.session.SessionID`` (anything with ``begin_string``,
        ``sender_comp_id`` and ``target_comp_id``). The same object is returned for the same id.
        """
        self._check_open()
        key = session_key(session_id)
        store = self._sessions.get(key)
        if store is not None:
            return store
        try:
            row = self._db.execute(
                "SELECT id, next_sender_seq, next_target_seq, creation_time_ns, sender_from_messages"
                " FROM fix_sessions WHERE begin_string = ? AND sender_comp_id = ? AND target_comp_id = ?",
                key,
            ).fetchone()
            if row is None:
                created = self._now_ns()
                self._begin()
                cur = self._db.execute(
                    "INSERT INTO fix_sessions (begin_string, sender_comp_id, target_comp_id,"
                    " next_sender_seq, next_target_seq, creation_time_ns, sender_from_messages)"
                    " VALUES (?, ?, ?, 1, 1, ?, 1)",
                    (*key, created),
                )
                row = (cur.lastrowid, 1, 1, created, 1)
                self.commit()
            base = row[0] << _SEQ_BITS
            top = self._db.execute(_TOP, (base, base | _SEQ_MASK)).fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: cannot open session {key}: {exc}") from exc
        top = 0 if top is None else top & _SEQ_MASK
        next_sender = max(row[1], top + 1) if row[4] else row[1]
        store = SqliteSessionStore(self, session_id, row[0], next_sender, row[2], row[3])
        store._top = top
        store._from_messages = bool(row[4])
        self._sessions[key] = store
        return store

    def _uncommitted(self) -> bool:
        return self._in_transaction

    def _deferred_failed(self, exc: StoreError) -> None:
        self._failed = exc
        self._in_transaction = False

    def commit(self) -> None:
        """Make every pending write of every session durable (see the module docstring)."""
        if self._failed is not None:
            raise self._failed
        self._flush_due = False
        if not self._in_transaction:
            return
        db = self._db
        try:
            if self._messages:
                self._flush_messages()
            self.journal_rows.flush(db)
            dirty = self._dirty
            if dirty:
                if len(dirty) == 1:
                    s = next(iter(dirty))
                    db.execute(_UPDATE_SEQS, (s.durable_sender_seq, s.next_target_seq, s.creation_time_ns,
                                              s._from_messages, s._row))
                else:
                    db.executemany(
                        _UPDATE_SEQS,
                        [(s.durable_sender_seq, s.next_target_seq, s.creation_time_ns, s._from_messages, s._row)
                         for s in dirty],
                    )
                dirty.clear()
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self._path}: commit failed: {exc}") from exc
        self._in_transaction = False
        self._commits += 1
        if self._catch_up_wanted:
            self._catch_up()

    def _catch_up(self) -> None:
        """Checkpoint the frames the background pass left, so the next write starts the WAL over."""
        try:
            busy, wal_frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:  # busy with the background pass: try at the next commit
            return
        if not busy and copied == wal_frames:
            self._catch_up_wanted = False

    def close(self) -> None:
        """Commit pending writes and close the file; the store cannot be used afterwards."""
        if self._closed:
            return
        try:
            if self._failed is None:
                release_reserved(self, self._sessions.values())  # an orderly restart resumes with no gap
                if self._sessions:  # every row exact again (see "Sender numbers")
                    self.begin()
                    self._dirty.update(self._sessions.values())
            self.commit()
        finally:
            self._closed = True
            if self._checkpointer is not None:
                self._checkpointer.stop()
            try:
                self._db.close()
            except sqlite3.Error as exc:  # pragma: no cover - close failing is exotic
                raise StoreError(f"{self._path}: close failed: {exc}") from exc

    def __enter__(self) -> SqliteMessageStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by SqliteSessionStore --------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self._path}: store is closed")

    def _flush_messages(self) -> None:
        """Insert the queued outbound messages (in the open transaction)."""
        messages = self._messages
        if len(messages) == 1:
            self._db.execute(_INSERT_MESSAGE, messages[0])
        else:
            self._db.executemany(_INSERT_MESSAGE, messages)
        messages.clear()

    def _begin(self) -> None:
        if not self._in_transaction:
            if self._closed:
                raise StoreError(f"{self._path}: store is closed")
            if self._failed is not None:
                raise self._failed
            self._db.execute("BEGIN")
            self._in_transaction = True


class SqliteSessionStore(StoredSession):
    """One session's view of a ``SqliteMessageStore``; implements the ``SessionStore`` port.

    Sequence numbers are read from memory; changes are written at the next ``commit()``, which commits
    the whole file (every session of the gateway) in one transaction.
    """

    __slots__ = ("_base", "_top", "_from_messages")
    _owner: SqliteMessageStore

    def __init__(self, owner: SqliteMessageStore, session_id: Any, row: int, *seqs_and_creation: int) -> None:
        super().__init__(owner, session_id, row, *seqs_and_creation)
        self._base = row << _SEQ_BITS  # the first message key of this session (see ``_SEQ_BITS``)
        #: The highest MsgSeqNum stored (0: none); every stored message is at or below it.
        self._top = 0
        #: The row's ``sender_from_messages`` as the next commit writes it (see "Sender numbers").
        self._from_messages = False

    def save_outbound(self, seq: int, raw: bytes) -> None:
        """Store outbound message ``seq`` and set the next sender number to ``seq + 1`` in one step."""
        owner = self._owner
        try:
            if not owner._in_transaction:
                owner._begin()
            if not 0 < seq <= _SEQ_MASK:
                raise StoreError(f"{owner._path}: MsgSeqNum {seq} out of range")
            # Kept until the commit inserts it: a copy of a buffer its caller might reuse.
            owner._messages.append((self._base | seq, raw if type(raw) is bytes else bytes(raw)))
        except sqlite3.Error as exc:
            raise StoreError(f"{owner._path}: cannot save message {seq}: {exc}") from exc
        below = seq < self.next_sender_seq  # the next number goes back (a number set ahead, never used)
        self.next_sender_seq = seq + 1
        if seq > self._top:
            self._top = seq
            if self._from_messages and not below:
                return  # the message itself makes seq + 1 durable: the row need not change
            self._from_messages = True  # the row may hold a number past seq + 1: written again
        else:  # a number used again: older messages lie above it, so the row alone tells the number
            self._from_messages = False
        owner._dirty.add(self)

    def set_next_sender_seq(self, n: int) -> None:
        """Set the sequence number of the next message we send."""
        owner = self._owner
        if not owner._in_transaction:
            owner.begin()
        owner._dirty.add(self)
        self.next_sender_seq = n
        self._reserved = 0  # the row holds exactly ``n``
        self._from_messages = n > self._top

    def set_next_target_seq(self, n: int) -> None:
        """Set the sequence number we expect from the peer next (called for every inbound message)."""
        owner = self._owner
        if not owner._in_transaction:
            owner.begin()
        owner._dirty.add(self)
        self.next_target_seq = n

    def fetch(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return stored ``(seq, raw)`` with ``begin <= seq <= end`` in order; ``end`` 0 means no limit.

        Uncommitted messages are included (they are visible to the connection that wrote them).
        """
        owner = self._owner
        owner._check_open()
        try:
            if owner._messages:
                owner._flush_messages()
            base = self._base
            hi = _SEQ_MASK if end == 0 else min(end, _SEQ_MASK)
            rows = owner._db.execute(_FETCH, (base | max(begin, 0), base | hi)).fetchall() if begin <= hi else []
        except sqlite3.Error as exc:
            raise StoreError(f"{owner._path}: cannot fetch {begin}..{end}: {exc}") from exc
        return [(key & _SEQ_MASK, bytes(raw)) for key, raw in rows]

    def reset(self, now_ns: int) -> None:
        """Set both sequence numbers to 1, drop the stored messages and restart the creation time."""
        owner = self._owner
        try:
            if not owner._in_transaction:
                owner._begin()
            owner._dirty.add(self)
            if owner._messages:
                owner._flush_messages()
            owner._db.execute(_DELETE, (self._base, self._base | _SEQ_MASK))
        except sqlite3.Error as exc:
            raise StoreError(f"{owner._path}: cannot reset: {exc}") from exc
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.creation_time_ns = now_ns
        self._reserved = 0
        self._top = 0
        self._from_messages = True

    def commit(self) -> None:
        """Make every pending write durable (commits the whole file, every session)."""
        self._owner.commit()
