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

Event ids (the bridge's stream, ``fixgw.gateway._feed``). Journal sequence numbers are per account, and
several nodes append to one database at once, so the ids of the stream are numbered by the database: the
event rows of one ``INSERT`` take the next numbers of the one counter row ``fixgw_event_ids``, advanced once
by their count in the same statement (``Statement.numbered``; schema 1 advanced it once per row, by a
trigger that still numbers a row inserted with ``event_id`` 0), whose row lock its transaction holds until
it ends. So the ids of every node's events
are gap-free, increase in commit order (no transaction can commit id n + 1 before id n is committed or
rolled back, and a rollback takes its numbers back), and are the same for everyone who reads them back:
``SharedEvents`` reads the committed events after an id, which is how each node's feed learns the ids of
its own events and of the other nodes', and how a stream resumes with ``since=<id>`` on any node.

With pipelined commits (``PgWriter.pipeline_commits``) a lookup must not wait for the commit in flight:
``load_order`` and ``find_order_id`` read what is committed on the writer's second connection
(``read_committed``) and add the records this journal appended whose commit has not landed yet, kept in
memory until it has (``_unlanded``; a record appended while ticket ``t`` is the last sealed goes in
commit ``t + 1``). A record seen both ways (its commit done on the server, not yet landed on the loop)
counts once, by its sequence number.
"""

from __future__ import annotations

import collections
from typing import Iterator

from fixgw.errors import StoreError
from fixgw.jsonio import loads
from fixgw.orders.journal import Record, lookup_keys, record_order_id
from fixgw.orders.serial import record_from_json, record_to_json

from ._pg import NUMBER, PgWriter, Statement, pg_text, pg_untext

__all__ = ["PostgresOrderJournal", "SharedEvents", "is_event", "journal_scope"]

_INSERT = Statement(
    "INSERT INTO order_journal (account, seq, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id, event_id)"
    " VALUES ",
    numbered="account, seq, kind, order_id, ts_ns, body, cl_ord_id, venue_order_id, event_id",
)
_PAGE = 1000
_SELECT_PAGE = (
    "SELECT seq, body FROM order_journal WHERE account = %s AND seq > %s ORDER BY seq LIMIT " + str(_PAGE)
)
_SELECT_ORDER = (
    "SELECT body FROM order_journal WHERE account = %s AND order_id = %s AND seq < %s ORDER BY seq"
)
_SELECT_ORDER_SEQ = (
    "SELECT seq, body FROM order_journal WHERE account = %s AND order_id = %s AND seq < %s ORDER BY seq"
)
_FIND_CL = (
    "SELECT order_id FROM order_journal WHERE account = %s AND cl_ord_id = %s ORDER BY seq DESC LIMIT 1"
)
_FIND_VENUE = (
    "SELECT order_id FROM order_journal WHERE account = %s AND venue_order_id = %s ORDER BY seq DESC LIMIT 1"
)
_NO_BOUND = 2**63 - 1
_SELECT_EVENTS = (
    "SELECT event_id, account, order_id, body FROM order_journal WHERE event_id > %s ORDER BY event_id LIMIT %s"
)
_LAST_EVENT = "SELECT last FROM fixgw_event_ids"
#: ``_SELECT_EVENTS`` as one JSON array of ``[id, account, order id, body]`` (one value to read, not four
#: per row: ``after_async``).
_SELECT_EVENTS_JSON = (
    "SELECT coalesce(json_agg(json_build_array(event_id, account, order_id, body) ORDER BY event_id), '[]')"
    " FROM (" + _SELECT_EVENTS + ") AS e"
)


def journal_scope(account: str) -> str:
    """The fencing scope of ``account``'s journal rows (``PgWriter.fence``)."""
    return f"journal:{account}"


def is_event(record: Record) -> bool:
    """An order event (it carries an ExecType), not a command: what the bridge's stream numbers."""
    return hasattr(type(record), "exec_type")


class PostgresOrderJournal:
    """An ``OrderJournal`` in PostgreSQL: from a connection string, or in a ``PgWriter``'s transactions."""

    def __init__(self, database: str | PgWriter, account: str = "default") -> None:
        self._account = account
        self._key = pg_text(account)
        self._scope = journal_scope(account)  # the fences of its rows (PgWriter.fence)
        self._owns = isinstance(database, str)
        self._w = PgWriter(database) if isinstance(database, str) else database
        self._pending = 0
        self._epoch = self._w.commits
        #: Pipelined: ``(ticket, seq, order_id, cl_ord_id, venue_order_id, record)`` not yet durable.
        self._unlanded: collections.deque[tuple[int, int, str | None, str | None, str | None, Record]] = (
            collections.deque())

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
             pg_text(cl_ord_id), pg_text(venue_order_id), NUMBER if is_event(record) else None),
            self._scope,
        )
        pipe = w.pipeline
        if pipe is not None:
            unlanded = self._unlanded
            while unlanded and unlanded[0][0] <= pipe.durable:
                unlanded.popleft()
            unlanded.append((pipe.sealed + 1, seq, order_id, cl_ord_id, venue_order_id, record))
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
        if self._w.pipeline is not None:
            return self._load_order_pipelined(order_id, bound)
        rows = self._w.read(_SELECT_ORDER, (self._key, pg_text(order_id), bound))
        return [record_from_json(body) for (body,) in rows]

    def _unlanded_now(self) -> collections.deque[tuple[int, int, str | None, str | None, str | None, Record]]:
        pipe = self._w.pipeline
        unlanded = self._unlanded
        while unlanded and pipe is not None and unlanded[0][0] <= pipe.durable:
            unlanded.popleft()
        return unlanded

    def _load_order_pipelined(self, order_id: str, bound: int) -> list[Record]:
        unlanded = self._unlanded_now()
        rows = self._w.read_committed(_SELECT_ORDER_SEQ, (self._key, pg_text(order_id), bound))
        out = [record_from_json(body) for _, body in rows]
        last = int(rows[-1][0]) if rows else 0
        out.extend(r for _, seq, oid, _, _, r in unlanded if oid == order_id and last < seq < bound)
        return out

    def find_order_id(self, *, cl_ord_id: str | None = None, venue_order_id: str | None = None) -> str | None:
        """Return the id of the newest order that used ``cl_ord_id`` (else ``venue_order_id``), or ``None``."""
        if self._w.pipeline is not None:
            return self._find_pipelined(cl_ord_id, venue_order_id)
        if cl_ord_id is not None:
            rows = self._w.read(_FIND_CL, (self._key, pg_text(cl_ord_id)))
            if rows:
                return pg_untext(rows[0][0])
        if venue_order_id is not None:
            rows = self._w.read(_FIND_VENUE, (self._key, pg_text(venue_order_id)))
            if rows:
                return pg_untext(rows[0][0])
        return None

    def _find_pipelined(self, cl_ord_id: str | None, venue_order_id: str | None) -> str | None:
        unlanded = self._unlanded_now()  # newer than anything committed: looked at first, newest first
        read = self._w.read_committed
        if cl_ord_id is not None:
            for _, _, oid, cl, _, _ in reversed(unlanded):
                if cl == cl_ord_id:
                    return oid
            rows = read(_FIND_CL, (self._key, pg_text(cl_ord_id)))
            if rows:
                return pg_untext(rows[0][0])
        if venue_order_id is not None:
            for _, _, oid, _, vid, _ in reversed(unlanded):
                if vid == venue_order_id:
                    return oid
            rows = read(_FIND_VENUE, (self._key, pg_text(venue_order_id)))
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


class SharedEvents:
    """The journaled events of every account, in event-id order, as every node sharing the database sees
    them: on a connection of its own, so only committed rows (see "Event ids" in the module docstring).
    Use it from one thread at a time."""

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        self._w = PgWriter(dsn, connect_timeout=connect_timeout)

    def __repr__(self) -> str:
        return f"SharedEvents({self._w.dsn!r})"

    def last_id(self) -> int:
        """The id of the newest committed event (0: none yet)."""
        rows = self._w.read(_LAST_EVENT, ())
        return int(rows[0][0]) if rows else 0

    def after(self, event_id: int, limit: int = _PAGE) -> list[tuple[int, str, str | None, Record]]:
        """Up to ``limit`` committed events after ``event_id``: ``(id, account, order id, record)``."""
        rows = self._w.read(_SELECT_EVENTS, (event_id, limit))
        return [(int(eid), pg_untext(account) or "", pg_untext(order_id), record_from_json(body))
                for eid, account, order_id, body in rows]

    async def after_async(self, event_id: int, limit: int = _PAGE) -> list[tuple[int, str, str | None, Record]]:
        """``after`` on the running event loop, without blocking it or a thread (``PgWriter.read_async``)."""
        rows = await self._w.read_async(_SELECT_EVENTS_JSON, (int(event_id), int(limit)))
        return [(int(eid), pg_untext(account) or "", pg_untext(order_id), record_from_json(body))
                for eid, account, order_id, body in loads(rows[0][0] or "[]")]

    #: How many events ``after`` returns at most: fewer, and there were no more.
    page = _PAGE

    def close(self) -> None:
        self._w.abandon()
