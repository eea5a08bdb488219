"""Keep the garbage collector's full passes short while the books grow.

A book keeps every order it has seen, so the heap grows with each order and CPython's full collection
(which walks every tracked object) grows with it: tens to hundreds of milliseconds after some ten
thousand orders, long enough for every request of that moment to wait. ``keep_heap_settled`` collects
and then freezes the heap (``gc.freeze``) once at start-up and every ``interval`` seconds after: a
frozen object is never walked again, so a collection only looks at what the last interval made. The
interval sets the pause: at 1,000 orders/s, 0.1 s (the default) keeps each one to a few milliseconds.

The cost: a reference cycle that becomes garbage after its objects were frozen is not reclaimed until
the gateway stops (it unfreezes then). The gateway's long-lived objects (books, sessions, connections)
live as long as the process; what a request makes and drops goes within the interval it was made in,
by the collection that precedes each freeze.
"""

from __future__ import annotations

import gc

import anyio

__all__ = ["settle_heap", "keep_heap_settled", "release_heap"]


def settle_heap() -> None:
    """Collect what is garbage now, then freeze the rest out of every later collection."""
    gc.collect()
    gc.freeze()


async def keep_heap_settled(interval: float) -> None:
    """Settle the heap every ``interval`` seconds until cancelled."""
    while True:
        await anyio.sleep(interval)
        settle_heap()


def release_heap() -> None:
    """Let the collector walk everything again (the gateway stopped)."""
    gc.unfreeze()
