"""Fixtures of the simulator tests: an engine without I/O and a server on a free loopback port."""

from __future__ import annotations

from decimal import Decimal
from typing import Iterator

import pytest
from sim_helpers import SignedClient

from fixgw.sim import MatchingEngine, SimConfig, SimServer, default_instruments


@pytest.fixture
def engine() -> MatchingEngine:
    eng = MatchingEngine(default_instruments(), seed=7)
    for name in ("alice", "bob", "carol"):
        eng.add_account(name, {"USDT": Decimal("10000000"), "BTC": Decimal("100"), "ETH": Decimal("1000")})
    return eng


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(seed=3, maker_interval_s=None))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(sim: SimServer) -> Iterator[SignedClient]:
    sim.reset_faults()
    c = SignedClient(sim.base_url)
    try:
        yield c
    finally:
        c.close()
