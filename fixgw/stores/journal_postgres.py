"""PostgreSQL OrderJournal: the order journal of gateways that share a PostgreSQL database.

Theory of operation. Records go to the table ``order_journal`` (one row per command or event, the body
in the JSON of ``fixgw.orders.serial`` as text, so decimals keep their exact digits), keyed by
(account, seq). Sequence numbers are assigned here, per account: the first append of an account reads
the highest committed number once, later ones count on in memory (one process owns an account at a time;
see ``fixgw.stores.lease``). Each row carries the order id and the lookup keys of
``fixgw.orders.journal.lookup_keys``, each with a partial index, written by the same insert.

A journal opened from a connection string owns its ``PgWriter`` (connection and transactions); one built
by ``PostgresMessageStore.journal(account)`` queues into the store's batch, and its ``commit()`` is the
store's commit point (``commit_soon``): the records commit with the outbound FIX messages of the same
turn, or neither does. Appends are queued, not sent: an append costs no round trip; lookups and
``records()`` send what is queued into the open transaction first, so they see uncommitted appends as
SQLite's do.
"""

from __future__ import annotations

from typing import Iterator

from fixgw.errors import StoreError
from fixgw.orders.journal import Record, lookup_keys, record_order_id
from fixgw.orders.serial import record_from_json, record_to_json

from ._pg import PgWriter, Statement, pg_text, pg_untext

__all__ = ["PostgresOrderJournal"]

_INSERT = Statement(
    "INSERT INTO order_journal (account, seq, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id) VALUES "
)
_PAGE = 1000
_SELECT_PAGE = (
    "SELECT seq, body FROM order_journal WHERE account = %s AND seq > %s ORDER BY seq LIMIT " + str(_PAGE)
)
_SELECT_ORDER = (
    "SELECT body FROM order_journal WHERE account = %s AND order_id = %s AND seq < %s ORDER BY seq"
)
_FIND_CL = (
    "SELECT order_id FROM order_journal WHERE account = %s AND cl_ord_id = %s ORDER BY seq DESC LIMIT 1"
)
_FIND_VENUE = (
    "SELECT order_id FROM order_journal WHERE account = %s AND venue_order_id = %s ORDER BY seq DESC LIMIT 1"
)
_NO_BOUND = 2**63 - 1


class PostgresOrderJournal:
    """An ``OrderJournal`` in PostgreSQL: from a connection string, or in a ``PgWriter``'s transactions."""

    def __init__(self, database: str | PgWriter, account: str = "default") -> None:
        self._account = account
        self._key = pg_text(account)
        self._owns = isinstance(database, str)
        self._w = PgWriter(database) if isinstance(database, str) else database
        self._pending = 0
        self._epoch = self._w.commits

    def __repr__(self) -> str:
        return f"PostgresOrderJournal({self._w.dsn!r}, {self._account!r})"

    @property
    def account(self) -> str:
        return self._account

    @property
    def uncommitted(self) -> int:
        # A commit by the writer's owner commits our records too.
        return self._pending if self._w.commits == self._epoch else 0

    def append(self, record: Record, order_id: str | None = None) -> int:
        """Queue ``record`` (of order ``order_id``) for the next commit; return its sequence number."""
        body = record_to_json(record)
        order_id = record_order_id(record, order_id)
        cl_ord_id, venue_order_id = lookup_keys(record) if order_id is not None else (None, None)
        w = self._w
        seq = w.next_journal_seq(self._account)
        w.queue(
            _INSERT,
            (self._key, seq, type(record).__name__, pg_text(order_id), record.ts_ns, body,
             pg_text(cl_ord_id), pg_text(venue_order_id)),
        )
        commits = w.commits
        if commits != self._epoch:
            self._epoch = commits
            self._pending = 0
        self._pending += 1
        return seq

    def commit(self) -> None:
        """Commit (or, in a store that groups commits, reach a commit point): see ``fixgw.stores.postgres``."""
        self._w.commit_soon()
        self._pending = 0
        self._epoch = self._w.commits

    def append_and_commit(self, record: Record, order_id: str | None = None) -> int:
        """Append ``record`` and commit; return its sequence number."""
        seq = self.append(record, order_id)
        self.commit()
        return seq

    def load_order(self, order_id: str, before: int | None = None) -> list[Record]:
        """Return the records of order ``order_id`` in order (below sequence ``before``); ``[]``: unknown."""
        bound = _NO_BOUND if before is None else before
        rows = self._w.read(_SELECT_ORDER, (self._key, pg_text(order_id), bound))
        return [record_from_json(body) for (body,) in rows]

    def find_order_id(self, *, cl_ord_id: str | None = None, venue_order_id: str | None = None) -> str | None:
        """Return the id of the newest order that used ``cl_ord_id`` (else ``venue_order_id``), or ``None``."""
        if cl_ord_id is not None:
            rows = self._w.read(_FIND_CL, (self._key, pg_text(cl_ord_id)))
            if rows:
                return pg_untext(rows[0][0])
        if venue_order_id is not None:
            rows = self._w.read(_FIND_VENUE, (self._key, pg_text(venue_order_id)))
            if rows:
                return pg_untext(rows[0][0])
        return None

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield this account's committed ``(seq, record)`` pairs in order (read a page at a time)."""
        if self.uncommitted:
            raise StoreError("records() while appends are uncommitted")
        after = 0
        while True:
            rows = self._w.read(_SELECT_PAGE, (self._key, after))
            for seq, body in rows:
                yield int(seq), record_from_json(body)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def close(self) -> None:
        """Close an owned connection (uncommitted records are dropped)."""
        if self._owns:
            self._w.abandon()
        self._pending = 0
