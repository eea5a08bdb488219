"""SQLite OrderJournal: the default, durable order journal.

Theory of operation. Records go to the table ``order_journal`` (one row per command or event, the
body a compact JSON array of the record's values under a layout that keeps its field names once per
file; rows written before layouts hold the JSON object of ``fixgw.orders.serial`` and still read: see
``fixgw.stores._journal_layouts``), which may live in the same database file as the message store.
``append`` opens a transaction if none is open and inserts; ``commit`` ends it. The database runs in WAL mode with ``synchronous=NORMAL`` by default: a committed transaction survives the process
being killed (the WAL is in the OS's hands once the commit returns); it may not survive a power loss
or kernel crash, for which pass ``synchronous="FULL"``.

Whoever owns the connection owns its transactions. A journal opened from a path owns both. A journal
given a ``TransactionOwner`` (``SqliteMessageStore.journal(account)`` builds one so) writes in the
owner's open batch, and its ``commit()`` is the owner's: the journal's records and whatever else the
owner wrote since its last commit (outbound FIX messages, sequence numbers) become durable together,
and a commit by the owner commits the journal's records as well. An owner that groups commits per
event-loop turn (``SqliteMessageStore.defer_commits``) makes ``commit()`` a commit point whose
transaction ends at the turn's flush, before anything that depends on it leaves the process. A bare
``sqlite3.Connection`` is shared the simple way: the journal begins and commits on it. Several
journals (one per account) may share a connection; a commit on it commits every journal's appends.

Writes are batched. A journal that writes through an owner that keeps a ``JournalRows`` buffer
(``SqliteMessageStore`` does, and so does a journal that owns its connection) does not insert on
``append``: the row waits in the buffer, with its sequence number already assigned in memory (the
buffer read the table's last ``seq`` once; one process owns the file), and the owner inserts every
waiting row with one ``executemany`` when it commits, and before any read of the table (``load_order``,
``find_order_id``, ``records``), so a reader sees every appended record as before. A row in the buffer
is as durable as an uncommitted row: the commit writes it. A journal given a bare connection inserts
each record at once (several journals may share the connection, and only SQLite knows the next seq).

Folded submits. An ``OrderSubmitted`` appended right after its order's ``SubmitOrder``, with the same
timestamp and the submit still in the buffer, is not written as a row of its own: the submit's row is
marked (``kind`` ``SubmitOrder+OrderSubmitted``) and the event's sequence number (the submit's plus one)
stays unused by any row. Reading expands the row again, so ``records`` and ``load_order`` yield exactly
the records appended, with the sequence numbers ``append`` returned.

Folded events. Events of one order appended one after another (an acknowledgement and a fill in the
same venue message, the fills of one sweep), their rows still in the buffer, share one row as well: its
``kind`` names them in order joined by ``+`` (``OrderAccepted+OrderExpired``), its ``body`` is the JSON
array of their bodies, its ``seq`` is the first one's and the others follow it (seq + 1, seq + 2...).
Only events fold so (a command's row stays its own: replay reads it alone), and only while the row's
lookup keys stay one value each. Reading expands the row, as for a folded submit.

One order's records are found by index, so a book can drop its finished orders and still answer for
them: each row carries the id of the order it belongs to (``order_id``, also for a submit, whose id the
book passes) and the client order id or venue order id that makes the order findable (``cl_ord_id``,
``venue_order_id``: ``fixgw.orders.journal.lookup_keys``), each with a partial index. The keys are
written by the same insert, in the same transaction. A file written before these columns existed is
migrated when it is opened: the columns are added and filled from the rows' bodies, submits numbered
as the book numbers them (``<account>-<n>``), in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Iterator, Protocol

from fixgw.errors import StoreError
from fixgw.orders.commands import CancelOrder, ReplaceOrder, SubmitOrder
from fixgw.orders.events import OrderSubmitted
from fixgw.orders.journal import Record, lookup_keys, record_order_id
from fixgw.orders.serial import record_from_json

from ._journal_layouts import FOLDED, Layouts, expand, fold

__all__ = ["JournalRows", "SqliteOrderJournal", "TransactionOwner"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS order_journal ("
    " seq INTEGER PRIMARY KEY,"
    " account TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " order_id TEXT,"
    " ts_ns INTEGER NOT NULL,"
    " body TEXT NOT NULL,"
    " cl_ord_id TEXT,"
    " venue_order_id TEXT)",
    "CREATE INDEX IF NOT EXISTS order_journal_account ON order_journal (account, seq)",
)
# Narrow indexes (the rowid, which is ``seq``, rides along in each, in order): a key names few rows, the
# account is checked on those; the writer pays one short entry per row and per key.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS order_journal_order ON order_journal (order_id)"
    " WHERE order_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS order_journal_cl_ord_id ON order_journal (cl_ord_id)"
    " WHERE cl_ord_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS order_journal_venue_id ON order_journal (venue_order_id)"
    " WHERE venue_order_id IS NOT NULL",
)
_FOLDED = FOLDED
#: The last sequence number used: a folded row's ``seq`` + one per ``+`` in its kind (``NULL``: none yet).
_LAST_USED = "(SELECT seq + length(kind) - length(replace(kind, '+', '')) FROM order_journal ORDER BY seq DESC LIMIT 1)"
#: One row at once (a journal on a bare connection): its seq follows the last one used (SQLite's own
#: choice, the largest ``seq`` + 1, would reuse the seq of a folded row's event).
_INSERT = (
    "INSERT INTO order_journal (seq, account, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id)"
    f" VALUES ({_LAST_USED} + 1, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SEQ = (
    "INSERT INTO order_journal (seq, account, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LAST_SEQ = f"SELECT coalesce({_LAST_USED}, 0)"
_SELECT = "SELECT seq, kind, order_id, body FROM order_journal WHERE account = ? ORDER BY seq"
_SELECT_ORDER = (
    "SELECT seq, kind, order_id, body FROM order_journal WHERE account = ? AND order_id = ? AND seq < ? ORDER BY seq"
)
_FIND_CL = (
    "SELECT order_id FROM order_journal WHERE account = ? AND cl_ord_id = ? AND cl_ord_id IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)
_FIND_VENUE = (
    "SELECT order_id FROM order_journal WHERE account = ? AND venue_order_id = ? AND venue_order_id IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
)
_NO_BOUND = 2**63 - 1
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class TransactionOwner(Protocol):
    """The owner of a connection and of its write transactions (``SqliteMessageStore`` is one).

    An owner may also have ``commit_soon()``: the journal's ``commit()`` then calls it instead of
    ``commit()``, so the owner may group the commit with the rest of its event-loop turn.
    """

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection every writer shares."""
        ...

    @property
    def commits(self) -> int:
        """How many transactions the owner has committed so far."""
        ...

    def begin(self) -> None:
        """Open a transaction unless one is open."""
        ...

    def commit(self) -> None:
        """Commit the open transaction, with everything every writer put in it."""
        ...


class JournalRows:
    """Journal rows appended and not yet inserted, for every journal writing through one connection.

    The owner of the connection keeps one, calls ``flush`` before it commits (and the journals call it
    before they read), and ``drop`` when it rolls back. Sequence numbers are assigned here, in memory,
    from the table's last one (read once, when the first row is appended).
    """

    __slots__ = ("rows", "last_seq")

    def __init__(self) -> None:
        #: ``[seq, account, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id]`` per row, in order.
        self.rows: list[list[object]] = []
        #: The last sequence number handed out (``-1``: not read from the table yet).
        self.last_seq = -1

    def flush(self, connection: sqlite3.Connection) -> None:
        """Insert every waiting row (in the open transaction)."""
        rows = self.rows
        if rows:
            if len(rows) == 1:
                connection.execute(_INSERT_SEQ, rows[0])
            else:
                connection.executemany(_INSERT_SEQ, rows)
            rows.clear()

    def drop(self) -> None:
        """Forget the waiting rows (their transaction is rolled back); read the last seq again."""
        self.rows.clear()
        self.last_seq = -1


class _OwnTransactions:
    """A journal's own transactions on a connection no ``TransactionOwner`` manages.

    ``buffered``: the journal owns the connection alone, so its rows may wait in ``journal_rows``.
    """

    def __init__(self, connection: sqlite3.Connection, buffered: bool = False) -> None:
        self.connection = connection
        self.commits = 0
        self.journal_rows = JournalRows() if buffered else None

    def begin(self) -> None:
        if not self.connection.in_transaction:
            self.connection.execute("BEGIN")

    def commit(self) -> None:
        if self.journal_rows is not None:
            self.journal_rows.flush(self.connection)
        if self.connection.in_transaction:
            self.connection.commit()
            self.commits += 1


class SqliteOrderJournal:
    """An ``OrderJournal`` in a SQLite database: a path, a connection, or a ``TransactionOwner``.

    A journal opened from a path owns its connection and closes it; one given a connection or an owner
    leaves it open and sets no pragmas on it (the owner chooses WAL, ``synchronous`` and checkpoints).
    """

    def __init__(
        self,
        database: str | os.PathLike[str] | sqlite3.Connection | TransactionOwner,
        account: str = "default",
        *,
        synchronous: str = "NORMAL",
    ) -> None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
        self._account = account
        self._pending = 0
        self._owns = False
        try:
            if isinstance(database, sqlite3.Connection):
                self._tx: TransactionOwner | _OwnTransactions = _OwnTransactions(database)
            elif isinstance(database, (str, os.PathLike)):
                conn = sqlite3.connect(os.fspath(database), isolation_level=None)
                self._owns = True
                self._tx = _OwnTransactions(conn, buffered=True)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            else:
                self._tx = database
            self._conn = self._tx.connection
            with _errors():
                self._tx.begin()
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                _migrate(self._conn)
                for statement in _INDEXES:
                    self._conn.execute(statement)
                #: The file's record layouts: how this journal writes a body and reads one back.
                self._layouts = Layouts()
                self._layouts.open(self._conn)
                self._tx.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open order journal: {exc}") from exc
        self._epoch = self._tx.commits
        self._commit_point = getattr(self._tx, "commit_soon", None) or self._tx.commit
        #: Where appended rows wait for the owner's commit (``None``: inserted at once).
        self._rows: JournalRows | None = getattr(self._tx, "journal_rows", None)

    @property
    def account(self) -> str:
        return self._account

    @property
    def uncommitted(self) -> int:
        # A commit by the connection's owner commits our records too.
        return self._pending if self._tx.commits == self._epoch else 0

    def append(self, record: Record, order_id: str | None = None) -> int:
        """Append ``record`` (of order ``order_id``) to the open transaction (opening one); return its seq."""
        kind = type(record)
        order_id = record_order_id(record, order_id)
        tx = self._tx
        buffer = self._rows
        try:  # on every order's path: no context manager object per record
            tx.begin()
            if buffer is None:
                body = self._layouts.encode(record)
                cl_ord_id, venue_order_id = lookup_keys(record) if order_id is not None else (None, None)
                seq = self._conn.execute(
                    _INSERT, (self._account, kind.__name__, order_id, record.ts_ns, body, cl_ord_id, venue_order_id),
                ).lastrowid
            else:
                if buffer.last_seq < 0:
                    buffer.last_seq = self._conn.execute(_LAST_SEQ).fetchone()[0]
                seq = buffer.last_seq + 1
                rows = buffer.rows
                last = rows[-1] if rows else None
                if (kind is OrderSubmitted and last is not None and last[0] == seq - 1 and last[2] == "SubmitOrder"
                        and last[3] == order_id and last[4] == record.ts_ns and last[1] == self._account):
                    last[2] = _FOLDED  # the submit's row stands for this event too (see the module docstring)
                else:
                    body = self._layouts.encode(record)
                    cl_ord_id, venue_order_id = lookup_keys(record) if order_id is not None else (None, None)
                    if (last is None or last[3] != order_id or order_id is None or kind in _COMMANDS
                            or last[2] in _UNFOLDABLE or last[1] != self._account
                            or not fold(last, kind.__name__, body, cl_ord_id, venue_order_id)):
                        rows.append([seq, self._account, kind.__name__, order_id, record.ts_ns, body, cl_ord_id,
                                     venue_order_id])
                buffer.last_seq = seq
        except sqlite3.Error as exc:
            raise StoreError(f"order journal: {exc}") from exc
        commits = tx.commits
        if commits != self._epoch:
            self._epoch = commits
            self._pending = 0
        self._pending += 1
        return seq  # type: ignore[return-value]

    def commit(self) -> None:
        """Commit the open transaction: every appended record is durable when this returns.

        With an owner that groups commits (``SqliteMessageStore.defer_commits``) this is a commit point:
        the records join the owner's next commit, which runs before anything leaves the process (see
        ``fixgw.stores.sqlite``); they no longer count as ``uncommitted``.
        """
        try:  # on every order's path: no context manager object per commit
            self._commit_point()
        except sqlite3.Error as exc:
            raise StoreError(f"order journal: {exc}") from exc
        self._pending = 0
        self._epoch = self._tx.commits

    def append_and_commit(self, record: Record, order_id: str | None = None) -> int:
        """Append ``record`` and commit; return its sequence number."""
        seq = self.append(record, order_id)
        self.commit()
        return seq

    def load_order(self, order_id: str, before: int | None = None) -> list[Record]:
        """Return the records of order ``order_id`` in order (below sequence ``before``); ``[]``: unknown."""
        bound = _NO_BOUND if before is None else before
        with _errors():
            self._flush_rows()
            rows = self._conn.execute(_SELECT_ORDER, (self._account, order_id, bound)).fetchall()
        return [record for seq, record in expand(rows, self._layouts) if seq < bound]

    def find_order_id(self, *, cl_ord_id: str | None = None, venue_order_id: str | None = None) -> str | None:
        """Return the id of the newest order that used ``cl_ord_id`` (else ``venue_order_id``), or ``None``."""
        with _errors():
            self._flush_rows()
            if cl_ord_id is not None:
                row = self._conn.execute(_FIND_CL, (self._account, cl_ord_id)).fetchone()
                if row is not None:
                    return row[0]
            if venue_order_id is not None:
                row = self._conn.execute(_FIND_VENUE, (self._account, venue_order_id)).fetchone()
                if row is not None:
                    return row[0]
        return None

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield this account's committed ``(seq, record)`` pairs in order."""
        if self.uncommitted:
            raise StoreError("records() while appends are uncommitted")
        with _errors():
            self._flush_rows()
            cursor = self._conn.execute(_SELECT, (self._account,))
            while True:
                rows = cursor.fetchmany(1000)
                if not rows:
                    break
                yield from expand(rows, self._layouts)

    def _flush_rows(self) -> None:
        """Insert the rows waiting in the owner's buffer, so a query sees every appended record."""
        if self._rows is not None and self._rows.rows:
            self._tx.begin()
            self._rows.flush(self._conn)

    def close(self) -> None:
        """Close an owned connection (uncommitted records are rolled back)."""
        if self._owns:
            if self._rows is not None:
                self._rows.drop()
            with _errors():
                if self._conn.in_transaction:
                    self._conn.rollback()
                self._conn.close()
        self._pending = 0


#: Kinds whose rows are records no event folds into: commands (replay reads each alone), a folded submit.
_COMMANDS = frozenset({SubmitOrder, CancelOrder, ReplaceOrder})
_UNFOLDABLE = frozenset({"SubmitOrder", "CancelOrder", "ReplaceOrder", _FOLDED})


def _migrate(conn: sqlite3.Connection) -> None:
    """Add and fill the lookup columns of a file written before they existed (in the open transaction)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(order_journal)")}
    if "cl_ord_id" in columns:
        return
    conn.execute("ALTER TABLE order_journal ADD COLUMN cl_ord_id TEXT")
    conn.execute("ALTER TABLE order_journal ADD COLUMN venue_order_id TEXT")
    submits: dict[str, int] = {}
    updates = []
    for seq, account, kind, order_id, body in conn.execute(
        "SELECT seq, account, kind, order_id, body FROM order_journal ORDER BY seq"
    ).fetchall():
        if kind == "SubmitOrder":
            submits[account] = submits.get(account, 0) + 1
            order_id = f"{account}-{submits[account]}"
        if order_id is None:
            continue  # a cancel/replace command: replay skips it, its pending event follows
        cl_ord_id, venue_order_id = lookup_keys(record_from_json(body))
        updates.append((order_id, cl_ord_id, venue_order_id, seq))
    conn.executemany(
        "UPDATE order_journal SET order_id = ?, cl_ord_id = ?, venue_order_id = ? WHERE seq = ?", updates
    )


class _errors:
    """Translate ``sqlite3.Error`` into ``StoreError`` at the boundary."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, sqlite3.Error):
            raise StoreError(f"order journal: {exc}") from exc
        return False
