"""Group commit, shared by the SQLite and PostgreSQL stores: many commit points, one commit per loop turn.

Once ``defer_commits(schedule)`` was called, a commit point (``commit_soon()``, a journal's
``commit()``) does not commit: it asks ``schedule`` (e.g. the asyncio loop's ``call_soon``) once to
run the commit at the next loop turn; ``flush()`` commits at once whatever is pending (before anything
that depends on it leaves the process). A deferred commit that fails has no caller to raise to: its
error is kept, so every later write and commit raises it. Each store keeps its own ``commit``, and may
make the deferred one not wait (``_commit_point``: the PostgreSQL store's pipelined commits).
"""

from __future__ import annotations

import logging
from typing import Callable

from ..errors import StoreError

__all__ = ["GroupCommit"]

log = logging.getLogger("fixgw.store")


class GroupCommit:
    """Commit points of a store, which provides ``commit``, ``_uncommitted`` and ``_deferred_failed``."""

    _closed: bool
    _failed: StoreError | None

    def _init_group_commit(self) -> None:
        self._schedule: Callable[[Callable[[], None]], object] | None = None
        self._flush_due = False

    def commit(self) -> None:  # pragma: no cover - every store defines its own
        raise NotImplementedError

    def _uncommitted(self) -> bool:  # pragma: no cover - every store defines its own
        """Whether something waits for a commit."""
        raise NotImplementedError

    def _commit_point(self) -> None:
        """What a deferred flush runs: ``commit()`` (a pipelined store hands the commit to its thread)."""
        self.commit()

    def _deferred_failed(self, exc: StoreError) -> None:
        """Keep the error of a failed deferred commit so that every later write and commit raises it
        (a store whose ``commit`` already keeps its failures has nothing to do here)."""

    def defer_commits(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        """Group commits per event-loop turn: ``commit_soon()`` (a journal's ``commit()``) then asks
        ``schedule`` once to run ``flush`` at the next turn instead of committing at once (see the module
        docstring). ``schedule`` is e.g. the running asyncio loop's ``call_soon``."""
        self._schedule = schedule

    @property
    def flush_due(self) -> bool:
        """A commit point was reached and its ``flush()`` has not run yet."""
        return self._flush_due

    def commit_soon(self) -> None:
        """A commit point: commit now, or at the next loop turn once ``defer_commits`` was called."""
        schedule = self._schedule
        if schedule is None or self._failed is not None:
            self.commit()
        elif not self._flush_due and self._uncommitted():
            self._flush_due = True
            schedule(self._deferred_flush)

    def flush(self) -> None:
        """Commit what is pending now (before anything that depends on it leaves the process)."""
        self.commit()

    def _deferred_flush(self) -> None:
        if self._closed or not self._flush_due:
            return
        try:
            self._commit_point()
        except StoreError as exc:
            # No caller to raise to: kept, so every later write and commit raises it.
            log.critical("deferred commit failed; the store refuses every later write: %s", exc)
            self._deferred_failed(exc)
