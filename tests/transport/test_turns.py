"""The next-turn scheduler a store's group commit runs on."""

from __future__ import annotations

import anyio
import pytest

from fixgw.transport import next_turn_scheduler


def test_next_turn_scheduler_runs_the_callback_after_this_turn_once() -> None:
    ran: list[str] = []

    async def main() -> list[str]:
        schedule = next_turn_scheduler()
        schedule(lambda: ran.append("flush"))
        ran.append("rest of the turn")
        await anyio.sleep(0)
        await anyio.sleep(0)
        return list(ran)

    assert anyio.run(main) == ["rest of the turn", "flush"]


def test_next_turn_scheduler_without_a_running_loop_is_refused() -> None:
    with pytest.raises(RuntimeError, match="running asyncio or trio event loop"):
        next_turn_scheduler()
