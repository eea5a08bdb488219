"""Helpers of the bridge tests (a module name of its own, so other test folders never clash)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

from fixgw.bridge import BridgeKey, Permission, add_route
from fixgw.bridge.auth import signed_headers
from fixgw.bridge.view import AdminResult, OrderQuery, Page, Readiness, SessionInfo
from fixgw.clock import FakeClock
from fixgw.gateway._feed import EventFeed

# Test-only secrets: long enough for the loader, distinctive enough to grep a log for.
READ_SECRET = "read-secret-7d1f0c9a4e6b2853aa71c4e0f9d2b6c8"
TRADE_SECRET = "trade-secret-3b9e51d07c2fa8641e5d9c03b7a2f4e1"
ADMIN_SECRET = "admin-secret-c84a02e6f1b97d35e0a6c2f8d41b3e95"
FAR_SECRET = "far-secret-5e0d7b2c9a14f3e68b0c7d1a2e9f4b63d"
OPS_SECRET = "ops-secret-91c3e7a05d2b84f6c0e9a1d73b5f28e4"
ALL_SECRETS = (READ_SECRET, TRADE_SECRET, ADMIN_SECRET, FAR_SECRET, OPS_SECRET)

KEYS = (
    BridgeKey("reader", READ_SECRET, {Permission.READ}),
    BridgeKey("trader", TRADE_SECRET, {Permission.READ, Permission.TRADE}),
    BridgeKey("admin", ADMIN_SECRET, {Permission.READ, Permission.TRADE, Permission.ADMIN}),
    # Valid key, but only from a network the tests never call from.
    BridgeKey("far", FAR_SECRET, {Permission.READ, Permission.TRADE}, allowed_networks=("10.99.0.0/16",)),
    # Admin only: may not even read.
    BridgeKey("ops", OPS_SECRET, {Permission.ADMIN}),
)
SECRETS = {k.key_id: k.secret for k in KEYS}
START_NS = 1_750_000_000_000 * 1_000_000  # 2025-06-15, epoch ns, a whole millisecond


@dataclass
class FakeView:
    """A gateway as the bridge sees it; the tests change its fields."""

    listening: bool = True
    #: The order events the stream serves (None: the gateway is starting).
    feed: Any = field(default_factory=EventFeed)
    venues: tuple[tuple[str, bool], ...] = (("binance", True),)
    #: Order account key -> account name, for the stream's per-key account filter.
    names: dict[str, str] = field(default_factory=dict)
    session_list: list[SessionInfo] = field(
        default_factory=lambda: [
            SessionInfo("FIX.4.4", "FIXGW", "CLIENT44", "ACTIVE", True, 12, 34),
            SessionInfo("FIX.4.2", "FIXGW", "CLIENT42", "DISCONNECTED", False, 1, 1),
        ]
    )

    def sessions(self) -> list[SessionInfo]:
        return list(self.session_list)

    def readiness(self) -> Readiness:
        return Readiness(self.listening, self.venues)

    # The rest of the port: no orders, no venues, no actions (the live view is tested over a real gateway).
    def venues(self) -> list[Any]:
        return []

    def orders(self, query: OrderQuery) -> Page:
        return Page((), None)

    def order(self, ident: str, session: str | None = None, accounts: Any = None) -> tuple[None, int]:
        return None, 0

    def fills(self, query: OrderQuery) -> Page:
        return Page((), None)

    def session_action(self, ident: str, action: str, **kw: Any) -> AdminResult:
        return AdminResult(False, "not_found", "no such session")

    def order_counts(self) -> dict[tuple[str, str], int]:
        return {}

    def first_report_latency(self) -> dict[str, Any]:
        return {}

    def venue_latency(self) -> dict[tuple[str, str], Any]:
        return {}

    def account_names(self) -> dict[str, str]:
        return dict(self.names)

    def session_rejects(self) -> dict[tuple[str, str, str], int]:
        return {}

    def event_feed(self) -> Any:
        return self.feed

    def order_desk(self) -> None:
        return None  # a gateway still starting: order entry answers 503

    def order_row(self, ctx: Any, order: Any) -> dict[str, Any]:  # pragma: no cover - no desk, no rows
        raise AssertionError("no orders here")


def add_test_routes(app: Any) -> None:
    """Routes that exist only in the tests: an order-like echo (trade), an admin echo, a failing route."""

    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {"query": request.url.query, "body": body.decode("latin-1")}

    async def boom() -> None:
        raise RuntimeError("a route failed")

    async def typed(qty: int) -> dict[str, int]:
        return {"qty": qty}

    add_route(app, "/echo", echo, methods=["POST", "PATCH", "DELETE"], permission=Permission.TRADE)
    add_route(app, "/admin-echo", echo, methods=["POST"], permission=Permission.ADMIN)
    add_route(app, "/boom", boom, methods=["GET"], permission=Permission.READ)
    add_route(app, "/typed", typed, methods=["GET"], permission=Permission.READ)


class RawSigner:
    """Build requests by hand: sign one thing, send another, to test the server's checks."""

    def __init__(self, base_url: str, clock: FakeClock) -> None:
        self.base_url = base_url
        self.clock = clock
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def headers(self, key_id: str, method: str, path: str, query: str = "", body: bytes = b"", *,
                ts: int | None = None, secret: str | None = None) -> dict[str, str]:
        return signed_headers(
            key_id, secret if secret is not None else SECRETS[key_id], self.now_ms() if ts is None else ts,
            method, path, query, body,
        )

    def send(self, method: str, path: str, query: str = "", body: bytes = b"", *,
             headers: dict[str, str] | None = None) -> httpx.Response:
        url = path + ("?" + query if query else "")
        return self.http.request(method, url, content=body, headers=headers or {})

    def signed(self, key_id: str, method: str, path: str, query: str = "", body: bytes = b"",
               **kw: Any) -> httpx.Response:
        return self.send(method, path, query, body, headers=self.headers(key_id, method, path, query, body, **kw))

    def close(self) -> None:
        self.http.close()


def error_of(response: httpx.Response) -> tuple[int, str]:
    """Return (status, error code) of an error answer, checking the one error shape on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return response.status_code, body["error"]["code"]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()
