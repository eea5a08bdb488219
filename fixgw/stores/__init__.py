"""Implementations of the persistence ports: message stores (``fixgw.session.store``) and order journals
(``fixgw.orders.journal``), in memory and in SQLite.

A message store's ``journal(account)`` gives the order journal that belongs with it: for SQLite, one in
the same file that writes in the store's own transactions, so journal records and outbound FIX messages
commit together (see ``fixgw.stores.sqlite``).

PostgreSQL (``fixgw.stores.postgres``, ``journal_postgres``, and the leases of ``lease``) is imported from
its own modules, never from here: it needs psycopg, an optional dependency (the ``postgres`` extra).
"""

from __future__ import annotations

from .journal_memory import MemoryOrderJournal
from .journal_sqlite import SqliteOrderJournal
from .memory import MemoryMessageStore
from .sqlite import SqliteMessageStore

__all__ = ["MemoryMessageStore", "SqliteMessageStore", "MemoryOrderJournal", "SqliteOrderJournal"]
