"""Per-key accounts: a key reads and trades only the accounts it names (orders, fills, stream, order entry).

Over a running gateway on the simulator (real loopback sockets): the demo's FIX sessions trade account
``demo``, the bridge account is ``oms``. Keys here: one per account, one naming none, and an admin key
without an ``accounts`` entry (every account).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from bridge_helpers import ADMIN_SECRET, KEYS, error_of
from gateway.fixclient import FixClient
from test_bridge_gateway import _sell, sim, stack  # noqa: F401  (sim: a fixture)

from fixgw.bridge import AsyncBridgeClient, BridgeKey, Permission, load_keys
from fixgw.errors import ConfigError
from fixgw.sim import SimServer

pytestmark = [pytest.mark.anyio]

OMS_SECRET = "oms-only-secret-4f0b2d9e71c35a8e6d0f1b2c3a4e5d6f"
DEMO_SECRET = "demo-only-secret-8a1c3e5f7b9d0e2f4a6c8e0b2d4f6a8c"
NONE_SECRET = "no-account-secret-1e3c5a7f9b0d2e4c6a8f0e1d3b5c7a9e"
RT = {Permission.READ, Permission.TRADE}
ACCOUNT_KEYS = (
    *KEYS,
    BridgeKey("oms-only", OMS_SECRET, RT, accounts={"oms"}),
    BridgeKey("demo-only", DEMO_SECRET, RT, accounts={"demo"}),
    BridgeKey("no-account", NONE_SECRET, RT, accounts=()),
)


def client(url: str, key_id: str, secret: str) -> AsyncBridgeClient:
    return AsyncBridgeClient(url, key_id, secret, timeout=10)


def buy(cl: str, **extra: Any) -> dict[str, Any]:
    return {"client_order_id": cl, "symbol": "BTC/USDT", "side": "buy", "type": "limit", "quantity": "0.1",
            "price": "50000", **extra}


async def until_open(c: AsyncBridgeClient, ident: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        while (order := await c.get(f"/v1/orders/{ident}"))["status"] != "new":
            await anyio.sleep(0.02)
    return order


# -- configuration -----------------------------------------------------------------------------------


def _entry(**kw: Any) -> dict[str, Any]:
    return {"id": "k1", "secret_env": "S", "permissions": ["read"], **kw}


ENV = {"S": "s" * 40}


def test_load_keys_without_accounts_admin_reads_all_other_keys_none() -> None:
    ring = load_keys([_entry(), _entry(id="k2", permissions=["read", "admin"])], ENV)
    assert ring.get("k1").accounts == frozenset()
    assert ring.get("k2").accounts is None
    assert not ring.get("k1").allows_account("demo") and ring.get("k2").allows_account("demo")


def test_load_keys_accounts_listed_or_star_taken() -> None:
    ring = load_keys([_entry(accounts=["oms", "demo"]), _entry(id="k2", accounts=["*"])], ENV)
    assert ring.get("k1").accounts == frozenset({"oms", "demo"})
    assert ring.get("k1").allows_account("oms") and not ring.get("k1").allows_account("other")
    assert ring.get("k2").accounts is None


@pytest.mark.parametrize("bad", ["oms", [1], [""], ["a\nb"]])
def test_load_keys_bad_accounts_refused_naming_the_key(bad: Any) -> None:
    with pytest.raises(ConfigError) as e:
        load_keys([_entry(accounts=bad)], ENV)
    assert "bridge.keys[0].accounts" in str(e.value)


def test_bridge_key_accounts_string_refused() -> None:
    with pytest.raises(ValueError):
        BridgeKey("k", "s" * 40, RT, accounts="oms")  # type: ignore[arg-type]


# -- over a running gateway --------------------------------------------------------------------------


async def test_bridge_key_trades_only_its_accounts_others_403(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "oms-only", OMS_SECRET) as oms, \
            client(url, "demo-only", DEMO_SECRET) as demo, client(url, "no-account", NONE_SECRET) as nobody:
        refused = await demo.send("POST", "/v1/orders", json=buy("X1", account="oms"))
        assert error_of(refused) == (403, "missing_permission")
        refused = await nobody.send("POST", "/v1/orders", json=buy("X2"))  # the one account, implied
        assert error_of(refused) == (403, "missing_permission")
        assert (await oms.send("POST", "/v1/orders", json=buy("O1"))).status_code == 201
        order = await until_open(oms, "O1")

        oid = order["order_id"]
        assert error_of(await demo.send("DELETE", f"/v1/orders/{oid}")) == (403, "missing_permission")
        assert error_of(await demo.send("PATCH", f"/v1/orders/{oid}", json={"price": "49000"})) == (
            403, "missing_permission")
        assert error_of(await demo.send("DELETE", "/v1/orders", params={"account": "oms"})) == (
            403, "missing_permission")
        assert (await demo.delete("/v1/orders"))["orders"] == []  # covers only its own accounts
        assert (await oms.get(f"/v1/orders/{oid}"))["status"] == "new"  # untouched
        asked = (await oms.delete("/v1/orders"))["orders"]
        assert [o["order_id"] for o in asked] == [oid]


async def test_bridge_key_reads_only_its_accounts_orders_and_fills(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "oms-only", OMS_SECRET) as oms, \
            client(url, "demo-only", DEMO_SECRET) as demo, client(url, "no-account", NONE_SECRET) as nobody, \
            client(url, "admin", ADMIN_SECRET) as admin:
        _sell(sim, "0.1", "50000")
        await oms.post("/v1/orders", buy("R1"))
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        await fix.new_order("F1", "1", "0.1", price="40000")
        await fix.reports("F1", 1)
        with anyio.fail_after(10):
            while not (await oms.get("/v1/fills"))["fills"]:
                await anyio.sleep(0.02)

        def ids(rows: list[dict[str, Any]]) -> set[str]:
            return {r["client_order_id"] for r in rows}

        assert ids((await oms.get("/v1/orders"))["orders"]) == {"R1"}
        assert ids((await demo.get("/v1/orders"))["orders"]) == {"F1"}
        assert ids((await admin.get("/v1/orders"))["orders"]) == {"R1", "F1"}
        assert (await nobody.get("/v1/orders"))["orders"] == []
        assert ids((await oms.get("/v1/fills"))["fills"]) == {"R1"}
        assert (await demo.get("/v1/fills"))["fills"] == []
        assert (await demo.get("/v1/orders", params={"account": "oms"}))["orders"] == []
        assert error_of(await demo.send("GET", "/v1/orders/R1")) == (404, "not_found")
        assert error_of(await oms.send("GET", "/v1/orders/F1")) == (404, "not_found")
        assert (await demo.get("/v1/orders/F1"))["account"] == "demo"
        await fix.logout()


async def test_bridge_key_stream_drop_copy_only_its_accounts(sim: SimServer) -> None:
    async with stack(sim, keys=ACCOUNT_KEYS) as (gw, url), client(url, "oms-only", OMS_SECRET) as oms, \
            client(url, "demo-only", DEMO_SECRET) as demo:
        fix = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await fix.connect(gw.port)
        async with oms.stream("/v1/stream", params={"since": "0"}) as s_oms, \
                demo.stream("/v1/stream", params={"since": "0"}) as s_demo:
            assert (await s_oms.recv())["type"] == "hello" and (await s_demo.recv())["type"] == "hello"
            await oms.post("/v1/orders", buy("S1"))
            await fix.new_order("S2", "1", "0.1", price="40000")
            await fix.reports("S2", 1)
            await oms.post("/v1/orders", buy("S3"))
            await until_open(oms, "S3")

            async def events(s: Any, count: int) -> list[dict[str, Any]]:
                out: list[dict[str, Any]] = []
                with anyio.fail_after(10):
                    while len(out) < count:
                        m = await s.recv()
                        if m["type"] == "event":
                            out.append(m)
                return out

            got_oms = await events(s_oms, 4)  # S1 and S3: submitted, accepted
            got_demo = await events(s_demo, 2)  # S2: submitted, accepted
            assert all(e["account"].startswith("oms_R") for e in got_oms)  # the account's key
            assert all(e["account"].startswith("CLIENT44_44") for e in got_demo)
            for got in (got_oms, got_demo):
                assert [e["id"] for e in got] == sorted(e["id"] for e in got)
        await fix.logout()
