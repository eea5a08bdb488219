"""Helpers of the simulator's market-data tests: orders placed in one loop turn, stream readers and a
local book kept by the venue's documented snapshot + diff procedure."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Callable, Iterator

import httpx
import pytest

from websockets.sync.client import ClientConnection

from fixgw.sim import DEMO_ACCOUNT, SimConfig, SimServer
from fixgw.sim.model import NewOrder
from sim_helpers import module_sim_fixture

D = Decimal


def place(sim: SimServer, *orders: tuple[str, str, str, str | None], symbol: str = "BTCUSDT") -> int:
    """Place ``(side, type, qty, price)`` orders in one turn of the server's loop; returns the book's id."""

    def run(st: Any) -> int:
        now = st.now_ms()
        for side, kind, qty, price in orders:
            st.engine.place(DEMO_ACCOUNT, NewOrder(symbol, side, kind, D(qty), D(price) if price else None,
                                                   "GTC" if kind == "LIMIT" else None), now)
        st.publish()
        return int(st.engine.books[symbol].update_id)

    return sim.call(run)


def top(sim: SimServer, symbol: str = "BTCUSDT") -> tuple[Decimal, Decimal, Decimal]:
    """Best bid, best ask and tick size of ``symbol``."""
    def run(st: Any) -> tuple[Decimal, Decimal, Decimal]:
        book = st.engine.books[symbol]
        return book.best("BUY"), book.best("SELL"), st.engine.instruments[symbol].tick_size

    return sim.call(run)


def update_id(sim: SimServer, symbol: str = "BTCUSDT") -> int:
    return sim.call(lambda st: int(st.engine.books[symbol].update_id))


def recv_until(ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10,
               limit: int = 200) -> list[dict[str, Any]]:
    """Messages (unwrapped from the combined form) until ``done(messages)``."""
    out: list[dict[str, Any]] = []
    for _ in range(limit):
        msg = json.loads(ws.recv(timeout=timeout))
        out.append(msg["data"] if "stream" in msg and "data" in msg else msg)
        if done(out):
            return out
    raise AssertionError(f"condition not met after {limit} messages")


def until_id(target: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda msgs: bool(msgs) and msgs[-1].get("u", -1) >= target


class LocalBook:
    """A book kept by the venue's procedure: snapshot, drop ``u <= lastUpdateId``, first event
    straddles, then ``U = previous u + 1``; ``gap`` is set when the ids do not follow."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.last = snapshot["lastUpdateId"]
        self.bids = {D(p): D(q) for p, q in snapshot["bids"]}
        self.asks = {D(p): D(q) for p, q in snapshot["asks"]}
        self.started = False
        self.gap = False

    def apply(self, ev: dict[str, Any]) -> None:
        if ev["u"] <= self.last:
            return  # older than the book
        if not self.started:
            assert ev["U"] <= self.last + 1 <= ev["u"], (ev["U"], ev["u"], self.last)
            self.started = True
        elif ev["U"] != self.last + 1:
            self.gap = True
            return
        for side, levels in ((self.bids, ev["b"]), (self.asks, ev["a"])):
            for p, q in levels:
                if D(q) == 0:
                    side.pop(D(p), None)
                else:
                    side[D(p)] = D(q)
        self.last = ev["u"]

    def same_as(self, snapshot: dict[str, Any]) -> bool:
        return (self.bids == {D(p): D(q) for p, q in snapshot["bids"]}
                and self.asks == {D(p): D(q) for p, q in snapshot["asks"]})


def module_sim(seed: int) -> Any:
    """A module-scoped fixture: a simulator without a market maker (the tests place every order)."""
    return module_sim_fixture(lambda: SimServer(SimConfig(seed=seed, maker_interval_s=None)).start())


@pytest.fixture
def http(sim: SimServer) -> Iterator[httpx.Client]:
    """A REST client on the module's simulator, with every fault off before and after the test."""
    sim.reset_faults()
    with httpx.Client(base_url=sim.base_url, timeout=10) as c:
        yield c
    sim.reset_faults()
