"""Fixtures of the bridge tests: one real uvicorn server on loopback per module, a fake clock it reads."""

from __future__ import annotations

from typing import Iterator

import pytest
from bridge_helpers import KEYS, START_NS, FakeView, RawSigner, add_test_routes

from fixgw.bridge import BridgeServer, create_app
from fixgw.clock import FakeClock


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(START_NS)


@pytest.fixture(scope="module")
def view() -> FakeView:
    return FakeView()


@pytest.fixture(scope="module")
def server(clock: FakeClock, view: FakeView) -> Iterator[BridgeServer]:
    app = create_app(view, KEYS, window=10.0, clock=clock, max_body=4096, replay_capacity=1000)
    add_test_routes(app)
    with BridgeServer(app) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_time(request: pytest.FixtureRequest) -> None:
    # Each test starts a minute after the last: the replay cache forgets what earlier tests sent,
    # and the clock only moves forward (the cache refuses a clock stepping back).
    if "clock" in request.fixturenames:
        request.getfixturevalue("clock").advance(60)


@pytest.fixture(autouse=True)
def _reset_view(request: pytest.FixtureRequest) -> None:
    if "view" in request.fixturenames:
        v = request.getfixturevalue("view")
        v.listening = True
        v.venues = (("binance", True),)


@pytest.fixture
def raw(server: BridgeServer, clock: FakeClock) -> Iterator[RawSigner]:
    signer = RawSigner(server.base_url, clock)
    try:
        yield signer
    finally:
        signer.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
