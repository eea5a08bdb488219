"""The background WAL checkpointer of ``SqliteMessageStore`` (see "Checkpoints" in ``fixgw.stores.sqlite``)."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

__all__ = ["Checkpointer"]


class Checkpointer:
    """A daemon thread that runs PASSIVE WAL checkpoints off the writer's thread."""

    def __init__(self, owner: Any, interval: float, restart_frames: int) -> None:
        self._owner = owner
        self._interval = interval
        self._stop = threading.Event()
        self._seen = 0
        #: WAL length (in frames) past which the WAL is restarted from its beginning.
        self.restart_frames = restart_frames
        self._thread = threading.Thread(target=self._run, name=f"sqlite-checkpoint:{owner._path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._owner._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:  # pragma: no cover - the owner opened the same file a moment ago
            return
        try:
            db.execute("PRAGMA busy_timeout=200")
            while not self._stop.wait(self._interval):
                commits = self._owner._commits
                if commits == self._seen:
                    continue
                self._seen = commits
                try:
                    _busy, wal_frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if wal_frames > self.restart_frames:
                        # Under steady writing this pass never quite catches up with the writer, so
                        # the WAL would never start over: ask the writer to copy the last few frames.
                        self._owner._catch_up_wanted = True
                except sqlite3.Error:  # busy or locked: try again next time
                    pass
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
