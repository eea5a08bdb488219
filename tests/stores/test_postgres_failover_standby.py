"""A takeover after the venue moved while the new owner stood by (``fixgw.gateway._ownership``), without SIGKILL.

A standby node consumes its venue account's event stream like the owner does (both use the same API key),
so its venue adapter has seen, and marked as known, what the venue did to the owner's orders; its book is
empty, so it applied none of it. What the last owner never persisted must still reach the client once
the standby takes over: the order's New when the owner died between sending the order and journaling the
venue's acceptance, a fill the venue made while no node served the session. Two in-process gateways on
one PostgreSQL and the simulated venue act both out deterministically.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fixgw.sim import NewOrder, SimServer

from pg_gateway import node_config, running_sim

pytestmark = pytest.mark.slow

API_KEY = "sb-key-" + "0" * 20
API_SECRET = "sb-secret-" + "1" * 40
SYMBOL = "BTC/USDT"


@pytest.fixture
def sim():
    with running_sim(API_KEY, API_SECRET) as server:
        yield server


def _node(sim: SimServer, pg_dsn: str, node: str, ttl: float = 30.0):
    return node_config(sim, pg_dsn, API_KEY, API_SECRET, node=node, ttl=ttl)


def _sell(sim: SimServer, qty: str, price: str) -> None:
    def place(st: Any) -> None:
        st.engine.place("cp", NewOrder(symbol="BTCUSDT", side="SELL", type="LIMIT", quantity=Decimal(qty),
                                       price=Decimal(price), time_in_force="GTC"), st.now_ms())
        st.publish()

    sim.call(place)


def _venue_orders(sim: SimServer) -> list[Any]:
    def read(st: Any) -> list[Any]:
        return [o for orders in st.engine.orders.values() for o in orders.values() if o.account_id == "gw"]

    return list(sim.call(read))


async def _venue_order(sim: SimServer) -> Any:
    """The one order of the gateway's venue account, once the venue has it."""
    import anyio

    with anyio.fail_after(10):
        while not (orders := _venue_orders(sim)):
            await anyio.sleep(0.02)
    (order,) = orders
    return order


async def _seen_by(gateway: Any, cl: str, cum_qty: Decimal) -> None:
    """Wait until ``gateway``'s venue adapter has seen order ``cl`` at the venue with ``cum_qty`` executed."""
    import anyio

    tracker = gateway._venues["sim"].adapter.tracker
    with anyio.fail_after(10):
        while True:
            vid = tracker.venue_order_id(SYMBOL, cl)
            if vid is not None and tracker.report(SYMBOL, vid).cum_qty == cum_qty:
                return
            await anyio.sleep(0.02)


def _reports(client: Any, cl: bytes) -> list[Any]:
    return [m for m in client.inbox if m.msg_type == b"8" and m.get(11) == cl]


def test_takeover_fill_made_while_the_standby_stood_by_reaches_the_client_once(sim, pg_dsn):
    import anyio

    from fixgw.gateway import Gateway
    from gateway.fixclient import FixClient

    async def main() -> None:
        a, b = Gateway(_node(sim, pg_dsn, "A")), Gateway(_node(sim, pg_dsn, "B"))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        async with anyio.create_task_group() as tg:
            await tg.start(a.run)
            await tg.start(b.run)
            await client.connect(a.port)
            await client.new_order("F1", "1", "0.5", price="90")  # rests: nothing to trade with
            await client.wait_for(lambda m: m.msg_type == b"8" and m.get(11) == b"F1" and m.get(150) == b"0")
            await client.logout()
            a.stop()  # a clean stop: A's leases are free, B takes the session at the next Logon
            with anyio.fail_after(10):
                while a._store is not None:
                    await anyio.sleep(0.05)
            _sell(sim, "0.5", "90")  # the venue fills F1 while no node serves the session
            await _seen_by(b, (await _venue_order(sim)).client_order_id, Decimal("0.5"))  # B's stream saw the fill
            await client.connect(b.port)
            with anyio.fail_after(10):
                while not any(m.get(150) == b"F" for m in _reports(client, b"F1")):
                    await client.pump(0.1)
            await client.pump(0.3)  # nothing more comes for F1
            await client.logout()
            b.stop()

        reports = _reports(client, b"F1")
        assert [m[150] for m in reports] == [b"0", b"F"]  # its New from A, its fill from B, once each
        fill = reports[-1]
        assert (fill[39], Decimal(fill[14].decode()), Decimal(fill[32].decode())) == (b"2", Decimal("0.5"),
                                                                                     Decimal("0.5"))

    anyio.run(main)


def test_takeover_order_sent_whose_acceptance_the_owner_never_persisted_gets_its_new_once(sim, pg_dsn):
    import anyio
    import psycopg

    from fixgw.errors import StoreError
    from fixgw.gateway import Gateway
    from gateway.fixclient import FixClient

    async def main() -> None:
        a, b = Gateway(_node(sim, pg_dsn, "A")), Gateway(_node(sim, pg_dsn, "B"))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")

        a_ended = anyio.Event()

        async def run_a(*, task_status: Any) -> None:
            try:
                await a.run(task_status=task_status)
            except* StoreError:
                pass  # A's store refuses every write once A is fenced out (its last commit too)
            finally:
                a_ended.set()

        async with anyio.create_task_group() as tg:
            await tg.start(run_a)
            await tg.start(b.run)
            venue = a._venues["sim"]
            flush = venue.before_call

            def fence_out() -> None:
                with psycopg.connect(pg_dsn, autocommit=True) as db:
                    db.execute("UPDATE fixgw_leases SET token = token + 1, expires_at = clock_timestamp()"
                               " WHERE holder = 'A'")

            def fenced_out_after_the_order_is_sent() -> Any:
                # What a stalled owner sees: the order's PendingNew is durable and the order goes to the
                # venue, but meanwhile its leases expired and were taken (newer tokens): nothing it
                # writes after this commits, the venue's acceptance included.
                venue.before_call = flush
                waiting = flush()  # None once durable, else an awaitable (a store committing on a thread)
                if waiting is None:
                    fence_out()
                    return None

                async def durable_then_fenced_out() -> None:
                    await waiting
                    fence_out()

                return durable_then_fenced_out()

            await client.connect(a.port)
            venue.before_call = fenced_out_after_the_order_is_sent
            await client.new_order("N1", "1", "0.5", price="90")  # rests at the venue
            await _seen_by(b, (await _venue_order(sim)).client_order_id, Decimal(0))  # B's stream saw it accepted
            a.stop()  # (its store refuses every write already: what it holds in memory is lost with it)
            with anyio.fail_after(10):
                await a_ended.wait()
            await client.close()
            await client.connect(b.port)
            with anyio.fail_after(10):
                while not any(m.get(150) == b"0" for m in _reports(client, b"N1")):
                    await client.pump(0.1)
            await client.pump(0.3)
            await client.logout()
            b.stop()

        reports = _reports(client, b"N1")
        assert [(m[150], m[39]) for m in reports] == [(b"0", b"0")]  # its New, from B, once
        assert [o.status for o in _venue_orders(sim)] == ["NEW"]

    anyio.run(main)


def test_tracker_forget_then_query_reveals_acceptance_and_every_fill_again():
    from fixgw.orders.enums import OrderStatus
    from fixgw.venues._common.tracker import Fill, OrderTracker, OrderUpdate, UpdateKind
    from fixgw.venues.base import VenueAccepted, VenueFilled

    t = OrderTracker("binance")
    base = dict(symbol="S/Q", venue_order_id="1", client_order_id="a", ts_ns=1, quantity=Decimal("3"))
    t.observe(OrderUpdate(status=OrderStatus.NEW, kind=UpdateKind.NEW, cum_qty=Decimal(0), **base))
    t.observe(OrderUpdate(status=OrderStatus.PARTIALLY_FILLED, kind=UpdateKind.TRADE, cum_qty=Decimal(1),
                          fills=(Fill("t1", Decimal(1), Decimal(10)),), **base))
    query = OrderUpdate(status=OrderStatus.PARTIALLY_FILLED, kind=UpdateKind.SNAPSHOT, cum_qty=Decimal(1),
                        fills=(Fill("t1", Decimal(1), Decimal(10)),), **base)
    assert t.observe(query) == []  # all of it seen already: a query reveals nothing
    t.forget("S/Q", "b")  # not tracked: nothing happens
    t.forget("S/Q", "a")
    assert t.venue_order_id("S/Q", "a") is None and len(t) == 0
    again = t.observe(query)
    assert [type(e) for e in again] == [VenueAccepted, VenueFilled]
    assert again[1].trade_id == "t1" and again[1].cum_qty == Decimal(1)
