"""A plain Kraken REST / WebSocket v2 client for the simulator's Kraken dialect (tests only).

It signs with ``fixgw.sim.kraken.signing.sign``, which the documented vector pins
(test_sim_kraken.py), so the simulator's verification is checked against the venue's published rule.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import time
import urllib.parse
from decimal import Decimal
from typing import Any, Iterator

import httpx
import pytest
from websockets.sync.client import connect

from fixgw.sim import DEMO_ACCOUNT, DEMO_API_KEY, DEMO_API_SECRET, ApiKey, SimConfig, SimServer
from fixgw.sim.kraken.limits import KrakenLimits
from fixgw.sim.kraken.signing import sign
from fixgw.sim.kraken.venue import venue_of
from sim_helpers import module_sim_fixture

OTHER_KEY = "krakenSimTestOtherKey00000000000000000000000000000000000000000001"
OTHER_SECRET = base64.b64encode(b"the other account of the kraken dialect tests").decode()
#: the documented signing example's private key (a published test value)
DOC_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
DOC_KEY = "krakenDocumentedExampleKey"


def kraken_sim(limits: KrakenLimits | None = None, **kw: Any) -> SimServer:
    """A Kraken-dialect simulator; its rate-limit counters generous unless ``limits`` are given."""
    cfg = SimConfig(seed=5, maker_interval_s=None, dialect="kraken", api_keys=(
        ApiKey(api_key=DEMO_API_KEY, account_id=DEMO_ACCOUNT, secret=DEMO_API_SECRET),
        ApiKey(api_key=OTHER_KEY, account_id="other", secret=OTHER_SECRET),
        ApiKey(api_key=DOC_KEY, account_id="doc", secret=DOC_SECRET)), **kw)
    server = SimServer(cfg).start()
    chosen = limits or KrakenLimits(rest_max=10_000, trade_max=10_000)
    server.call(lambda st: setattr(venue_of(st), "limits", chosen))
    return server


class KrakenClient:
    """Signed private calls (form or JSON) and public calls; answers are (HTTP status, envelope)."""

    _nonces = itertools.count(int(time.time() * 1000))

    def __init__(self, base_url: str, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.key, self.secret = key, secret

    def close(self) -> None:
        self.http.close()

    def nonce(self) -> int:
        return next(self._nonces)

    def public(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        r = self.http.get(f"/0/public/{method}", params=params)
        return r.status_code, r.json()

    def private(self, method: str, fields: list[tuple[str, Any]] | None = None, *, nonce: int | None = None,
                as_json: bool = False, signature: str | None = None) -> tuple[int, dict[str, Any]]:
        n = str(self.nonce() if nonce is None else nonce)
        path = f"/0/private/{method}"
        if as_json:
            body = json.dumps({"nonce": n, **dict(fields or [])})
            ctype = "application/json"
        else:
            body = urllib.parse.urlencode([("nonce", n), *(fields or [])])
            ctype = "application/x-www-form-urlencoded"
        headers = {"API-Key": self.key, "API-Sign": signature or sign(self.secret, path, n, body.encode()),
                   "Content-Type": ctype}
        r = self.http.post(path, content=body, headers=headers)
        return r.status_code, r.json()

    def ok(self, method: str, fields: list[tuple[str, Any]] | None = None, **kw: Any) -> Any:
        status, body = self.private(method, fields, **kw)
        assert status == 200 and body["error"] == [], body
        return body["result"]

    def top(self, pair: str = "XBTUSDT") -> tuple[Decimal, Decimal]:
        _, body = self.public("Depth", pair=pair, count=1)
        book = next(iter(body["result"].values()))
        return Decimal(book["bids"][0][0]), Decimal(book["asks"][0][0])


class Feed:
    """A WebSocket v2 connection: requests by req_id, data frames collected."""

    def __init__(self, sim: SimServer) -> None:
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(sim.base_url.replace("http://", "ws://") + "/v2", open_timeout=5))
        self.req_ids = itertools.count(1)
        self.frames: list[dict[str, Any]] = []
        self.status = self.recv()

    def recv(self, timeout: float = 5) -> dict[str, Any]:
        return json.loads(self.ws.recv(timeout=timeout), parse_float=Decimal)

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        req_id = next(self.req_ids)
        msg: dict[str, Any] = {"method": method, "req_id": req_id}
        if params is not None:
            msg["params"] = params
        self.ws.send(json.dumps(msg))
        while True:
            frame = self.recv()
            if frame.get("req_id") == req_id and frame.get("method") in (method, "pong"):
                return frame
            self.frames.append(frame)

    def data(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """The next ``count`` executions entries (after those already collected)."""
        out = [e for f in self.frames if f.get("channel") == "executions" for e in f["data"]]
        self.frames.clear()
        while len(out) < count:
            frame = self.recv(timeout)
            if frame.get("channel") == "executions":
                out.extend(frame["data"])
        return out

    def close(self) -> None:
        self._stack.close()


#: a Kraken-dialect simulator for the module (import it into a test module to use it)
sim = module_sim_fixture(kraken_sim)


@pytest.fixture
def kr(sim: SimServer) -> Iterator[KrakenClient]:
    """A client of the demo key; faults cleared before and after, its orders canceled after."""
    sim.reset_faults()
    c = KrakenClient(sim.base_url)
    try:
        yield c
    finally:
        sim.reset_faults()
        c.ok("CancelAll")
        c.close()
