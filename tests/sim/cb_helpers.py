"""Client helpers of the Coinbase-dialect simulator tests: CB-ACCESS-* signing written from the docs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Iterator

import httpx
import pytest

from fixgw.sim import DEMO_ACCOUNT, DEMO_API_KEY, DEMO_API_SECRET, ApiKey, SimConfig, SimServer
from fixgw.sim.coinbase import DEMO_PASSPHRASE
from fixgw.sim.coinbase.limits import CoinbaseLimits
from sim_helpers import module_sim_fixture

OTHER_KEY = "cbTestCounterparty"
OTHER_SECRET = base64.b64encode(b"counterparty secret of the coinbase sim tests!!").decode()


def cb_config(**kw: Any) -> SimConfig:
    keys = (ApiKey(api_key=DEMO_API_KEY, account_id=DEMO_ACCOUNT, secret=DEMO_API_SECRET),
            ApiKey(api_key=OTHER_KEY, account_id="other", secret=OTHER_SECRET))
    kw.setdefault("api_keys", keys)
    return SimConfig(dialect="coinbase", seed=3, maker_interval_s=None, **kw)


def cb_sign(secret: str, timestamp: str, method: str, path: str, body: str = "") -> str:
    mac = hmac.new(base64.b64decode(secret), (timestamp + method + path + body).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


class CbClient:
    """Signs every request the way the venue's client libraries do (path with its query string)."""

    def __init__(self, base_url: str, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET,
                 passphrase: str = DEMO_PASSPHRASE) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.key, self.secret, self.passphrase = key, secret, passphrase

    def headers(self, method: str, path: str, body: str = "", *, timestamp: str | None = None,
                **override: str) -> dict[str, str]:
        ts = timestamp if timestamp is not None else f"{time.time():.3f}"
        h = {"CB-ACCESS-KEY": self.key, "CB-ACCESS-SIGN": cb_sign(self.secret, ts, method, path, body),
             "CB-ACCESS-TIMESTAMP": ts, "CB-ACCESS-PASSPHRASE": self.passphrase,
             "Content-Type": "application/json"}
        h.update(override)
        return h

    def call(self, method: str, path: str, body: Any = None, **override: str) -> httpx.Response:
        text = json.dumps(body) if body is not None else ""
        return self.http.request(method, path, content=text or None, headers=self.headers(method, path, text, **override))

    def place(self, **body: Any) -> httpx.Response:
        body.setdefault("product_id", "BTC-USDT")
        return self.call("POST", "/orders", body)

    def close(self) -> None:
        self.http.close()


def cb_sim(limits: CoinbaseLimits) -> Any:
    """A module-scoped ``sim`` fixture: a Coinbase-dialect simulator whose per-second limits are ``limits``
    (the tests' own pace is no burst)."""

    def start() -> SimServer:
        server = SimServer(cb_config()).start()
        server.call(lambda st: setattr(st.coinbase.buckets, "limits", limits))
        return server

    return module_sim_fixture(start)


@pytest.fixture
def cb(sim: SimServer) -> Iterator[CbClient]:
    """A client of the demo key, faults cleared first; its open orders are canceled after."""
    sim.reset_faults()
    c = CbClient(sim.base_url)
    try:
        yield c
    finally:
        c.call("DELETE", "/orders")
        c.close()
