"""The bridge stream's event ids on a journal several gateway nodes share (``fixgw.gateway._feed``,
``fixgw.stores.journal_postgres``): gap-free and increasing across nodes, the same on every node, so a
stream client resuming with ``since=<id>`` on the node that took the session over misses nothing and gets
nothing twice. (Here, not under tests/bridge, for the PostgreSQL fixtures of this folder.)
"""

from __future__ import annotations

from typing import Any

import pytest
from test_postgres_failover_standby import _node, sim  # noqa: F401  (sim: a fixture)

from fixgw.orders import OrderSubmitted
from fixgw.orders.events import OrderAccepted


def _event(order_id: str) -> OrderSubmitted:  # (an event: it carries an ExecType)
    return OrderSubmitted(order_id=order_id, ts_ns=1)


def test_shared_event_ids_two_writers_gap_free_in_commit_order_rollback_takes_none(pg_dsn):
    from fixgw.stores.journal_postgres import SharedEvents
    from fixgw.stores.postgres import PostgresMessageStore

    with PostgresMessageStore(pg_dsn) as a, PostgresMessageStore(pg_dsn) as b:
        ja, jb = a.journal("A_44"), b.journal("B_44")
        ja.append(_event("A_44-1"))
        ja.append(OrderAccepted(order_id="A_44-1", ts_ns=2, venue_order_id="v1"))
        jb.append(_event("B_44-1"))
        b.commit()  # B commits first: its event has the first id
        a.commit()
        doomed = PostgresMessageStore(pg_dsn)
        doomed.journal("C_44").append(_event("C_44-1"))
        doomed.abandon()  # never committed: takes no id
        ja.append(_event("A_44-2"))
        a.commit()
        source = SharedEvents(pg_dsn)
        try:
            got = [(i, account, order_id, type(r).__name__) for i, account, order_id, r in source.after(0)]
            assert source.last_id() == 4
            assert source.after(2) == source.after(0)[2:]
        finally:
            source.close()
    assert got == [(1, "B_44", "B_44-1", "OrderSubmitted"), (2, "A_44", "A_44-1", "OrderSubmitted"),
                   (3, "A_44", "A_44-1", "OrderAccepted"), (4, "A_44", "A_44-2", "OrderSubmitted")]


def test_shared_event_ids_commands_take_none(pg_dsn):
    from fixgw.orders.commands import CancelOrder
    from fixgw.stores.journal_postgres import SharedEvents, is_event
    from fixgw.stores.postgres import PostgresMessageStore

    command = CancelOrder(order_id="A_44-1", ts_ns=1, cl_ord_id="c2", orig_cl_ord_id="c1")
    assert not is_event(command) and is_event(_event("A_44-1"))
    with PostgresMessageStore(pg_dsn) as a:
        j = a.journal("A_44")
        j.append(_event("A_44-1"))
        j.append(command)
        j.append(_event("A_44-2"))
        a.commit()
        source = SharedEvents(pg_dsn)
        try:
            assert [(i, o) for i, _a, o, _r in source.after(0)] == [(1, "A_44-1"), (2, "A_44-2")]
        finally:
            source.close()


@pytest.mark.slow
def test_bridge_stream_resumed_since_on_the_node_that_took_over_misses_nothing_no_duplicate(sim, pg_dsn):
    import anyio
    from bridge.bridge_helpers import KEYS, READ_SECRET

    from fixgw.bridge import AsyncBridgeClient, KeyRing
    from fixgw.bridge.launch import run_bridge
    from fixgw.config import BridgeConfig
    from fixgw.gateway import Gateway
    from gateway.fixclient import FixClient

    async def events(s: Any, count: int) -> list[dict[str, Any]]:
        got = []
        with anyio.fail_after(10):
            while len(got) < count:
                m = await s.recv()
                if m["type"] == "event":
                    got.append(m)
        return got

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        a, b = Gateway(_node(sim, pg_dsn, "A")), Gateway(_node(sim, pg_dsn, "B"))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        async with anyio.create_task_group() as tg:
            bridge_a = await tg.start(run_bridge, a, BridgeConfig(port=0), KeyRing(KEYS))
            await tg.start(a.run)
            bridge_b = await tg.start(run_bridge, b, BridgeConfig(port=0), KeyRing(KEYS))
            await tg.start(b.run)
            await client.connect(a.port)
            for cl in ("S1", "S2"):  # rest: submitted and accepted, on A
                await client.new_order(cl, "1", "0.5", price="90")
                await client.reports(cl, 1)
            async with AsyncBridgeClient(f"http://127.0.0.1:{bridge_a}", "reader", READ_SECRET, timeout=10) as r:
                async with r.stream("/v1/stream", params={"since": "0"}) as s:
                    await s.recv()
                    on_a = await events(s, 4)
            await client.logout()
            a.stop()  # its leases released: B takes the session at the next Logon
            with anyio.fail_after(10):
                while a._store is not None:
                    await anyio.sleep(0.05)
            await client.connect(b.port)
            await client.new_order("S3", "1", "0.5", price="90")
            await client.reports("S3", 1)
            async with AsyncBridgeClient(f"http://127.0.0.1:{bridge_b}", "reader", READ_SECRET, timeout=10) as r:
                async with r.stream("/v1/stream", params={"since": "2"}) as s:  # processed 1 and 2 on A
                    await s.recv()
                    resumed = await events(s, 4)
                    with anyio.move_on_after(0.5):  # and nothing more
                        extra = await events(s, 1)
                        pytest.fail(f"an event too many: {extra}")
            await client.logout()
            b.stop()
            tg.cancel_scope.cancel()
        return on_a, resumed

    on_a, resumed = anyio.run(main)
    assert [m["id"] for m in on_a] == [1, 2, 3, 4]
    assert [m["id"] for m in resumed] == [3, 4, 5, 6]
    assert [(m["kind"], m["order_id"]) for m in resumed[:2]] == [(m["kind"], m["order_id"]) for m in on_a[2:]]
    assert [m["kind"] for m in resumed[2:]] == ["OrderSubmitted", "OrderAccepted"]
    assert resumed[2]["order_id"] not in {m["order_id"] for m in on_a}
