"""The gateway on PostgreSQL: ``[store] kind = "postgres"`` in the config, the connection string from the
environment or a file (never in the file itself, never in a repr), and a gateway restarted on the same
database that carries on with its sessions' sequence numbers and its orders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fixgw.config import StoreConfig, build_config
from fixgw.errors import ConfigError

from pg_gateway import running_sim

_BASE = {
    "gateway": {"port": 0},
    "venues": [{"name": "sim", "kind": "binance", "simulated": True}],
    "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "GW", "target_comp_id": "C", "venue": "sim",
                  "account": "a"}],
}


def _config(store: dict, environ: dict | None = None, **gateway: object):
    data = dict(_BASE, store=store, gateway={"port": 0, **gateway})
    return build_config(data, environ=environ or {})


def test_store_config_postgres_dsn_from_env_is_read_and_not_shown():
    cfg = _config({"kind": "postgres", "dsn_env": "PG_DSN"}, {"PG_DSN": "host=db user=gw password=hunter2"})
    assert cfg.store.kind == "postgres" and cfg.store.dsn.endswith("password=hunter2")
    assert "hunter2" not in repr(cfg) and "hunter2" not in repr(cfg.store)


def test_store_config_postgres_dsn_from_file(tmp_path):
    (tmp_path / "pg.dsn").write_text("host=db user=gw\n")
    cfg = build_config(dict(_BASE, store={"kind": "postgres", "dsn_file": "pg.dsn"}), base_dir=tmp_path, environ={})
    assert cfg.store.dsn == "host=db user=gw"


@pytest.mark.parametrize(
    ("store", "gateway", "key", "text"),
    [
        ({"kind": "postgres"}, {}, "store.dsn_env", "is required"),
        ({"kind": "postgres", "dsn_env": "MISSING"}, {}, "store.dsn_env", "MISSING is not set"),
        ({"kind": "oracle"}, {}, "store.kind", "must be one of sqlite, memory, postgres"),
        ({"kind": "sqlite"}, {}, "store.kind", "needs gateway.store_path"),
        ({"kind": "postgres", "dsn_env": "X"}, {"store_path": "gw.db"}, "store.kind", "remove gateway.store_path"),
        ({"kind": "memory", "dsn_env": "X"}, {}, "store.dsn_env", "only to kind"),
        ({"kind": "postgres", "dsn": "host=db"}, {}, "store.dsn", "unknown key"),
    ],
)
def test_store_config_invalid_is_refused_naming_the_key(store, gateway, key, text):
    with pytest.raises(ConfigError) as info:
        _config(store, {"X": "host=db"}, **gateway)
    assert info.value.key == key and text in str(info.value)


def test_store_config_absent_keeps_the_store_path_rule():
    assert _config({}).store == StoreConfig()
    assert build_config(dict(_BASE)).store.kind == ""


# -- the gateway on a PostgreSQL store ----------------------------------------------------------------
API_KEY = "pg-key-" + "0" * 20
API_SECRET = "pg-secret-" + "1" * 40


@pytest.fixture
def sim():
    with running_sim(API_KEY, API_SECRET) as server:
        yield server


@pytest.mark.slow
def test_postgres_gateway_restarted_on_the_same_database_keeps_sequence_numbers_and_orders(sim, pg_dsn):
    import anyio

    from fixgw.config import default_config
    from fixgw.gateway import Gateway
    from fixgw.stores.postgres import PostgresMessageStore
    from gateway.fixclient import FixClient

    cfg = default_config(port=0)
    cfg = cfg.with_venue("sim", rest_url=sim.base_url, ws_url=sim.ws_api_url, api_key=API_KEY,
                         api_secret=API_SECRET, orders_per_10s=1_000_000, weight_per_minute=1_000_000)
    cfg = replace(cfg, store=StoreConfig(kind="postgres", dsn=pg_dsn))

    async def run_gateway(client: FixClient, body) -> None:
        gw = Gateway(cfg)
        async with anyio.create_task_group() as tg:
            await tg.start(gw.run)
            try:
                await client.connect(gw.port)
                await body(client)
                await client.logout()
            finally:
                gw.stop()

    seen: dict[str, object] = {}

    async def first(c: FixClient) -> None:
        await c.new_order("P1", "1", "0.5", price="100")  # rests far below any market: New, stays open
        (new,) = await c.reports("P1", 1)
        seen["order_id"] = new[37]

    async def second(c: FixClient) -> None:
        await c.cancel("P2", "P1", "1")  # the restarted gateway knows P1 from the journal
        canceled = await c.wait_for(lambda m: m.msg_type == b"8" and m.get(11) == b"P2" and m.get(39) == b"4")
        seen["canceled_order_id"] = canceled[37]

    async def main() -> None:
        client = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await run_gateway(client, first)
        seen["next_out"], seen["next_in"] = client.next_out, client.next_in
        await run_gateway(client, second)  # same client numbers: no reset, the gateway resumes its own

    anyio.run(main)
    assert seen["canceled_order_id"] == seen["order_id"]
    assert seen["next_in"] > 3  # Logon, New, Logout from the first gateway were numbered and kept
    with PostgresMessageStore(pg_dsn) as store:  # both gateways wrote to the same sessions' rows
        from fixgw.session import SessionID

        s = store.session_store(SessionID("FIX.4.4", "FIXGW", "CLIENT44"))
        assert s.next_sender_seq > seen["next_in"]
        assert [seq for seq, _ in s.fetch(1, 0)] == list(range(1, s.next_sender_seq))
