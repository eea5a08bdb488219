"""SQLite OrderJournal: the default, durable order journal.

Theory of operation. Records go to the table ``order_journal`` (one row per command or event, the
body in the JSON of ``fixgw.orders.serial``), which may live in the same database file as the message
store. ``append`` opens a transaction if none is open and inserts; ``commit`` ends it. The database
runs in WAL mode with ``synchronous=NORMAL`` by default: a committed transaction survives the process
being killed (the WAL is in the OS's hands once the commit returns); it may not survive a power loss
or kernel crash, for which pass ``synchronous="FULL"``. Several journals (one per account) may share
a connection; a commit on it commits every journal's appends.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Iterator

from fixgw.errors import StoreError
from fixgw.orders.journal import Record
from fixgw.orders.serial import record_from_json, record_to_json

__all__ = ["SqliteOrderJournal"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS order_journal ("
    " seq INTEGER PRIMARY KEY,"
    " account TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " order_id TEXT,"
    " ts_ns INTEGER NOT NULL,"
    " body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS order_journal_account ON order_journal (account, seq)",
)
_INSERT = "INSERT INTO order_journal (account, kind, order_id, ts_ns, body) VALUES (?, ?, ?, ?, ?)"
_SELECT = "SELECT seq, body FROM order_journal WHERE account = ? ORDER BY seq"
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteOrderJournal:
    """An ``OrderJournal`` in a SQLite database (a path, or a connection shared with other stores).

    A journal opened from a path owns its connection and closes it; one given a connection leaves it
    open and sets no pragmas on it (the owner chooses WAL and ``synchronous``).
    """

    def __init__(
        self,
        database: str | os.PathLike[str] | sqlite3.Connection,
        account: str = "default",
        *,
        synchronous: str = "NORMAL",
    ) -> None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {_SYNCHRONOUS}, not {synchronous!r}")
        self._account = account
        self._uncommitted = 0
        try:
            if isinstance(database, sqlite3.Connection):
                self._conn = database
                self._owns = False
            else:
                self._conn = sqlite3.connect(os.fspath(database), isolation_level=None)
                self._owns = True
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            with _errors():
                for statement in _SCHEMA:
                    self._conn.execute(statement)
                if self._conn.in_transaction:
                    self._conn.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open order journal: {exc}") from exc

    @property
    def account(self) -> str:
        return self._account

    @property
    def uncommitted(self) -> int:
        return self._uncommitted

    def append(self, record: Record) -> int:
        """Insert ``record`` in the open transaction (opening one); return its sequence number."""
        body = record_to_json(record)
        # Only events name our order id; a command's order_id (if any) is the client's reference.
        order_id = record.order_id if hasattr(type(record), "exec_type") else None
        conn = self._conn
        with _errors():
            if not conn.in_transaction:
                conn.execute("BEGIN")
            cursor = conn.execute(
                _INSERT,
                (self._account, type(record).__name__, order_id, record.ts_ns, body),
            )
        self._uncommitted += 1
        return cursor.lastrowid

    def commit(self) -> None:
        """Commit the open transaction: every appended record is durable when this returns."""
        with _errors():
            if self._conn.in_transaction:
                self._conn.commit()
        self._uncommitted = 0

    def append_and_commit(self, record: Record) -> int:
        """Append ``record`` and commit; return its sequence number."""
        seq = self.append(record)
        self.commit()
        return seq

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield this account's committed ``(seq, record)`` pairs in order."""
        if self._uncommitted:
            raise StoreError("records() while appends are uncommitted")
        with _errors():
            cursor = self._conn.execute(_SELECT, (self._account,))
            while True:
                rows = cursor.fetchmany(1000)
                if not rows:
                    break
                for seq, body in rows:
                    yield seq, record_from_json(body)

    def close(self) -> None:
        """Close an owned connection (uncommitted records are rolled back)."""
        if self._owns:
            with _errors():
                if self._conn.in_transaction:
                    self._conn.rollback()
                self._conn.close()
        self._uncommitted = 0


class _errors:
    """Translate ``sqlite3.Error`` into ``StoreError`` at the boundary."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, sqlite3.Error):
            raise StoreError(f"order journal: {exc}") from exc
        return False
