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
"""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable

from .commands import Command
from .events import OrderEvent

__all__ = ["OrderJournal", "Record"]

Record = Command | OrderEvent


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

    def append(self, record: Record) -> int:
        """Buffer ``record``; return its sequence number."""
        ...

    def commit(self) -> None:
        """Make every appended record durable."""
        ...

    def append_and_commit(self, record: Record) -> int:
        """Append ``record`` and commit; return its sequence number."""
        ...

    def records(self) -> Iterator[tuple[int, Record]]:
        """Yield the committed ``(seq, record)`` pairs in order."""
        ...

    def close(self) -> None:
        """Release resources; uncommitted records are dropped."""
        ...
