"""In-memory OrderJournal, for tests and for running without a disk.

``reopen()`` returns a journal over the same committed records and drops uncommitted ones: what a
process restart would see. With ``serialize=True`` records are kept as their JSON text, which proves
every journaled record survives the round trip.
"""

from __future__ import annotations

from typing import Iterator

from fixgw.errors import StoreError
from fixgw.orders.journal import Record
from fixgw.orders.serial import record_from_json, record_to_json

__all__ = ["MemoryOrderJournal"]


class MemoryOrderJournal:
    """An ``OrderJournal`` held in a list; durable only as long as the process."""

    def __init__(self, account: str = "default", *, serialize: bool = False) -> None:
        self._account = account
        self._serialize = serialize
        self._committed: list[tuple[int, object]] = []
        self._buffer: list[tuple[int, object]] = []
        self._next_seq = 1
        self._closed = False

    @property
    def account(self) -> str:
        return self._account

    @property
    def uncommitted(self) -> int:
        return len(self._buffer)

    def __len__(self) -> int:
        """Return the number of committed records."""
        return len(self._committed)

    def append(self, record: Record) -> int:
        """Buffer ``record``; return its sequence number."""
        self._check_open()
        stored = record_to_json(record) if self._serialize else record
        seq = self._next_seq
        self._buffer.append((seq, stored))
        self._next_seq = seq + 1
        return seq

    def commit(self) -> None:
        """Move the buffered records to the committed list."""
        self._check_open()
        if self._buffer:
            self._committed.extend(self._buffer)
            self._buffer.clear()

    def append_and_commit(self, record: Record) -> int:
        """Append ``record`` and commit; return its sequence number."""
        seq = self.append(record)
        self.commit()
        return seq

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield the committed ``(seq, record)`` pairs in order."""
        self._check_open()
        if self._buffer:
            raise StoreError("records() while appends are uncommitted")
        for seq, stored in list(self._committed):
            yield seq, (record_from_json(stored) if self._serialize else stored)

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
        return other

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("journal is closed")
