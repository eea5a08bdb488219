"""The OrderJournal port: an append-only, durable log of one account's commands and events.

Implementations live in ``fixgw/stores/`` (``journal_memory.MemoryOrderJournal``,
``journal_sqlite.SqliteOrderJournal``) and pass one conformance suite. The contract:

- ``append(record)`` buffers a record and returns its sequence number (increasing, not necessarily
  dense); nothing is durable until ``commit()``. ``append_and_commit`` does both.
- ``commit()`` makes every appended record durable at once (a crash keeps all of a batch or none).
  Commit before acting on or acknowledging what was appended: before sending to the venue, before
  answering the client.
- ``records()`` yields ``(seq, record)`` for the committed records in append order; it raises
  ``StoreError`` while appends are uncommitted (replay is for start-up).
- ``close()`` releases resources; uncommitted records are dropped, as a crash would drop them.
- Failures raise ``StoreError``; never swallow one.

Lookups of one order, so a book can let its finished orders go and still answer for them (indexed,
not a scan; they see every appended record, committed or not, as the book that appended them does):

- ``append(record, order_id)``: ``order_id`` is our id of the order the record belongs to (the book
  knows it for a ``SubmitOrder``, whose id it assigns; an event carries its own).
- ``load_order(order_id, before=None)`` returns that order's records in append order (those with a
  sequence number below ``before`` when given): replaying them rebuilds the order. ``[]``: no such order.
- ``find_order_id(cl_ord_id=..., venue_order_id=...)`` returns the id of the newest order that used
  that client order id (submit, cancel or replace request; see ``lookup_keys``) or venue order id.
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

from .commands import Command, SubmitOrder
from .events import OrderAccepted, OrderEvent, OrderFilled, OrderPendingCancel, OrderPendingReplace, OrderReplaced

__all__ = ["OrderJournal", "Record", "lookup_keys", "record_order_id"]

Record = Command | OrderEvent

_CL_ORD_ID_KINDS = (SubmitOrder, OrderPendingCancel, OrderPendingReplace)
_VENUE_ID_KINDS = (OrderAccepted, OrderFilled, OrderReplaced)


def lookup_keys(record: Record) -> tuple[str | None, str | None]:
    """Return the (client order id, venue order id) by which ``record`` makes its order findable.

    The same ids the book indexes: a submit's and a cancel/replace request's client order id, and the
    venue order id an acknowledgement, a fill or a replace gives the order.
    """
    kind = type(record)
    if kind in _CL_ORD_ID_KINDS:
        return record.cl_ord_id, None  # type: ignore[union-attr]
    if kind in _VENUE_ID_KINDS:
        return None, record.venue_order_id  # type: ignore[union-attr]
    return None, None


def record_order_id(record: Record, order_id: str | None) -> str | None:
    """Return the order id to file ``record`` under: the one given, else an event's own."""
    if order_id is not None:
        return order_id
    # Only events name our order id; a command's order_id (if any) is the client's reference.
    return record.order_id if hasattr(type(record), "exec_type") else None


@runtime_checkable
class OrderJournal(Protocol):
    """One account's journal of order commands and events."""

    @property
    def account(self) -> str:
        """The account whose records this journal holds."""
        ...

    @property
    def uncommitted(self) -> int:
        """The number of records appended since the last commit."""
        ...

    def append(self, record: Record, order_id: str | None = None) -> int:
        """Buffer ``record`` (of order ``order_id``); return its sequence number."""
        ...

    def commit(self) -> None:
        """Make every appended record durable."""
        ...

    def append_and_commit(self, record: Record, order_id: str | None = None) -> int:
        """Append ``record`` and commit; return its sequence number."""
        ...

    def load_order(self, order_id: str, before: int | None = None) -> list[Record]:
        """Return the records of order ``order_id`` in order (below sequence ``before``); ``[]``: unknown."""
        ...

    def find_order_id(self, *, cl_ord_id: str | None = None, venue_order_id: str | None = None) -> str | None:
        """Return the id of the newest order that used ``cl_ord_id`` (else ``venue_order_id``), or ``None``."""
        ...

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield the committed ``(seq, record)`` pairs in order."""
        ...

    def close(self) -> None:
        """Release resources; uncommitted records are dropped."""
        ...
