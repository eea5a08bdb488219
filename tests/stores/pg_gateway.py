"""Helpers shared by the gateway-on-PostgreSQL tests: the simulated venue they trade on and one node's config."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator

from fixgw.config import build_config
from fixgw.sim import ApiKey, LimitConfig, SimConfig, SimServer


@contextmanager
def running_sim(api_key: str, api_secret: str, *, counterparty: bool = True) -> Iterator[SimServer]:
    """A started simulated venue that knows ``api_key`` (account ``gw``) and all but never rate-limits;
    with ``counterparty``, account ``cp`` holds 1000 BTC and 10**9 USDT to trade against. Stopped on exit."""
    server = SimServer(SimConfig(
        market_maker=None,
        api_keys=(ApiKey(api_key=api_key, account_id="gw", secret=api_secret),),
        limits=LimitConfig(weight_per_minute=1_000_000, orders_per_10s=1_000_000, orders_per_day=10_000_000),
    ))
    server.start()
    try:
        if counterparty:
            server.call(lambda st: st.engine.add_account("cp", {"BTC": Decimal(1000), "USDT": Decimal(10**9)}))
        yield server
    finally:
        server.stop()


def node_config(sim: SimServer, pg_dsn: str, api_key: str, api_secret: str, *, node: str | None = None,
                ttl: float = 30.0) -> Any:
    """A gateway on ``pg_dsn`` serving FIX.4.4 FIXGW<->CLIENT44 (user ``demo``, password ``demo``) on ``sim``;
    with ``node``, a cluster member named so, advertising ``127.0.0.1:<node>``, its leases lasting ``ttl``."""
    data: dict = {
        "gateway": {"port": 0},
        "store": {"kind": "postgres", "dsn_env": "PG"},
        "venues": [{"name": "sim", "kind": "binance", "rest_url": sim.base_url, "ws_url": sim.ws_api_url,
                    "api_key_env": "K", "api_secret_env": "S"}],
        "sessions": [{"begin_string": "FIX.4.4", "sender_comp_id": "FIXGW", "target_comp_id": "CLIENT44",
                      "venue": "sim", "account": "demo", "username": "demo", "password_env": "PW"}],
    }
    if node is not None:
        data["cluster"] = {"node_id": node, "lease_ttl": ttl, "advertise": f"127.0.0.1:{node}"}
    return build_config(data, environ={"PG": pg_dsn, "K": api_key, "S": api_secret, "PW": "demo"})
