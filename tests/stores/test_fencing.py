"""Per-session fencing (``PgWriter.fence`` with scopes, ``fixgw.gateway._ownership``): a commit checks the
fencing tokens of the sessions and journals it writes rows for, so a node that lost one session's lease to
another node is refused that session's writes while its other sessions go on."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from fixgw.errors import StoreError
from fixgw.orders import OrderSubmitted


def _expired_and_taken(pg_dsn: str, key: str) -> int:
    """Node B takes ``key`` once node A's short lease has run out; return B's token."""
    from fixgw.stores.lease import LeaseManager

    with LeaseManager(pg_dsn, "B", ttl=30) as b:
        deadline = time.monotonic() + 5
        while (lease := b.acquire(key)) is None:
            assert time.monotonic() < deadline, "A's lease never expired"
            time.sleep(0.05)
        return lease.token


def _fenced_store(pg_dsn: str):
    """Node A's store, fenced per session: S1's and S2's rows each under their own lease."""
    from fixgw.session import SessionID
    from fixgw.stores.journal_postgres import journal_scope
    from fixgw.stores.lease import LeaseManager, session_lease_key
    from fixgw.stores.postgres import PostgresMessageStore

    store = PostgresMessageStore(pg_dsn)
    sessions = {}
    with LeaseManager(pg_dsn, "A", ttl=0.3) as a:
        for name in ("S1", "S2"):
            sid = SessionID("FIX.4.4", "FIXGW", name)
            lease = a.acquire(session_lease_key(sid))
            assert lease is not None
            store.fence(lease.key, lease.token, {lease.key, journal_scope(name)})
            sessions[name] = (store.session_store(sid), store.journal(name), lease.key)
    return store, sessions


def test_fencing_lease_lost_for_one_session_other_sessions_commits_go_on(pg_dsn):
    store, sessions = _fenced_store(pg_dsn)
    try:
        _expired_and_taken(pg_dsn, sessions["S1"][2])
        s2, j2, _ = sessions["S2"]
        s2.save_outbound(1, b"to S2")
        j2.append(OrderSubmitted(order_id="S2-1", ts_ns=1))
        store.commit()  # S2's rows only: S2's token is still current
        assert s2.fetch(1, 1) == [(1, b"to S2")]
        assert [type(r).__name__ for _, r in j2.records()] == ["OrderSubmitted"]
    finally:
        store.close()


@pytest.mark.parametrize("which", ["session", "journal"])
def test_fencing_lease_lost_rows_of_that_session_refused(pg_dsn, which):
    store, sessions = _fenced_store(pg_dsn)
    _expired_and_taken(pg_dsn, sessions["S1"][2])
    s1, j1, key = sessions["S1"]
    if which == "session":
        s1.save_outbound(1, b"to S1, after the takeover")
    else:
        j1.append(OrderSubmitted(order_id="S1-1", ts_ns=1))
    sessions["S2"][0].save_outbound(1, b"to S2, in the same commit")
    with pytest.raises(StoreError, match="fenced: the lease of session:FIX.4.4:FIXGW:S1"):
        store.commit()
    store.abandon()


def test_fencing_unscoped_fence_and_row_of_no_scope_check_every_lease(pg_dsn):
    from fixgw.stores.lease import LeaseManager
    from fixgw.stores.postgres import PostgresMessageStore

    with LeaseManager(pg_dsn, "A", ttl=0.3) as a:
        lease = a.acquire("account:sim:old")
    store = PostgresMessageStore(pg_dsn)
    store.fence(lease.key, lease.token)  # no scopes: checked by every commit
    _expired_and_taken(pg_dsn, lease.key)
    store.journal("S2").append(OrderSubmitted(order_id="S2-1", ts_ns=1))
    with pytest.raises(StoreError, match="fenced"):
        store.commit()
    store.abandon()


@pytest.mark.slow
def test_fencing_gateway_session_taken_away_others_keep_trading_it_is_disconnected(pg_dsn):
    import anyio
    import psycopg

    from fixgw.config import build_config
    from fixgw.gateway import Gateway
    from fixgw.sim import ApiKey, LimitConfig, SimConfig, SimServer
    from fixgw.stores.lease import session_lease_key
    from gateway.fixclient import FixClient

    server = SimServer(SimConfig(
        market_maker=None, api_keys=(ApiKey(api_key="fk-" + "0" * 20, account_id="gw", secret="fs-" + "1" * 40),),
        limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000)))
    server.start()
    session = {"begin_string": "FIX.4.4", "sender_comp_id": "FIXGW", "venue": "sim", "account": "demo",
               "username": "demo", "password_env": "PW"}
    config = build_config({
        "gateway": {"port": 0},
        "store": {"kind": "postgres", "dsn_env": "PG"},
        "cluster": {"node_id": "A", "lease_ttl": 1.5, "advertise": "127.0.0.1:1"},
        "venues": [{"name": "sim", "kind": "binance", "rest_url": server.base_url, "ws_url": server.ws_api_url,
                    "api_key_env": "K", "api_secret_env": "S"}],
        "sessions": [dict(session, target_comp_id="ONE"), dict(session, target_comp_id="TWO")],
    }, environ={"PG": pg_dsn, "K": "fk-" + "0" * 20, "S": "fs-" + "1" * 40, "PW": "demo"})

    async def main() -> Any:
        a = Gateway(config)
        one, two = FixClient("FIX.4.4", "ONE", "FIXGW"), FixClient("FIX.4.4", "TWO", "FIXGW")
        async with anyio.create_task_group() as tg:
            await tg.start(a.run)
            await one.connect(a.port)
            await two.connect(a.port)
            sid_one = next(s for s in a._router.sessions if s.target_comp_id == "ONE")
            with psycopg.connect(pg_dsn, autocommit=True) as db:  # node B takes ONE: a newer token
                db.execute("UPDATE fixgw_leases SET holder = 'B', token = token + 1,"
                           " expires_at = clock_timestamp() + interval '1 minute' WHERE owner_key = %s",
                           (session_lease_key(sid_one),))
            await two.new_order("T1", "1", "0.5", price="90")  # before A noticed: TWO's commits go on
            (new,) = await two.reports("T1", 1)
            with anyio.fail_after(10):  # A's renewal finds the newer token: ONE is dropped
                while a.handle(sid_one).is_connected:
                    await anyio.sleep(0.05)
            await two.new_order("T2", "1", "0.5", price="90")  # and after
            await two.reports("T2", 1)
            assert new[39] == b"0" and a._store is not None
            await two.logout()
            a.stop()
        return new

    try:
        new = anyio.run(main)
    finally:
        server.stop()
    assert Decimal(new[38].decode()) == Decimal("0.5")
