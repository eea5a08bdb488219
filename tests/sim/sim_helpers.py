"""Client helpers of the simulator tests (a module name of its own, so other test folders never clash)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any, Callable, Iterator

import httpx
import pytest
from websockets.sync.client import ClientConnection

from fixgw.sim import DEMO_API_KEY, DEMO_API_SECRET, SimServer
from fixgw.sim.signing import ws_payload


class SignedClient:
    """A tiny Binance-style REST client: signs query strings with HMAC-SHA256."""

    def __init__(self, base_url: str, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.key = key
        self.secret = secret

    def sign(self, query: str) -> str:
        return hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()

    def signed(self, method: str, path: str, *, timestamp: int | None = None, **params: Any) -> httpx.Response:
        params["timestamp"] = timestamp if timestamp is not None else int(time.time() * 1000)
        query = urllib.parse.urlencode(params)
        return self.http.request(
            method, f"{path}?{query}&signature={self.sign(query)}", headers={"X-MBX-APIKEY": self.key}
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def close(self) -> None:
        self.http.close()


# == WebSocket API helpers ========================================================================
def signed_params(secret: str = DEMO_API_SECRET, **params: Any) -> dict[str, Any]:
    params.setdefault("apiKey", DEMO_API_KEY)
    params["timestamp"] = int(time.time() * 1000)
    params["signature"] = hmac.new(secret.encode(), ws_payload(params).encode(), hashlib.sha256).hexdigest()
    return params


def request(ws: ClientConnection, req_id: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    ws.send(json.dumps({"id": req_id, "method": method, "params": params or {}}))
    while True:
        msg = json.loads(ws.recv(timeout=5))
        if msg.get("id") == req_id:
            return msg


def events_until(ws: ClientConnection, predicate: Any, limit: int = 50) -> list[dict[str, Any]]:
    seen = []
    for _ in range(limit):
        msg = json.loads(ws.recv(timeout=5))
        if "event" in msg:
            seen.append(msg)
            if predicate(msg["event"]):
                return seen
    raise AssertionError(f"condition never met; saw {seen}")


def module_sim_fixture(start: Callable[[], SimServer]) -> Any:
    """A module-scoped ``sim`` fixture: the server ``start()`` returns, started; stopped after the module."""

    @pytest.fixture(scope="module")
    def sim() -> Iterator[SimServer]:
        server = start()
        try:
            yield server
        finally:
            server.stop()

    return sim
