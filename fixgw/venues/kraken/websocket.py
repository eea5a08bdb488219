"""Kraken spot private WebSocket — not wired yet.

Kraken's private feed (``executions`` channel) needs a token from ``POST /0/private/GetWebSocketsToken``;
``TOKEN_METHOD`` names that call; ``subscribe_executions`` builds the subscription.
"""

from __future__ import annotations

__all__ = ["TOKEN_METHOD", "subscribe_executions"]

TOKEN_METHOD = "GetWebSocketsToken"


def subscribe_executions(token: str, req_id: int) -> dict:
    """Build the ``executions`` subscription (snapshot of open orders, then live updates)."""
    return {"method": "subscribe", "params": {"channel": "executions", "token": token, "snap_orders": True},
            "req_id": req_id}
