"""MarketFeed without sockets: batching per interval and the update-id rules, as properties over
random market-maker steps, subscriptions and ticks (the socket path is in test_sim_market_streams)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sim_md_helpers import LocalBook

from fixgw.sim import MatchingEngine, default_instruments
from fixgw.sim.faults import Faults
from fixgw.sim.formats import depth_snapshot
from fixgw.sim.market import MarketFeed, parse_stream
from fixgw.sim.marketmaker import MarketMaker


class Collector:
    """Stands in for a connection's outbox: keeps what would be written."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def send_json(self, data: bytes) -> None:
        self.messages.append(json.loads(data))


def _setup(seed: int) -> tuple[MatchingEngine, MarketMaker, MarketFeed]:
    engine = MatchingEngine(default_instruments(), seed=seed)
    maker = MarketMaker(engine, seed=seed)
    maker.step(0)
    engine.drain_events()
    return engine, maker, MarketFeed(engine, Faults())


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), plan=st.lists(st.sampled_from(["step", "tick100", "tick1000"]), max_size=40))
def test_feed_diff_streams_rebuild_the_engine_book_at_every_tick(seed: int, plan: list[str]) -> None:
    engine, maker, feed = _setup(seed)
    fast, slow = Collector(), Collector()
    assert feed.subscribe(fast, "btcusdt@depth@100ms", False)  # type: ignore[arg-type]
    assert feed.subscribe(slow, "btcusdt@depth", False)  # type: ignore[arg-type]
    snapshot = depth_snapshot(engine, "BTCUSDT", 5000)
    books = {id(fast): LocalBook(snapshot), id(slow): LocalBook(snapshot)}
    now = 1
    for action in plan + ["tick1000"]:
        now += 1
        if action == "step":
            maker.step(now)
            feed.on_events(engine.drain_events(), now)
            continue
        speeds = (100,) if action == "tick100" else (100, 1000)
        feed.tick(now, speeds)
        current = depth_snapshot(engine, "BTCUSDT", 5000)
        for c, speed in ((fast, 100), (slow, 1000)):
            book = books[id(c)]
            assert len(c.messages) <= (1 if speed in speeds else 0)  # one event per interval, at its end
            for ev in c.messages:
                book.apply(ev)
            c.messages.clear()
            assert not book.gap
            if speed in speeds:  # at the end of its interval a stream is up to date
                assert book.same_as(current) and book.last in (snapshot["lastUpdateId"], current["lastUpdateId"])


def test_feed_sends_at_most_one_event_per_interval_and_none_without_change() -> None:
    engine, maker, feed = _setup(3)
    out = Collector()
    feed.subscribe(out, "btcusdt@depth@100ms", False)  # type: ignore[arg-type]
    for now in range(1, 6):
        maker.step(now)
        feed.on_events(engine.drain_events(), now)
    feed.tick(10, (100,))
    feed.tick(11, (100,))
    assert len(out.messages) == 1 and out.messages[0]["u"] - out.messages[0]["U"] >= 4


def test_parse_stream_names_follow_the_venue_spelling() -> None:
    symbols = {"BTCUSDT": None}
    assert parse_stream("btcusdt@depth", symbols).speed_ms == 1000  # type: ignore[union-attr]
    assert parse_stream("btcusdt@depth20@100ms", symbols).levels == 20  # type: ignore[union-attr]
    assert parse_stream("btcusdt@aggTrade", symbols).kind == "aggTrade"  # type: ignore[union-attr]
    for bad in ("BTCUSDT@depth", "btcusdt@depth15", "btcusdt@aggtrade", "ethusdt@trade", "btcusdt@depth@10ms", ""):
        assert parse_stream(bad, symbols) is None
