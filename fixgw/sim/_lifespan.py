"""The lifespan every simulator app shares: background loops while it serves, connections closed after.

While the app serves, the market maker steps every ``maker_interval_s`` (when the state has one and
an interval), and, for the apps that publish market data, 100 ms and 1000 ms market-data intervals
end on time. On shutdown the loops are cancelled and every open connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Callable

from .state import SimState

__all__ = ["serving_lifespan"]


def serving_lifespan(state: SimState, *, market_ticks: bool = False) -> Callable[[Any], Any]:
    """Return the app's lifespan over ``state``; ``market_ticks`` also runs the market-data interval loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        interval = state.config.maker_interval_s
        if state.maker is not None and interval:
            tasks.append(asyncio.create_task(_maker_loop(state, interval)))
        if market_ticks:
            tasks.append(asyncio.create_task(_market_loop(state)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for outbox in list(state.connections):
                outbox.close()

    return lifespan


async def _market_loop(state: SimState) -> None:
    """End a 100 ms market-data interval every 100 ms, and a 1000 ms one every tenth time."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while True:
        n += 1
        wait = start + n * 0.1 - loop.time()
        if wait < -0.1:  # a busy loop fell behind: start afresh rather than firing ticks back to back
            start, wait = loop.time() - n * 0.1, 0.0
        await asyncio.sleep(max(0.0, wait))
        state.tick_market((100, 1000) if n % 10 == 0 else (100,))


async def _maker_loop(state: SimState, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        state.step_market_maker()
