"""Venue faults end to end: FIX client -> gateway -> simulated exchange with a fault switched on.

For every fault the same truths are checked (``assert_truth``): one venue order per order that
reached the venue, the client's last ExecutionReport states what the venue holds (OrdStatus and
CumQty), the fills reported add up to CumQty (no fill lost or doubled), and ExecIDs are unique.

The adapter is the real Binance adapter with short timeouts and backoffs (``fast_adapter``), so
each fault plays out in a second or two instead of the production defaults' ten.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from decimal import Decimal
from typing import Any, AsyncIterator, Iterator

import anyio
import pytest

from fixgw.codec import Message
from fixgw.config import Config, VenueConfig
from fixgw.gateway import Gateway
from fixgw.sim import ApiKey, LimitConfig, NewOrder, SimConfig, SimServer
from fixgw.venues.base import StreamState
from fixgw.venues.binance import BinanceAdapter, BinanceConfig

from .conftest import API_KEY, API_SECRET, COUNTERPARTY, gateway_config, place
from .fixclient import FixClient, dec

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

D = Decimal
ACCOUNT = "gw"
FILL_TYPES = (b"F", b"1", b"2")
VENUE_TO_FIX = {"NEW": b"0", "PARTIALLY_FILLED": b"1", "FILLED": b"2", "CANCELED": b"4", "EXPIRED": b"C",
                "REJECTED": b"8"}
BAN_SECONDS = 2


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """The simulator, banning after three 429s in a minute, for BAN_SECONDS (the venue: minutes)."""
    cfg = SimConfig(
        market_maker=None,
        api_keys=(ApiKey(api_key=API_KEY, account_id=ACCOUNT, secret=API_SECRET),),
        limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000,
                           ban_after=3, ban_seconds=BAN_SECONDS),
    )
    with SimServer(cfg) as server:
        server.call(lambda st: st.engine.add_account(COUNTERPARTY, {"BTC": D(1000), "USDT": D(10**9)}))
        yield server


def fast_adapter(venue: VenueConfig) -> BinanceAdapter:
    """The production adapter with test-sized timeouts (1 s per request) and reconnect backoffs."""
    cfg = BinanceConfig.from_venue_config(
        venue, order_entry=venue.order_entry, orders_per_10s=1_000_000, weight_limit_per_minute=1_000_000,
        request_timeout_s=1.0, unknown_outcome_wait_s=3.0, unknown_poll_s=0.1,
        ws_backoff_base_s=0.05, ws_backoff_cap_s=0.3,
    )
    return BinanceAdapter(cfg, maintenance_interval_s=0.1)


@contextlib.asynccontextmanager
async def gateway_and_client(sim: SimServer, *, order_entry: str = "ws") -> AsyncIterator[tuple[Gateway, FixClient]]:
    config: Config = gateway_config(sim).with_venue("sim", order_entry=order_entry)
    gw = Gateway(config, adapter_factory=fast_adapter)
    async with anyio.create_task_group() as tg:
        await tg.start(gw.run)
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port)
        try:
            yield gw, c
        finally:
            await c.close()
            gw.stop()


def adapter(gw: Gateway) -> BinanceAdapter:
    ad = gw.venue("sim")
    assert isinstance(ad, BinanceAdapter)
    return ad


# -- the truths ------------------------------------------------------------------------------------


def venue_orders(sim: SimServer) -> dict[str, list[tuple[str, Decimal]]]:
    """client order id -> [(status, executed qty)] of every order of the gateway's account."""
    def run(st: Any) -> dict[str, list[tuple[str, Decimal]]]:
        out: dict[str, list[tuple[str, Decimal]]] = {}
        for orders in st.engine.orders.values():
            for o in orders.values():
                if o.account_id == ACCOUNT:
                    out.setdefault(o.client_order_id, []).append((o.status, o.executed_qty))
        return out
    return sim.call(run)


def reports_by_order(c: FixClient) -> dict[bytes, list[Message]]:
    out: dict[bytes, list[Message]] = {}
    for m in c.inbox:
        if m.msg_type == b"8":
            out.setdefault(m[37], []).append(m)
    return out


def order_id_of(c: FixClient, cl: str) -> bytes:
    return next(m[37] for m in c.inbox if m.msg_type == b"8" and m.get(11) == cl.encode())


def _mismatches(c: FixClient, sim: SimServer, cls: list[str]) -> list[str]:
    venue = venue_orders(sim)
    by_order = reports_by_order(c)
    problems = []
    for cl in cls:
        if not any(m.msg_type == b"8" and m.get(11) == cl.encode() for m in c.inbox):
            problems.append(f"{cl}: no report yet")
            continue
        oid = order_id_of(c, cl)
        last = by_order[oid][-1]
        at_venue = venue.get(oid.decode(), [])
        if not at_venue:
            if last[39] != b"8":
                problems.append(f"{cl}: not at the venue but reported {last[39]!r}")
            continue
        status, executed = at_venue[-1]
        if (last[39], dec(last, 14)) != (VENUE_TO_FIX[status], executed):
            problems.append(f"{cl}: reported {last[39]!r}/{dec(last, 14)}, venue {status}/{executed}")
    return problems


async def assert_truth(c: FixClient, sim: SimServer, cls: list[str], *, timeout: float = 8.0) -> None:
    """Wait until every order's last report agrees with the venue, then check every invariant."""
    with anyio.move_on_after(timeout):
        while _mismatches(c, sim, cls):
            await c.pump(0.1)
    await c.pump(0.3)  # anything late (a doubled fill) arrives now, not after the checks
    assert _mismatches(c, sim, cls) == []
    venue = venue_orders(sim)
    ours = {order_id_of(c, cl).decode() for cl in cls}
    assert set(venue) <= ours, f"orders at the venue the client never sent: {set(venue) - ours}"
    assert all(len(v) == 1 for v in venue.values()), f"one venue order per client order id: {venue}"
    all_reports = [m for m in c.inbox if m.msg_type == b"8"]
    exec_ids = Counter(m[17] for m in all_reports)
    assert [e for e, n in exec_ids.items() if n > 1] == []
    for oid, reports in reports_by_order(c).items():
        cum = D(0)
        for m in reports:
            if m[150] in FILL_TYPES:
                cum += dec(m, 32)
                assert dec(m, 14) == cum, f"{oid!r}: CumQty {dec(m, 14)} after fills adding to {cum}"
        assert dec(reports[-1], 14) == cum


# -- 429 storm and 418 ban ---------------------------------------------------------------------------


@pytest.mark.parametrize("order_entry", ["ws", "rest"])
async def test_venue_fault_429_storm_each_order_placed_once_and_acknowledged(sim: SimServer,
                                                                           order_entry: str) -> None:
    async with gateway_and_client(sim, order_entry=order_entry) as (gw, c):
        sim.set_faults(rate_limit_burst=2, rate_limit_retry_after_s=1)
        cls = [f"S{i}" for i in range(3)]
        for cl in cls:
            await c.new_order(cl, "1", "0.01", price="50000")
        await assert_truth(c, sim, cls)
        assert all(status == "NEW" for [(status, _)] in venue_orders(sim).values())
        assert adapter(gw).limiter.rate_limited_count == 2
        assert sim.call(lambda st: st.faults.rate_limit_burst) == 0


async def test_venue_fault_429_storm_into_418_ban_rejects_clearly_then_recovers(sim: SimServer) -> None:
    async with gateway_and_client(sim) as (gw, c):
        sim.set_faults(rate_limit_burst=3, rate_limit_retry_after_s=1)  # 429, 429, then the ban
        await c.new_order("B1", "1", "0.01", price="50000")
        (rej,) = await c.reports("B1", 1, timeout=8)
        assert rej[39] == b"8" and b"banned" in rej[58]
        assert adapter(gw).health().banned_until_ns is not None
        await c.new_order("B2", "1", "0.01", price="50000")  # refused here: nothing reaches the venue
        (rej2,) = await c.reports("B2", 1)
        assert rej2[39] == b"8"
        await anyio.sleep(BAN_SECONDS + 0.2)
        await c.new_order("B3", "1", "0.01", price="50000")
        await assert_truth(c, sim, ["B1", "B2", "B3"])
        assert list(venue_orders(sim).values()) == [[("NEW", D(0))]]


async def test_venue_fault_418_ban_refuses_orders_cancels_and_replaces_until_retry_after(sim: SimServer) -> None:
    async with gateway_and_client(sim) as (gw, c):
        await c.new_order("R1", "1", "0.02", price="50000")
        await c.reports("R1", 1)
        sim.set_faults(ban_seconds=BAN_SECONDS)
        await c.new_order("N1", "1", "0.01", price="50000")
        (rej,) = await c.reports("N1", 1)
        assert rej[39] == b"8" and b"banned" in rej[58]
        await c.cancel("X1", "R1", "1")
        cxl = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"X1", timeout=5)
        assert cxl[39] == b"0"  # the order still works at the venue, and the client is told so
        await c.replace("P1", "R1", "1", "0.03", "50001")
        rpl = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"P1", timeout=5)
        assert rpl[39] == b"0"
        await anyio.sleep(BAN_SECONDS + 0.2)
        await c.cancel("X2", "R1", "1")
        await c.new_order("N2", "1", "0.01", price="50000")
        await assert_truth(c, sim, ["R1", "N1", "N2"])
        assert [s for [(s, _)] in venue_orders(sim).values()] == ["CANCELED", "NEW"]


# -- WebSocket connections dropped mid-fill ----------------------------------------------------------


async def test_venue_fault_user_stream_dropped_mid_fill_fills_recovered_once(sim: SimServer) -> None:
    async with gateway_and_client(sim) as (gw, c):
        await c.new_order("U1", "1", "0.3", price="60000")
        await c.reports("U1", 1)
        sim.set_faults(drop_user_streams_after=1)  # the first fill's event is lost with the connection
        place(sim, "SELL", "0.1", "60000")
        place(sim, "SELL", "0.1", "60000")  # while the stream reconnects
        with anyio.fail_after(5):
            while adapter(gw).stream.ws.reconnects == 0:
                await anyio.sleep(0.02)
        place(sim, "SELL", "0.1", "60000")
        await assert_truth(c, sim, ["U1"])
        assert [(s, q) for [(s, q)] in venue_orders(sim).values()] == [("FILLED", D("0.3"))]
        assert len([m for m in c.exec_reports("U1") if m[150] in FILL_TYPES]) == 3


@pytest.mark.parametrize(("order_entry", "mode"), [("ws", "drop"), ("ws", "drop_all"), ("rest", "drop_all")])
async def test_venue_fault_connection_dropped_mid_sweep_fills_reported_once(sim: SimServer, order_entry: str,
                                                                           mode: str) -> None:
    async with gateway_and_client(sim, order_entry=order_entry) as (gw, c):
        for px in ("60000", "60010", "60020"):
            place(sim, "SELL", "0.1", px)
        sim.set_faults(order_timeouts=1, order_timeout_mode=mode)
        await c.new_order("M1", "1", "0.25")
        await assert_truth(c, sim, ["M1"])
        assert sim.call(lambda st: st.faults.order_timeouts) == 0  # the answer was indeed lost
        if mode == "drop_all":
            assert adapter(gw).stream.ws.reconnects >= 1
        fills = [m for m in c.exec_reports("M1") if m[150] in FILL_TYPES]
        assert sum((dec(m, 32) for m in fills), D(0)) == D("0.25")
        assert dec(fills[-1], 6) == D("60008")
        await c.new_order("M2", "1", "0.01", price="50000")  # the gateway goes on working
        await assert_truth(c, sim, ["M1", "M2"])


# -- the answer never comes --------------------------------------------------------------------------


@pytest.mark.parametrize("order_entry", ["ws", "rest"])
async def test_venue_fault_answer_never_comes_order_exists_reported_once(sim: SimServer, order_entry: str) -> None:
    async with gateway_and_client(sim, order_entry=order_entry) as (gw, c):
        sim.set_faults(order_timeouts=1, order_timeout_mode="hang", hang_seconds=3.0)  # > the 1 s timeout
        await c.new_order("H1", "1", "0.2", price="60000")
        (new,) = await c.reports("H1", 1, timeout=5)
        assert new[39] == b"0"
        place(sim, "SELL", "0.2", "60000")
        await assert_truth(c, sim, ["H1"])
        assert [s for [(s, _)] in venue_orders(sim).values()] == ["FILLED"]


# -- the venue's clock 5 s away ----------------------------------------------------------------------


@pytest.mark.parametrize("order_entry", ["ws", "rest"])
@pytest.mark.parametrize("skew_ms", [5200, -5000])  # ahead: a little past the default 5 s receive window
async def test_venue_fault_clock_skew_5s_signed_requests_accepted(sim: SimServer, skew_ms: int,
                                                                  order_entry: str) -> None:
    async with gateway_and_client(sim, order_entry=order_entry) as (gw, c):
        await c.new_order("K1", "1", "0.1", price="60000")
        await c.reports("K1", 1)
        sim.set_faults(clock_skew_ms=skew_ms)
        sim.drop_websockets()  # the stream resubscribes with a signed request, on the skewed clock
        place(sim, "SELL", "0.1", "60000")
        await assert_truth(c, sim, ["K1"])  # the fill arrives before any order of ours resyncs the clock
        await c.new_order("K2", "1", "0.01", price="50000")
        await assert_truth(c, sim, ["K1", "K2"])
        assert abs(adapter(gw).server_clock.offset_ms - skew_ms) < 1000
        assert adapter(gw).stream.state is StreamState.SUBSCRIBED


# -- duplicated and reordered user-data events -------------------------------------------------------


@pytest.mark.parametrize("order_entry", ["ws", "rest"])
async def test_venue_fault_duplicated_reordered_events_no_double_or_lost_fills(sim: SimServer,
                                                                               order_entry: str) -> None:
    async with gateway_and_client(sim, order_entry=order_entry) as (gw, c):
        sim.set_faults(duplicate_events=True, reorder_events=True)
        for px in ("60000", "60010", "60020"):
            place(sim, "SELL", "0.1", px)
        await c.new_order("E1", "1", "0.25")  # three fills in one operation, sent backwards, twice
        await c.new_order("E2", "1", "0.2", price="59000")
        await c.new_order("E3", "1", "0.2", price="58990")
        await c.reports("E2", 1)
        await c.reports("E3", 1)
        place(sim, "SELL", "0.3", None)  # one sweep through both resting orders
        await assert_truth(c, sim, ["E1", "E2", "E3"])
        assert sorted((s, q) for [(s, q)] in venue_orders(sim).values()) == [
            ("FILLED", D("0.2")), ("FILLED", D("0.25")), ("PARTIALLY_FILLED", D("0.1"))]


# -- a fill whose events the venue's stream lost -------------------------------------------------------


def place_unseen(sim: SimServer, side: str, qty: str, price: str) -> None:
    """A counterparty order that trades, its stream events lost: only a query finds the trade."""
    req = NewOrder(symbol="BTCUSDT", side=side, type="LIMIT", quantity=D(qty), price=D(price),
                   time_in_force="GTC")

    def run(st: Any) -> None:
        st.engine.place(COUNTERPARTY, req, st.now_ms())
        st.engine.drain_events()  # never published: the user-data stream says nothing

    sim.call(run)


async def test_venue_fault_cancel_refused_as_unknown_order_filled_meanwhile_answered_filled(sim: SimServer) -> None:
    async with gateway_and_client(sim) as (gw, c):
        await c.new_order("Q1", "1", "0.2", price="60000")
        await c.reports("Q1", 1)
        place_unseen(sim, "SELL", "0.2", "60000")
        await c.cancel("Q2", "Q1", "1")  # the venue: "Unknown order sent." (the order is filled)
        answer = await c.wait_for(lambda m: m.msg_type == b"9" and m.get(11) == b"Q2", timeout=10)
        assert (answer[39], answer[58]) == (b"2", b"order is filled")
        fills = [m for m in c.exec_reports("Q1") if m[150] in FILL_TYPES]
        assert [(m[39], dec(m, 32), dec(m, 14)) for m in fills] == [(b"2", D("0.2"), D("0.2"))]
        assert c.inbox.index(fills[0]) < c.inbox.index(answer)  # the fill first, then the answer
        await assert_truth(c, sim, ["Q1"])
    assert [s for [(s, _)] in venue_orders(sim).values()] == ["FILLED"]
