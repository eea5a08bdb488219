"""The snapshots the bridge reads: sessions, venues, readiness, order and fill rows, and page cursors.

Frozen dataclasses and plain JSON-ready dicts, made fresh on every call by ``LiveView`` (``_view``), so
the bridge serialises them without a lock. Money and quantities are decimal strings; times are RFC 3339
UTC with milliseconds. A cursor is the last row's sort key (creation time, id), base64url-encoded.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..orders import OrderFilled

if TYPE_CHECKING:
    from ._router import SessionContext

__all__ = ["SessionInfo", "Readiness", "VenueInfo", "RateWindow", "OrderQuery", "Page", "iso_time", "encode_cursor",
           "decode_cursor", "order_json", "fill_json", "page_of", "MAX_PAGE"]

_NS = 1_000_000_000
MAX_PAGE = 1000


#: The last second ``iso_time`` rendered, and its text up to the milliseconds: an order's two times
#: (and the next orders') fall in the same second far more often than not.
_last_second: list[Any] = [None, ""]


def iso_time(ns: int | None) -> str | None:
    """``ns`` (UTC epoch ns) as RFC 3339 with milliseconds, ``Z``; None stays None."""
    if ns is None:
        return None
    second, ms = divmod(ns // 1_000_000, 1000)
    cached = _last_second
    if cached[0] != second:
        text = datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        cached[0], cached[1] = second, text
    return f"{cached[1]}{ms:03d}Z"


def _dec(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One FIX session as the gateway sees it now. CompIDs are ours: we are the sender."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    state: str                 # the session engine's state name, e.g. "ACTIVE", "DISCONNECTED"
    logged_on: bool
    next_sender_seq: int       # MsgSeqNum of our next outbound message
    next_target_seq: int       # MsgSeqNum we expect next from the peer
    key: str = ""              # the session's short key (its order account), usable in URLs
    enabled: bool = True       # False: every Logon is refused (an operator disabled it)
    last_received_ns: int | None = None  # when the peer was last heard from (any message), UTC epoch ns
    peer_address: str | None = None

    @property
    def session_id(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "key": self.key,
            "begin_string": self.begin_string,
            "sender_comp_id": self.sender_comp_id,
            "target_comp_id": self.target_comp_id,
            "state": self.state,
            "logged_on": self.logged_on,
            "enabled": self.enabled,
            "next_sender_seq": self.next_sender_seq,
            "next_target_seq": self.next_target_seq,
            "last_heartbeat_at": iso_time(self.last_received_ns),
            "peer_address": self.peer_address,
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the gateway can do its work: its acceptor listens and every venue is connected."""

    acceptor_listening: bool
    venues: tuple[tuple[str, bool], ...] = ()  # (venue name, connected)

    @property
    def ready(self) -> bool:
        return self.acceptor_listening and all(up for _, up in self.venues)


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One rate limit of a venue: ``used`` of ``limit`` units in the current ``interval_s`` window."""

    name: str
    used: int
    limit: int
    interval_s: float

    @property
    def headroom(self) -> int:
        return max(self.limit - self.used, 0)


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """One venue connection now."""

    name: str
    kind: str
    simulated: bool
    connected: bool
    stream_state: str
    stream_reconnects: int
    clock_offset_ms: float | None
    rate_windows: tuple[RateWindow, ...]
    rate_limited_count: int    # 429 answers so far
    banned_until_ns: int | None
    unresolved_orders: int
    last_event_ns: int | None
    last_error: str | None
    last_error_ns: int | None
    api_key_expires: date | None
    api_key_days_left: int | None
    banned_count: int = 0            # 418 answers (bans) so far

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "simulated": self.simulated, "connected": self.connected,
            "stream_state": self.stream_state, "stream_reconnects": self.stream_reconnects,
            "clock_offset_ms": self.clock_offset_ms,
            "rate_limits": [{"window": w.name, "used": w.used, "limit": w.limit, "interval_s": w.interval_s,
                             "headroom": w.headroom} for w in self.rate_windows],
            "rate_limited_count": self.rate_limited_count, "banned_count": self.banned_count,
            "banned_until": iso_time(self.banned_until_ns),
            "unresolved_orders": self.unresolved_orders, "last_event_at": iso_time(self.last_event_ns),
            "last_error": None if self.last_error is None else {"at": iso_time(self.last_error_ns),
                                                               "message": self.last_error},
            "api_key_expires": None if self.api_key_expires is None else self.api_key_expires.isoformat(),
            "api_key_days_left": self.api_key_days_left,
        }


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters and page of an order or fill listing; None matches everything."""

    status: str | None = None        # "open" or "closed" (orders only)
    symbol: str | None = None
    venue: str | None = None
    account: str | None = None
    session: str | None = None       # session id or key
    order_id: str | None = None      # fills only
    since_ns: int | None = None      # orders updated (fills executed) at or after this time
    cursor: tuple[int, str] | None = None
    limit: int = 100
    accounts: frozenset[str] | None = None  # the accounts the caller may read (None: every one)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of rows and the cursor of the next one (None: this was the last)."""

    rows: tuple[dict[str, Any], ...]
    next_cursor: str | None


def encode_cursor(ts_ns: int, ident: str) -> str:
    return base64.urlsafe_b64encode(f"{ts_ns}:{ident}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, str] | None:
    """The sort key a cursor holds, or None for a cursor this server did not make."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        ts, _, ident = raw.partition(":")
        return (int(ts), ident) if ident and ts.isdigit() else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def page_of(rows: list[tuple[tuple[int, str], Any, Any]], limit: int, render: Any) -> Page:
    rows.sort(key=lambda r: r[0])
    limit = max(1, min(limit, MAX_PAGE))
    chosen = rows[:limit]
    nxt = encode_cursor(*chosen[-1][0]) if len(rows) > limit else None
    return Page(tuple(render(ctx, item) for _, ctx, item in chosen), nxt)


def order_json(ctx: SessionContext, order: Any) -> dict[str, Any]:
    """One order as the bridge shows it."""
    return {
        "order_id": order.order_id,
        "client_order_id": order.cl_ord_id,
        "orig_client_order_id": order.orig_cl_ord_id,
        "venue_order_id": order.venue_order_id,
        "session_id": _session_id(ctx),
        "session_key": ctx.key,
        "account": ctx.settings.account,
        "venue": ctx.venue.config.name,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "quantity": _dec(order.quantity),
        "quote_quantity": _dec(order.quote_quantity),
        "price": _dec(order.price),
        "trigger_price": _dec(order.trigger_price),
        "status": order.status.value,
        "open": order.is_open,
        "cum_qty": _dec(order.cum_qty),
        "leaves_qty": _dec(order.leaves_qty),
        "avg_px": _dec(order.avg_px),
        "notional": _dec(order.notional),
        "fees": {ccy: _dec(amount) for ccy, amount in sorted(order.fees.items())},
        "created_at": iso_time(order.ts_init_ns),
        "updated_at": iso_time(order.ts_last_ns),
        "entered_by": "rest" if _is_account(ctx) else "fix",
        "reject_reason": _reject_reason(order),
    }


def _is_account(ctx: SessionContext) -> bool:
    """A bridge account's context (``_desk.AccountContext``), not a FIX session's."""
    return getattr(ctx, "account", None) is not None


def _session_id(ctx: SessionContext) -> str | None:
    """The FIX session id of a session's order; ``None`` for a bridge account's (no FIX session)."""
    return None if _is_account(ctx) else str(ctx.session_id)


def _reject_reason(order: Any) -> str | None:
    """Why the order was rejected (its rejection's text), or ``None``."""
    if order.status.value != "rejected":
        return None
    for event in reversed(order.events):
        reason = getattr(event, "reason", None)
        if type(event).__name__ == "OrderRejected":
            return str(reason) if reason else None
    return None


def fill_json(ctx: SessionContext, order: Any, fill: OrderFilled) -> dict[str, Any]:
    """One execution as the bridge shows it."""
    return {
        "trade_id": fill.trade_id,
        "order_id": order.order_id,
        "client_order_id": order.cl_ord_id,
        "session_id": _session_id(ctx),
        "account": ctx.settings.account,
        "venue": ctx.venue.config.name,
        "symbol": order.symbol,
        "side": order.side.value,
        "last_qty": _dec(fill.last_qty),
        "last_px": _dec(fill.last_px),
        "fee": _dec(fill.fee),
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value if hasattr(fill.liquidity, "value") else str(fill.liquidity),
        "executed_at": iso_time(fill.ts_ns),
    }
