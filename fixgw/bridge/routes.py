"""The bridge's ``/v1`` read and administration routes over a ``GatewayView``.

Reading (``read``): ``GET /v1/orders`` (filters, cursor pages), ``GET /v1/orders/{id}`` (our order id,
the venue's, or a client order id), ``GET /v1/fills``, ``GET /v1/sessions``, ``GET /v1/venues`` (what the
web console shows with a read-only key). Administration (``admin``): the session actions ``logout``,
``sequence-numbers``, ``disable``, ``enable``.
A session in a path is its key (``CLIENT44_44``) or its id (``FIX.4.4:FIXGW->CLIENT44``, percent-encoded).

Orders and fills are those of the accounts the key names (``BridgeKey.accounts``); an order outside
them is not found.

A refused action is an error answer of the one shape: 404 ``not_found`` (no such session or order),
409 ``not_logged_on`` / ``session_connected`` / ``ambiguous_id``, 503 ``not_ready`` (still starting).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Optional

from fastapi import FastAPI, Query, Request

from fixgw.gateway import AdminResult, OrderQuery, decode_cursor

from .errors import ApiError
from .keys import BridgeKey, Permission
from .middleware import SCOPE_KEY
from .schemas import ERROR_RESPONSES, Done, Fills, LogoutBody, Order, Orders, SequenceNumbersBody, Sessions, Venues
from .view import GatewayView

__all__ = ["install_routes"]

_STATUS = {"not_found": 404, "not_logged_on": 409, "session_connected": 409, "invalid_request": 400,
           "not_ready": 503}


def _since_ns(since: datetime | None) -> int | None:
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return int(since.timestamp() * 1000) * 1_000_000


def _cursor(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    key = decode_cursor(text)
    if key is None:
        raise ApiError(400, "invalid_request", "cursor: not a cursor this server gave")
    return key


def readable(request: Request) -> frozenset[str] | None:
    """The accounts the request's key may read (``None``: every one)."""
    key = request.scope.get(SCOPE_KEY)
    return key.accounts if isinstance(key, BridgeKey) else frozenset()


def install_routes(app: FastAPI, view: GatewayView, add_route: Any) -> None:
    """Add the read and admin routes to ``app`` (``add_route`` is ``app.add_route`` of this package)."""

    def route(path: str, endpoint: Any, method: str, permission: Permission, model: Any, summary: str) -> None:
        add_route(app, path, endpoint, methods=[method], permission=permission, response_model=model,
                  responses=ERROR_RESPONSES, summary=summary)

    # -- administration ----------------------------------------------------------------------------

    def session_json(ident: str) -> dict[str, Any]:
        for s in view.sessions():
            if ident in (s.key, s.session_id):
                return s.as_json()
        raise ApiError(404, "not_found", "no such session")

    def act(ident: str, action: str, **kw: Any) -> dict[str, Any]:
        result: AdminResult = view.session_action(ident, action, **kw)
        if not result.ok:
            raise ApiError(_STATUS.get(result.code, 409), result.code, result.message)
        return {"ok": True, "session": session_json(ident)}

    async def list_sessions() -> dict[str, Any]:
        return {"sessions": [s.as_json() for s in view.sessions()]}

    async def logout(session: str, body: Optional[LogoutBody] = None) -> dict[str, Any]:
        return act(session, "logout", text=(body or LogoutBody()).text)

    async def set_sequence_numbers(session: str, body: SequenceNumbersBody) -> dict[str, Any]:
        if body.next_sender_seq is None and body.next_target_seq is None:
            raise ApiError(400, "invalid_request", "give next_sender_seq, next_target_seq or both")
        return act(session, "set_next_seqs", next_sender_seq=body.next_sender_seq,
                   next_target_seq=body.next_target_seq)

    async def disable(session: str) -> dict[str, Any]:
        return act(session, "disable")

    async def enable(session: str) -> dict[str, Any]:
        return act(session, "enable")

    async def list_venues() -> dict[str, Any]:
        return {"venues": [v.as_json() for v in view.venues()]}

    route("/sessions", list_sessions, "GET", Permission.READ, Sessions, "FIX sessions: state, sequence numbers, peer")
    route("/sessions/{session}/logout", logout, "POST", Permission.ADMIN, Done, "Log a session out")
    route("/sessions/{session}/sequence-numbers", set_sequence_numbers, "PUT", Permission.ADMIN, Done,
          "Set the next sequence numbers of a disconnected session")
    route("/sessions/{session}/disable", disable, "POST", Permission.ADMIN, Done,
          "Refuse the session's Logons (and log it out)")
    route("/sessions/{session}/enable", enable, "POST", Permission.ADMIN, Done, "Accept the session's Logons again")
    route("/venues", list_venues, "GET", Permission.READ, Venues,
          "Venues: stream, clock offset, rate-limit headroom, last error, API key expiry")

    # -- orders and fills --------------------------------------------------------------------------

    async def list_orders(
        request: Request,
        status: Optional[Literal["open", "closed"]] = None,
        symbol: Optional[str] = Query(None, max_length=64),
        venue: Optional[str] = Query(None, max_length=64),
        account: Optional[str] = Query(None, max_length=64),
        session: Optional[str] = Query(None, max_length=200),
        since: Optional[datetime] = Query(None, description="orders updated at or after (RFC 3339)"),
        cursor: Optional[str] = Query(None, max_length=300),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        page = view.orders(OrderQuery(status=status, symbol=symbol, venue=venue, account=account, session=session,
                                      since_ns=_since_ns(since), cursor=_cursor(cursor), limit=limit,
                                      accounts=readable(request)))
        return {"orders": list(page.rows), "next_cursor": page.next_cursor}

    async def get_order(request: Request, order_id: str,
                        session: Optional[str] = Query(None, max_length=200)) -> dict[str, Any]:
        row, matches = view.order(order_id, session, readable(request))
        if matches > 1:
            raise ApiError(409, "ambiguous_id", f"{matches} sessions hold an order by this id; add session=")
        if row is None:
            raise ApiError(404, "not_found", "no such order")
        return row

    async def list_fills(
        request: Request,
        symbol: Optional[str] = Query(None, max_length=64),
        venue: Optional[str] = Query(None, max_length=64),
        account: Optional[str] = Query(None, max_length=64),
        session: Optional[str] = Query(None, max_length=200),
        order_id: Optional[str] = Query(None, max_length=200, description="our order id or a client order id"),
        since: Optional[datetime] = Query(None, description="fills executed at or after (RFC 3339)"),
        cursor: Optional[str] = Query(None, max_length=300),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        page = view.fills(OrderQuery(symbol=symbol, venue=venue, account=account, session=session, order_id=order_id,
                                     since_ns=_since_ns(since), cursor=_cursor(cursor), limit=limit,
                                     accounts=readable(request)))
        return {"fills": list(page.rows), "next_cursor": page.next_cursor}

    route("/orders", list_orders, "GET", Permission.READ, Orders, "Orders (open, and recently closed)")
    route("/orders/{order_id}", get_order, "GET", Permission.READ, Order, "One order by any of its ids")
    route("/fills", list_fills, "GET", Permission.READ, Fills, "Executions")
