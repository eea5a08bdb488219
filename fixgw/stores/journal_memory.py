"""In-memory OrderJournal, for tests and for running without a disk.

``reopen()`` returns a journal over the same committed records and drops uncommitted ones: what a
process restart would see. With ``serialize=True`` records are kept as their JSON text, which proves
every journaled record survives the round trip. The per-order lookups are dictionaries kept as
records are appended, and rebuilt from the committed records by ``reopen()``.
"""

from __future__ import annotations

from typing import Iterator

from fixgw.errors import StoreError
from fixgw.orders.journal import Record, lookup_keys, record_order_id
from fixgw.orders.serial import record_from_json, record_to_json

__all__ = ["MemoryOrderJournal"]


class MemoryOrderJournal:
    """An ``OrderJournal`` held in a list; durable only as long as the process."""

    def __init__(self, account: str = "default", *, serialize: bool = False) -> None:
        self._account = account
        self._serialize = serialize
        self._committed: list[tuple[int, object, str | None]] = []
        self._buffer: list[tuple[int, object, str | None]] = []
        self._next_seq = 1
        self._closed = False
        self._by_order: dict[str, list[tuple[int, object]]] = {}
        self._by_cl_ord_id: dict[str, str] = {}
        self._by_venue_id: dict[str, str] = {}

    @property
    def account(self) -> str:
        return self._account

    @property
    def uncommitted(self) -> int:
        return len(self._buffer)

    def __len__(self) -> int:
        """Return the number of committed records."""
        return len(self._committed)

    def append(self, record: Record, order_id: str | None = None) -> int:
        """Buffer ``record`` (of order ``order_id``); return its sequence number."""
        self._check_open()
        stored = record_to_json(record) if self._serialize else record
        seq = self._next_seq
        order_id = record_order_id(record, order_id)
        self._buffer.append((seq, stored, order_id))
        self._index(seq, record, stored, order_id)
        self._next_seq = seq + 1
        return seq

    def commit(self) -> None:
        """Move the buffered records to the committed list."""
        self._check_open()
        if self._buffer:
            self._committed.extend(self._buffer)
            self._buffer.clear()

    def append_and_commit(self, record: Record, order_id: str | None = None) -> int:
        """Append ``record`` and commit; return its sequence number."""
        seq = self.append(record, order_id)
        self.commit()
        return seq

    def load_order(self, order_id: str, before: int | None = None) -> list[Record]:
        """Return the records of order ``order_id`` in order (below sequence ``before``); ``[]``: unknown."""
        self._check_open()
        return [
            self._load(stored)
            for seq, stored in self._by_order.get(order_id, ())
            if before is None or seq < before
        ]

    def find_order_id(self, *, cl_ord_id: str | None = None, venue_order_id: str | None = None) -> str | None:
        """Return the id of the newest order that used ``cl_ord_id`` (else ``venue_order_id``), or ``None``."""
        self._check_open()
        if cl_ord_id is not None:
            found = self._by_cl_ord_id.get(cl_ord_id)
            if found is not None:
                return found
        if venue_order_id is not None:
            return self._by_venue_id.get(venue_order_id)
        return None

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield the committed ``(seq, record)`` pairs in order."""
        self._check_open()
        if self._buffer:
            raise StoreError("records() while appends are uncommitted")
        for seq, stored, _ in list(self._committed):
            yield seq, self._load(stored)

    def close(self) -> None:
        """Drop uncommitted records and refuse further use."""
        self._buffer.clear()
        self._closed = True

    def reopen(self) -> MemoryOrderJournal:
        """Close this journal and return one over the same committed records, as after a restart."""
        self.close()
        other = MemoryOrderJournal(self._account, serialize=self._serialize)
        other._committed = self._committed
        other._next_seq = self._committed[-1][0] + 1 if self._committed else 1
        for seq, stored, order_id in self._committed:
            other._index(seq, other._load(stored), stored, order_id)
        return other

    def _load(self, stored: object) -> Record:
        return record_from_json(stored) if self._serialize else stored  # type: ignore[return-value]

    def _index(self, seq: int, record: Record, stored: object, order_id: str | None) -> None:
        if order_id is None:
            return
        self._by_order.setdefault(order_id, []).append((seq, stored))
        cl_ord_id, venue_order_id = lookup_keys(record)
        if cl_ord_id is not None:
            self._by_cl_ord_id[cl_ord_id] = order_id
        if venue_order_id is not None:
            self._by_venue_id[venue_order_id] = order_id

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("journal is closed")
