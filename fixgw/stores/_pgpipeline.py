"""Pipelined commits of a ``PgWriter`` (see ``fixgw.stores._pg`` and ``fixgw.stores._pipeline``).

A mixin of ``PgWriter``: the commit thread is started by ``pipeline_commits``; from then on a commit point
(``request_commit``, the deferred flush) seals the pending writes for the thread, or marks them wanted
while a commit is in flight (they are sealed as soon as it lands, between two turns of the loop); and
``covering``/``durable`` tell what depends on the writes made so far which commit to wait for. Journal
lookups read what is committed on a second connection (``read_committed``), which never waits for the
commit in flight.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import psycopg

from ..errors import StoreError
from ._pipeline import CommitPipeline

__all__ = ["PipelinedCommits"]

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
            pipe_call = pipe._call_soon_threadsafe
            pipe_call(self._seal_wanted)
        else:
            self._seal_wanted()

    def _seal_wanted(self) -> None:
        pipe = self._pipe
        if (pipe is None or pipe.busy or not self._wanted or not self._active or self._closed
                or self._failed is not None):
            return
        self._seal(pipe)
