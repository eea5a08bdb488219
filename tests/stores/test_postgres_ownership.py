"""Session ownership between gateway nodes (``[cluster]``, ``fixgw.gateway._ownership``): the config table,
the owner's advertised address, a non-owner's refusal, a takeover after a clean stop, a lost lease."""

from __future__ import annotations

import pytest

from fixgw.config import ClusterConfig, build_config
from fixgw.errors import ConfigError
from fixgw.sim import SimServer

from pg_gateway import node_config, running_sim

API_KEY = "own-key-" + "0" * 20
API_SECRET = "own-secret-" + "1" * 40


def _data(cluster: dict | None = None, store: dict | None = None) -> dict:
    data: dict = {
        "gateway": {"port": 0},
        "store": store if store is not None else {"kind": "postgres", "dsn_env": "PG"},
        "venues": [{"name": "sim", "kind": "binance", "simulated": True}],
        "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "FIXGW", "target_comp_id": "CLIENT44",
                      "venue": "sim", "account": "demo"}],
    }
    if cluster is not None:
        data["cluster"] = cluster
    return data


def test_cluster_config_absent_is_a_single_gateway():
    cfg = build_config(_data(), environ={"PG": "host=db"})
    assert cfg.cluster == ClusterConfig() and not cfg.cluster.enabled


def test_cluster_config_given_is_read_with_default_lease_ttl():
    cfg = build_config(_data({"node_id": "gw-a", "advertise": "10.0.0.1:9878"}), environ={"PG": "host=db"})
    assert cfg.cluster == ClusterConfig(node_id="gw-a", lease_ttl=6.0, advertise="10.0.0.1:9878")  # a takeover within 10 s by default
    assert cfg.cluster.enabled


@pytest.mark.parametrize(
    ("cluster", "store", "key", "text"),
    [
        ({"node_id": "a"}, {}, "cluster.node_id", "needs [store] kind = \"postgres\""),
        ({"lease_ttl": 5}, None, "cluster.node_id", "is required"),
        ({"node_id": ""}, None, "cluster.node_id", "not empty"),
        ({"node_id": "a\x07"}, None, "cluster.node_id", "printable"),
        ({"node_id": "a", "lease_ttl": 0.1}, None, "cluster.lease_ttl", "between 0.3 and 3600"),
        ({"node_id": "a", "lease_ttl": -1}, None, "cluster.lease_ttl", "positive"),
        ({"node_id": "a", "ttl": 3}, None, "cluster.ttl", "unknown key"),
    ],
)
def test_cluster_config_invalid_is_refused_naming_the_key(cluster, store, key, text):
    with pytest.raises(ConfigError) as info:
        build_config(_data(cluster, store), environ={"PG": "host=db"})
    assert info.value.key == key and text in str(info.value)


# -- on PostgreSQL --------------------------------------------------------------------------------------


def test_lease_owner_names_the_holders_advertised_address(pg_dsn):
    from fixgw.stores.lease import LeaseManager

    with LeaseManager(pg_dsn, "gw-a", ttl=30, address="10.0.0.1:9878") as a, LeaseManager(pg_dsn, "gw-b") as b:
        assert a.acquire("session:x") is not None
        holder = b.owner("session:x")
        assert holder is not None and (holder.holder, holder.address, holder.live) == ("gw-a", "10.0.0.1:9878", True)
        assert b.acquire("session:y") is not None
        assert a.owner("session:y").address == ""  # b advertised nothing


def test_postgres_reload_session_reads_what_another_process_wrote(pg_dsn):
    from fixgw.session import SessionID
    from fixgw.stores.postgres import PostgresMessageStore

    sid = SessionID("FIX.4.4", "FIXGW", "CLIENT44")
    with PostgresMessageStore(pg_dsn) as standby, PostgresMessageStore(pg_dsn) as owner:
        stale = standby.session_store(sid)
        live = owner.session_store(sid)
        live.save_outbound(1, b"one")
        live.set_next_target_seq(7)
        live.commit()
        owner.journal("CLIENT44_44")  # (the owner's journal: appended below)
        assert (stale.next_sender_seq, stale.next_target_seq) == (1, 1)
        standby.reload_session(sid, "CLIENT44_44")
        assert (stale.next_sender_seq, stale.next_target_seq) == (2, 7)
        assert stale.fetch(1, 0) == [(1, b"one")]


@pytest.fixture
def sim():
    with running_sim(API_KEY, API_SECRET) as server:
        yield server


def _node(sim: SimServer, pg_dsn: str, node: str, ttl: float = 30.0):
    return node_config(sim, pg_dsn, API_KEY, API_SECRET, node=node, ttl=ttl)


@pytest.mark.slow
def test_ownership_non_owner_refuses_then_takes_over_after_a_clean_stop(sim, pg_dsn):
    import anyio

    from fixgw.gateway import Gateway
    from gateway.fixclient import FixClient

    async def main() -> None:
        a, b = Gateway(_node(sim, pg_dsn, "A")), Gateway(_node(sim, pg_dsn, "B"))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        async with anyio.create_task_group() as tg:
            await tg.start(a.run)
            await tg.start(b.run)
            probe = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
            with pytest.raises(ConnectionError, match="session owned by node A at 127.0.0.1:A"):
                await probe.connect(b.port)
            await probe.close()
            await client.connect(a.port)
            await client.new_order("R1", "1", "0.5", price="100")  # rests: no liquidity
            (new,) = await client.reports("R1", 1)
            await client.logout()
            a.stop()  # a clean stop releases A's leases: B takes over at the next Logon
            with anyio.fail_after(10):
                while a.ready.is_set() and a.acceptor is not None and a._store is not None:
                    await anyio.sleep(0.05)
            await client.connect(b.port)  # same numbers: B carries on with A's
            await client.cancel("R2", "R1", "1")  # B's book holds R1, read from the journal at takeover
            done = await client.wait_for(lambda m: m.msg_type == b"8" and m.get(11) == b"R2" and m.get(39) == b"4")
            assert done[37] == new[37]
            await client.logout()
            b.stop()

    anyio.run(main)


@pytest.mark.slow
def test_ownership_lease_taken_by_another_node_disconnects_the_session(sim, pg_dsn):
    import anyio
    import psycopg

    from fixgw.gateway import Gateway
    from fixgw.stores.lease import session_lease_key
    from gateway.fixclient import FixClient

    async def main() -> None:
        a = Gateway(_node(sim, pg_dsn, "A", ttl=0.6))
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        async with anyio.create_task_group() as tg:
            await tg.start(a.run)
            await client.connect(a.port)
            sid = a.handle(next(iter(a._router.sessions))).session_id
            with psycopg.connect(pg_dsn, autocommit=True) as db:  # another node takes it: a newer token
                db.execute("UPDATE fixgw_leases SET holder = 'B', token = token + 1 WHERE owner_key = %s",
                           (session_lease_key(sid),))
            with anyio.fail_after(5):
                while a.handle(sid).is_connected:
                    await anyio.sleep(0.05)
            a.stop()

    anyio.run(main)
