"""Implementations of the persistence ports (``fixgw.session.store``): memory and SQLite."""

from __future__ import annotations

from .memory import MemoryMessageStore
from .sqlite import SqliteMessageStore

__all__ = ["MemoryMessageStore", "SqliteMessageStore"]
