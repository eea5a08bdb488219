"""Pipelined commits of a ``PgWriter`` (see ``fixgw.stores._pg`` and ``fixgw.stores._pipeline``).

A mixin of ``PgWriter``: the commit thread is started by ``pipeline_commits``; from then on a commit point
(``request_commit``, the deferred flush) seals the pending writes for the thread, or marks them wanted
while a commit is in flight (they are sealed as soon as it lands, between two turns of the loop); and
``covering``/``durable`` tell what depends on the writes made so far which commit to wait for. Journal
lookups read what is committed on a second connection (``read_committed``), which never waits for the
commit in flight.

Where the commits run (``LoopCommits``). Started from a running asyncio loop (the gateway), a commit is
not handed to a thread: the loop sends it on the store's connection without blocking (libpq's
``PQsendQuery``; the connection is in non-blocking mode) and watches the connection's socket; the server's
answer is read by the loop's reader callback, which lands the commit there and then (the next one is sealed
and sent in the same callback). So a commit costs no thread wake-up, no hand-over of the interpreter lock
in either direction and no wake-up of the loop from another thread: each of those could wait up to the
interpreter's switch interval while the loop thread was busy (at 1,000 orders/s, p99 3.2 ms from sealing
to the thread starting the commit and 2.6 ms from its end to the loop landing it), and the hand-overs
cost CPU on both sides.
Without a running loop the commit thread of ``fixgw.stores._pipeline`` does the same job. ``drain()``
(a read, a synchronous commit, closing) waits for the answer on the socket itself, blocking, as the
thread's did.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
from typing import Any, Awaitable, Callable

import psycopg
from psycopg import pq

from ..errors import StoreError
from ._pipeline import CommitPipeline

__all__ = ["LoopCommits", "PipelinedCommits"]

log = logging.getLogger("fixgw.store")


class PipelinedCommits:
    """The pipelined side of ``PgWriter`` (which provides the connection, ``_render``, ``_fail``...)."""

    _pipe: CommitPipeline | None
    _reader: psycopg.Connection[Any] | None
    _wanted: bool
    _on_failure: Callable[[StoreError], None] | None
    _active: bool
    _closed: bool
    _failed: StoreError | None
    _flush_due: bool
    _label: str
    _conn: psycopg.Connection[Any]

    def pipeline_commits(self, call_soon_threadsafe: Callable[..., object],
                         on_failure: Callable[[StoreError], None] | None = None) -> None:
        """Run commits on a thread of their own from now on (call from the event loop, whose
        ``call_soon_threadsafe`` is given); ``on_failure`` hears of a failed commit (on the loop)."""
        self._check_open()
        if self._pipe is None:
            try:
                self._reader = psycopg.connect(self._dsn, autocommit=True,
                                               connect_timeout=max(1, int(self._connect_timeout)))
            except psycopg.Error as exc:
                raise StoreError(f"{self._label}: cannot connect: {self._scrub(exc)}") from None
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None and _watches_sockets(loop):
                self._pipe = LoopCommits(self._conn.pgconn, self._landed, loop)
            else:
                self._pipe = CommitPipeline(self._simple, self._landed, call_soon_threadsafe,
                                            name="fixgw-pg-commit")
        self._on_failure = on_failure

    def read_committed(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Pipelined: run a query on a second connection, which sees what has been committed (not what
        is queued or in flight, and never waits for the commit in flight); else ``read``. A journal
        lookup adds what it appended since (``PostgresOrderJournal``)."""
        reader = self._reader
        if reader is None:
            return self.read(sql, params)
        self._check_open()
        try:
            return reader.execute(sql, params).fetchall()
        except UnicodeEncodeError as exc:
            raise StoreError(f"{self._label}: a value is not valid Unicode: {exc.reason}") from None
        except psycopg.Error as exc:
            raise StoreError(f"{self._label}: read failed: {self._scrub(exc)}") from None

    @property
    def pipeline(self) -> CommitPipeline | None:
        """The commit pipeline, once ``pipeline_commits`` was called (else None: commits are synchronous)."""
        return self._pipe

    def request_commit(self) -> None:
        """A commit point that does not wait: pipelined, seal what is pending for the commit thread (or
        for when the commit in flight lands); else ``commit()``."""
        pipe = self._pipe
        if pipe is None:
            self.commit()
            return
        if self._failed is not None:
            raise self._failed
        self._flush_due = False
        if not self._active:
            return
        if pipe.busy:
            self._wanted = True
        else:
            self._seal(pipe)

    def covering(self) -> int:
        """Pipelined: the ticket of the commit that covers every write made so far (asking for it)."""
        pipe = self._pipe
        assert pipe is not None, "covering() needs pipeline_commits()"
        if self._active:
            self.request_commit()
            if self._active:
                return pipe.sealed + 1
        return pipe.sealed

    def durable(self) -> Awaitable[None] | None:
        """``None`` when every write made so far is durable; else an awaitable that returns once it is
        (raising the store's error if a commit fails first). Without a pipeline: ``flush()``, then None."""
        pipe = self._pipe
        if pipe is None:
            self.flush()
            return None
        if self._failed is not None:
            raise self._failed
        ticket = self.covering()
        if ticket <= pipe.durable:
            return None
        return pipe.wait(ticket)

    def _commit_point(self) -> None:
        self.request_commit()

    def _seal(self, pipe: CommitPipeline) -> None:
        self._wanted = False
        self._before_commit()
        query = self._render(commit=True)
        self._batches = []
        self._open = False
        self._active = False
        self._commits += 1
        pipe.submit(query)

    def _landed(self, ticket: int, error: BaseException | None, in_line: bool) -> None:
        """The commit thread finished commit ``ticket`` (on the loop; see ``CommitPipeline``)."""
        pipe = self._pipe
        assert pipe is not None
        if error is not None:
            if self._failed is None:
                failure = self._fail("commit failed", error)
                log.critical("%s: pipelined commit %d failed; the store refuses every later write and"
                             " nothing that waited for it leaves: %s", self._label, ticket, failure)
            else:  # pragma: no cover - failed already
                pipe.fail(self._failed)
            if self._on_failure is not None:
                self._on_failure(self._failed)  # type: ignore[arg-type]
            return
        if not self._wanted or self._closed or self._failed is not None:
            return
        if in_line:
            # Landed in the middle of something (a read): seal between two turns, not half-way through one.
            try:
                pipe._call_soon_threadsafe(self._seal_wanted)
            except RuntimeError:  # the loop is closed: what is wanted waits for a synchronous commit
                pass
        else:
            self._seal_wanted()

    def _seal_wanted(self) -> None:
        pipe = self._pipe
        if (pipe is None or pipe.busy or not self._wanted or not self._active or self._closed
                or self._failed is not None):
            return
        self._seal(pipe)


_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


def _watches_sockets(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` can watch a socket for us (``add_reader``: not the Windows proactor loop)."""
    try:
        loop.add_reader  # noqa: B018
    except AttributeError:  # pragma: no cover - not a selector loop
        return False
    return not type(loop).__name__.startswith("Proactor")


class LoopCommits(CommitPipeline):
    """A ``CommitPipeline`` whose commits the event loop sends and lands itself (module docstring).

    ``pgconn`` is the store's libpq connection (non-blocking, as psycopg keeps it); ``landed`` as for
    ``CommitPipeline``; ``loop`` the running loop, whose reader callback lands each commit.
    """

    def __init__(self, pgconn: Any, landed: Callable[[int, BaseException | None, bool], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._init_tickets(landed, loop.call_soon_threadsafe)
        self._pgconn = pgconn
        self._loop = loop
        self._fd = -1
        self._writing = False  # the query is not all sent yet (the socket's buffer was full)
        self._error: BaseException | None = None  # the first statement that failed in the commit in flight
        self._done = threading.Event()
        self._done.set()  # ``_collect`` lands as soon as ``_result`` is set: nothing crosses threads here

    def submit(self, query: Any) -> int:
        """Send a sealed commit (none may be in flight); return its ticket. It lands from the loop."""
        assert not self._inflight, "one commit in flight at a time"
        ticket = self.sealed = self.sealed + 1
        self._inflight = ticket
        self._error = None
        pgconn = self._pgconn
        try:
            pgconn.send_query(query.encode("utf-8") if type(query) is str else query)
            self._fd = fd = pgconn.socket
        except Exception as exc:  # not sent (the connection is lost): it lands failed at the next turn
            self._fd = -1
            self._result = (ticket, exc)
            try:
                self._loop.call_soon(self._collect)
            except RuntimeError:  # the loop is closed: ``drain()`` lands it
                pass
            return ticket
        self._writing = True  # until flushed (``_poll`` flushes the rest, from the loop or ``drain()``)
        try:
            self._loop.add_reader(fd, self._readable)
            if pgconn.flush():
                self._loop.add_writer(fd, self._readable)
            else:
                self._writing = False
        except RuntimeError:  # the loop is closed: ``drain()`` sends the rest and lands it
            pass
        except Exception as exc:  # the connection is lost while sending: it lands failed
            self._finish(exc)
            try:
                self._loop.call_soon(self._collect)
            except RuntimeError:
                pass
        return ticket

    def drain(self) -> None:
        """Wait (blocking) for the answer of the commit in flight, if any, and land it."""
        if not self._inflight:
            return
        if self._result is None:
            poller = select.poll()
            while not self._poll():
                poller.register(self._fd, select.POLLIN | (select.POLLOUT if self._writing else 0))
                poller.poll(1000)
        self._collect(in_line=True)

    def close(self) -> None:
        """Land what is in flight and wake the waiting tasks (they raise if it failed)."""
        self.drain()
        self._stop_watching()
        if self.failed is None:
            self.failed = StoreError("store is closed")
        self._drop_waiters(wake_tasks=True)

    def _readable(self) -> None:
        if self._inflight and self._result is None and self._poll():
            self._collect()

    def _poll(self) -> bool:
        """Read what the server sent (and send the rest of the query); True once the commit's answer is
        complete (``_result`` is set)."""
        pgconn = self._pgconn
        try:
            pgconn.consume_input()
            if self._writing and not pgconn.flush():
                self._writing = False
                if not self._loop.is_closed():
                    self._loop.remove_writer(self._fd)
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:
                    self._finish(self._error)
                    return True
                if result.status not in _OK and self._error is None:
                    message = (result.get_error_message() or pgconn.get_error_message()).strip()
                    self._error = psycopg.OperationalError(
                        message or f"query failed ({pq.ExecStatus(result.status).name})")
        except Exception as exc:  # the connection is lost: the commit failed (its outcome unknown)
            self._finish(exc)
            return True
        return False

    def _finish(self, error: BaseException | None) -> None:
        self._stop_watching()
        self._result = (self._inflight, error)

    def _stop_watching(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0 and not self._loop.is_closed():
            self._loop.remove_reader(fd)
            if self._writing:
                self._loop.remove_writer(fd)
        self._writing = False


async def fetch_text(pgconn: Any, query: bytes) -> list[tuple[str | None, ...]]:
    """Run ``query`` (one statement, values rendered in) on an idle non-blocking libpq connection without
    blocking the running loop or a thread: sent at once, its answer read by the loop's reader callback.
    Every value comes back as text (``None`` for NULL). Raises ``psycopg.OperationalError`` if it fails;
    cancelled in the middle, the connection is left with the query in flight (close it)."""
    loop = asyncio.get_running_loop()
    pgconn.send_query(query)
    fd = pgconn.socket
    while pgconn.flush():  # (a short query: the socket's buffer takes it at once)
        sent = loop.create_future()
        loop.add_writer(fd, lambda: sent.done() or sent.set_result(None))
        try:
            await sent
        finally:
            loop.remove_writer(fd)
    rows: list[tuple[str | None, ...]] = []
    error = ""
    while True:
        while pgconn.is_busy():
            ready = loop.create_future()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_reader(fd)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None:
            break
        if result.status == pq.ExecStatus.TUPLES_OK:
            width = result.nfields
            rows = [tuple(None if (v := result.get_value(r, c)) is None else bytes(v).decode("utf-8")
                          for c in range(width)) for r in range(result.ntuples)]
        elif result.status != pq.ExecStatus.COMMAND_OK and not error:
            error = (result.get_error_message() or pgconn.get_error_message()).strip() or "query failed"
    if error:
        raise psycopg.OperationalError(error)
    return rows
