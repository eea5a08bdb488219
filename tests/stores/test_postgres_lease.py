"""Leases with fencing tokens (``fixgw.stores.lease``): two connections act as two gateway nodes."""

from __future__ import annotations

import os
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if not os.environ.get("CI"):  # without psycopg these skip; CI must run them (the test extra brings psycopg)
    pytest.importorskip("psycopg", reason="psycopg is not installed")
import psycopg  # noqa: E402

from fixgw.errors import StoreError  # noqa: E402
from fixgw.session import SessionID  # noqa: E402
from fixgw.stores.lease import (  # noqa: E402
    LeaseLost,
    LeaseManager,
    account_lease_key,
    new_node_id,
    session_lease_key,
)
from fixgw.stores.postgres import PostgresMessageStore  # noqa: E402

SID = SessionID("FIX.4.4", "GATEWAY", "CLIENT")
KEY = session_lease_key(SID)


@pytest.fixture
def nodes(pg_dsn):
    a = LeaseManager(pg_dsn, "node-a", ttl=30)
    b = LeaseManager(pg_dsn, "node-b", ttl=30)
    yield a, b
    a.close()
    b.close()


def test_lease_held_by_one_node_refused_to_the_other_which_is_told_the_owner(nodes):
    a, b = nodes
    lease = a.acquire(KEY)
    assert lease is not None and lease.token == 1 and lease.holder == "node-a"
    assert b.acquire(KEY) is None
    owner = b.owner(KEY)
    assert (owner.holder, owner.token, owner.live) == ("node-a", 1, True)
    assert b.owner(account_lease_key("binance", "acct")) is None


def test_lease_expired_is_taken_over_with_a_newer_token_and_the_old_owner_loses_it(pg_dsn):
    with LeaseManager(pg_dsn, "node-a", ttl=0.2) as a, LeaseManager(pg_dsn, "node-b", ttl=30) as b:
        old = a.acquire(KEY)
        time.sleep(0.4)  # a stops renewing (paused, partitioned, dead)
        assert not b.owner(KEY).live
        new = b.acquire(KEY)
        assert new is not None and new.token == old.token + 1
        with pytest.raises(LeaseLost):
            a.renew(old)
        assert a.acquire(KEY) is None and b.owner(KEY).holder == "node-b"


def test_lease_renew_pushes_expiry_and_keeps_the_token(nodes):
    a, _ = nodes
    lease = a.acquire(KEY)
    renewed = a.renew(lease)
    assert renewed.token == lease.token and renewed.expires_at >= lease.expires_at


def test_lease_release_lets_the_other_node_in_and_tokens_keep_growing(nodes):
    a, b = nodes
    tokens = []
    for node in (a, b, a, b):
        lease = node.acquire(KEY)
        assert lease is not None
        tokens.append(lease.token)
        node.release(lease)
    assert tokens == [1, 2, 3, 4]


def test_lease_stale_owner_store_write_refused_new_owner_writes(pg_dsn):
    with LeaseManager(pg_dsn, "node-a", ttl=0.2) as la, LeaseManager(pg_dsn, "node-b", ttl=30) as lb:
        store_a, store_b = PostgresMessageStore(pg_dsn), PostgresMessageStore(pg_dsn)
        lease_a = la.acquire(KEY)
        store_a.fence(KEY, lease_a.token)
        sa = store_a.session_store(SID)
        sa.save_outbound(1, b"from-a")
        sa.commit()  # a holds the current token: written
        time.sleep(0.4)
        lease_b = lb.acquire(KEY)
        store_b.fence(KEY, lease_b.token)
        sb = store_b.session_store(SID)
        assert sb.fetch(1, 0) == [(1, b"from-a")]  # the new owner reads what the old one committed
        sa.save_outbound(2, b"stale")
        with pytest.raises(StoreError, match="fenced"):
            sa.commit()
        with pytest.raises(StoreError, match="fenced"):
            sa.save_outbound(3, b"stale again")  # the failure is final
        sb.save_outbound(2, b"from-b")
        sb.commit()
        assert sb.fetch(1, 0) == [(1, b"from-a"), (2, b"from-b")]
        with pytest.raises(StoreError, match="fenced"):
            store_a.close()  # the stale store keeps its failure
        store_b.close()


def test_lease_takeover_waits_for_a_commit_that_passed_the_fence(pg_dsn):
    """The fence holds the lease row: a takeover cannot slip between the check and the COMMIT."""
    with LeaseManager(pg_dsn, "node-a", ttl=0.1) as la, LeaseManager(pg_dsn, "node-b", ttl=30) as lb:
        lease_a = la.acquire(KEY)
        time.sleep(0.3)  # expired: b may take it, but a's transaction below checks first
        with psycopg.connect(pg_dsn) as held:  # a's commit, stopped between its fence check and COMMIT
            held.execute("SELECT fixgw_check_fences(ARRAY[%s]::text[], ARRAY[%s]::bigint[])", (KEY, lease_a.token))
            got: list = []
            taker = threading.Thread(target=lambda: got.append(lb.acquire(KEY)))
            taker.start()
            with psycopg.connect(pg_dsn, autocommit=True) as watch:  # until b's acquire waits on a lock
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                    time.sleep(0.01)
            assert taker.is_alive() and got == []  # b waits for a's transaction
            held.commit()
        taker.join(10)
        assert got[0] is not None and got[0].token == lease_a.token + 1


def test_lease_many_nodes_racing_for_a_free_key_exactly_one_wins(pg_dsn):
    managers = [LeaseManager(pg_dsn, f"node-{i}", ttl=30) for i in range(6)]
    barrier = threading.Barrier(len(managers))
    won: list = []

    def race(m: LeaseManager) -> None:
        barrier.wait()
        lease = m.acquire(KEY)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=race, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for m in managers:
        m.close()
    assert len(won) == 1 and won[0].token == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["acquire", "release", "renew"])), max_size=15))
def test_lease_tokens_only_grow_and_one_node_holds_a_key(pg_cluster, steps):
    dsn = pg_cluster.new_schema_dsn()
    managers = [LeaseManager(dsn, f"n{i}", ttl=30) for i in range(3)]
    try:
        held: dict[int, object] = {}
        last_token = 0
        for who, op in steps:
            m = managers[who]
            if op == "acquire":
                lease = m.acquire(KEY)
                others = [w for w in held if w != who]
                if others:
                    assert lease is None
                else:
                    assert lease is not None and lease.token > last_token
                    last_token = lease.token
                    held = {who: lease}
            elif who in held:
                if op == "release":
                    m.release(held.pop(who))
                else:
                    held[who] = m.renew(held[who])
        owner = managers[0].owner(KEY)
        if held:
            (who,) = held
            assert owner.live and owner.holder == f"n{who}" and owner.token == last_token
        elif owner is not None:
            assert not owner.live
    finally:
        for m in managers:
            m.close()
        pg_cluster.drop_schema(dsn)


def test_lease_manager_repr_hides_the_password_and_node_ids_are_unique(pg_dsn):
    with LeaseManager(pg_dsn + " password=s3cret", new_node_id()) as m:
        assert "s3cret" not in repr(m)
    assert new_node_id() != new_node_id()
