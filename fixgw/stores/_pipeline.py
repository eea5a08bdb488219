"""Commit pipeline: a store's commits run on a thread of their own, and what depends on them waits.

Theory of operation
-------------------
A synchronous commit on the event loop stops everything for the server's WAL flush (milliseconds on a
durable PostgreSQL). Pipelined, the loop only *seals* a commit (renders the pending writes into one
query) and hands it to a dedicated thread, which runs it on the store's connection; meanwhile the loop
goes on and the next turns' writes accumulate for the next commit, sealed as soon as the one in flight
has landed. At most one commit is in flight, so commits land in the order they were sealed. (PostgreSQL
on a running asyncio loop needs no thread: ``fixgw.stores._pgpipeline.LoopCommits`` keeps these tickets
and waiters and sends each commit from the loop, which lands it when the server's answer arrives.)

Tickets. Commits are numbered from 1 in sealing order. ``covering()`` returns the ticket of the commit
that covers every write made so far (sealing it now when the thread is idle, else asking for it once the
one in flight lands); ``durable`` is the highest ticket that has landed. Whatever must not leave the
process before some writes are durable (FIX bytes to a client, a venue call, a bridge answer) takes the
covering ticket and waits for it: ``when_durable(ticket, fn)`` runs ``fn`` on the loop once it landed
(at once if it already has), ``wait()`` is the same for a task. Tickets are handed out in increasing
order, so waiters are released in the order they were registered: FIFO, nothing overtakes.

Failure is final (fail closed): a commit that fails releases nothing, now or later; the store keeps the
error (every later write, read and commit raises it) and ``on_failure`` is told (the gateway stops).
A stale owner's commit refused by its fencing token is such a failure.

Thread discipline: while a commit is in flight the connection belongs to the thread; anything else the
store does on it (a read, a synchronous commit, closing) first waits for the thread (``drain()``), which
also lands that commit on the spot. The loop learns of a landing from ``call_soon_threadsafe``; landing is
idempotent, whichever of the two sees it first.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Callable

import anyio

from ..errors import StoreError

__all__ = ["CommitPipeline"]

log = logging.getLogger("fixgw.store")

_STOP = object()


class CommitPipeline:
    """The commit thread of one store and the tickets of its commits (see the module docstring).

    ``execute(query)`` runs one sealed commit on the connection (called on the thread; raises on failure);
    ``landed(ticket, error, in_line)`` is called on the loop once it finished (``error`` None: durable;
    ``in_line``: landed by ``drain()``, maybe in the middle of a turn, rather than between two turns).
    ``call_soon_threadsafe`` is the running loop's.
    """

    def __init__(
        self,
        execute: Callable[[Any], None],
        landed: Callable[[int, BaseException | None, bool], None],
        call_soon_threadsafe: Callable[..., object],
        *,
        name: str = "fixgw-commit",
    ) -> None:
        self._init_tickets(landed, call_soon_threadsafe)
        self._execute = execute
        self._done = threading.Event()
        self._jobs: collections.deque[Any] = collections.deque()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _init_tickets(self, landed: Callable[[int, BaseException | None, bool], None],
                      call_soon_threadsafe: Callable[..., object]) -> None:
        """The tickets and waiters, without a thread (``fixgw.stores._pgpipeline.LoopCommits`` runs its
        commits on the event loop itself)."""
        self._landed_cb = landed
        self._call_soon_threadsafe = call_soon_threadsafe
        #: Highest ticket sealed (handed to the thread or committed in line).
        self.sealed = 0
        #: Highest ticket that has landed (durable).
        self.durable = 0
        self.failed: StoreError | None = None
        #: ``(ticket, fn, task)`` in ticket order; ``task`` True for ``wait()``'s events (woken on failure).
        self._waiting: collections.deque[tuple[int, Callable[[], None], bool]] = collections.deque()
        self._inflight = 0  # ticket on the thread, 0 when idle
        self._result: tuple[int, BaseException | None] | None = None

    # -- the loop's side ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A commit is in flight on the thread."""
        return self._inflight != 0

    def submit(self, query: Any) -> int:
        """Hand a sealed commit to the thread (it must be idle); return its ticket."""
        assert not self._inflight, "one commit in flight at a time"
        ticket = self.sealed = self.sealed + 1
        self._inflight = ticket
        self._done.clear()
        with self._wake:
            self._jobs.append((ticket, query))
            self._wake.notify()
        return ticket

    def committed_inline(self) -> int:
        """A commit ran on the loop itself (the thread idle): it is sealed and durable at once."""
        ticket = self.sealed = self.sealed + 1
        self._land(ticket)
        return ticket

    def when_durable(self, ticket: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop once commit ``ticket`` has landed (now, if it has); never after a failure."""
        if self.failed is not None:
            return
        if ticket <= self.durable:
            fn()
        else:
            self._waiting.append((ticket, fn, False))

    async def wait(self, ticket: int) -> None:
        """Return once commit ``ticket`` has landed; raise the store's error if a commit failed first."""
        if ticket <= self.durable:
            return
        if self.failed is not None:
            raise self.failed
        event = anyio.Event()
        entry = (ticket, event.set, True)
        self._waiting.append(entry)
        try:
            await event.wait()
        finally:
            if not event.is_set():  # cancelled: forget the waiter
                try:
                    self._waiting.remove(entry)
                except ValueError:  # pragma: no cover - already released
                    pass
        if self.failed is not None and ticket > self.durable:
            raise self.failed

    def close(self) -> None:
        """Land what is in flight, stop the thread and wake the waiting tasks (they raise if it failed)."""
        self.drain()
        with self._wake:
            self._jobs.append(_STOP)
            self._wake.notify()
        self._thread.join(timeout=10.0)
        if self.failed is None:
            self.failed = StoreError("store is closed")
        self._drop_waiters(wake_tasks=True)

    def drain(self) -> None:
        """Wait (blocking) until no commit is in flight, landing the one that was."""
        if self._inflight:
            self._done.wait()
            self._collect(in_line=True)

    def _collect(self, in_line: bool = False) -> None:
        """Land the commit the thread finished, if not done yet (from the loop callback or ``drain``).
        The store hears of it first (``landed``: it seals the next commit), then the waiters are released."""
        result = self._result
        if result is None or not self._done.is_set():
            return
        self._result = None
        self._inflight = 0
        ticket, error = result
        if error is None:
            self.durable = ticket
        self._landed_cb(ticket, error, in_line)
        if error is None:
            self._land(ticket)

    def _land(self, ticket: int) -> None:
        self.durable = ticket
        waiting = self._waiting
        while waiting and waiting[0][0] <= ticket:
            fn = waiting.popleft()[1]
            try:
                fn()
            except Exception:  # pragma: no cover - a waiter's bug must not stop the others
                log.exception("releasing what waited for commit %d failed", ticket)

    def fail(self, error: StoreError) -> None:
        """A commit failed: nothing that waits is ever released (``wait()`` raises ``error``)."""
        self.failed = error
        self._drop_waiters(wake_tasks=True)

    def _drop_waiters(self, *, wake_tasks: bool) -> None:
        waiting, self._waiting = self._waiting, collections.deque()
        if wake_tasks:
            # Only the tasks are woken (they raise the error); held bytes and calls are dropped.
            for _, fn, task in waiting:
                if task:
                    fn()

    # -- the thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        jobs, wake = self._jobs, self._wake
        while True:
            with wake:
                while not jobs:
                    wake.wait()
                job = jobs.popleft()
            if job is _STOP:
                return
            ticket, query = job
            error: BaseException | None = None
            try:
                self._execute(query)
            except BaseException as exc:  # handed to the loop, which fails the store
                error = exc
            self._result = (ticket, error)
            self._done.set()
            try:
                self._call_soon_threadsafe(self._collect)
            except RuntimeError:  # the loop is closed: whoever drains lands it
                pass
