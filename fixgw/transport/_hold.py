"""Bytes held until the commit that covers them has landed: the driver's side of pipelined commits.

A store with pipelined commits (``fixgw.stores._pipeline``) does not wait in ``commit()``: the session's
``data_to_send()`` seals the commit and returns the bytes at once. The driver then asks the store for the
ticket of the commit covering every write so far (``covering()``: these bytes, their sequence numbers, and
whatever the turn journaled) and holds the bytes here until the store's ``pipeline`` says that ticket is
durable; they then leave in the order they were pulled, behind nothing and before anything pulled later
(later bytes wait behind held ones even when their own commit has landed). A failed commit releases
nothing: the bytes stay in the store for a resend to a later process, never on the wire first.

A store without ``pipeline`` (SQLite, memory: their ``commit()`` returns once durable) gets no ``Hold``.
"""

from __future__ import annotations

import collections
from typing import Any, Callable

__all__ = ["Hold", "hold_for"]


class Hold:
    """The bytes of one connection waiting for their commit (see the module docstring)."""

    __slots__ = ("_store", "_pipe", "chunks", "_armed")

    def __init__(self, store: Any, pipe: Any) -> None:
        self._store = store
        self._pipe = pipe
        #: ``(ticket, bytes)`` in the order pulled.
        self.chunks: collections.deque[tuple[int, bytes]] = collections.deque()
        self._armed = 0  # the highest ticket a release is registered for

    def keep(self, out: bytes, release: Callable[[], None]) -> bool:
        """Hold ``out`` if its commit has not landed (or bytes before it are held): ``release()`` is
        called once some may leave. ``False``: nothing is held, write ``out`` now."""
        ticket = self._store.covering()
        chunks = self.chunks
        if not chunks and ticket <= self._pipe.durable:
            return False
        chunks.append((ticket, out))
        if ticket > self._armed:
            self._armed = ticket
            self._pipe.when_durable(ticket, release)
        return True

    def take(self) -> bytes:
        """Return (and forget) the held bytes whose commit has landed, in order (b"" if none)."""
        chunks = self.chunks
        durable = self._pipe.durable
        if len(chunks) == 1 and chunks[0][0] <= durable:
            return chunks.popleft()[1]
        out = []
        while chunks and chunks[0][0] <= durable:
            out.append(chunks.popleft()[1])
        return b"".join(out)

    def clear(self) -> None:
        self.chunks.clear()


def hold_for(store: Any) -> Hold | None:
    """A ``Hold`` for a session whose store pipelines its commits, else None."""
    pipe = getattr(store, "pipeline", None)
    return None if pipe is None else Hold(store, pipe)
