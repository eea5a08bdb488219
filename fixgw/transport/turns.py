"""The event loop's next turn, for work that should run once per turn: a store's group commit.

``next_turn_scheduler()`` returns the running loop's way to run a plain callback at its next turn
(asyncio's ``loop.call_soon``, trio's ``run_sync_soon``). Whatever is scheduled during one turn runs
before the callbacks of I/O that completes later, so a store that defers its commit to it commits
everything the turn did in one transaction (``SqliteMessageStore.defer_commits``).
"""

from __future__ import annotations

import asyncio
from typing import Callable

__all__ = ["next_turn_scheduler"]


def next_turn_scheduler() -> Callable[[Callable[[], None]], object]:
    """Return a function that runs a callback at the running event loop's next turn (call from the loop)."""
    try:
        return asyncio.get_running_loop().call_soon
    except RuntimeError:  # not asyncio: trio, if that is what runs
        pass
    try:  # pragma: no cover - the gateway runs on asyncio
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    except (ImportError, RuntimeError) as exc:  # pragma: no cover
        raise RuntimeError("next_turn_scheduler() needs a running asyncio or trio event loop") from exc
