"""The running gateway as the bridge sees it: read-only snapshots, and the operator's session actions.

Theory of operation
-------------------
``LiveView(gateway)`` is the gateway side of the bridge's ``GatewayView`` port (the bridge sits above
the gateway, so the snapshot types live here and the bridge re-exports them). Every method is
synchronous, cheap and runs on the gateway's event loop; it returns fresh values (frozen dataclasses,
or plain JSON-ready dicts for orders and fills), so the bridge serialises them without a lock.

- ``sessions``: state, next sequence numbers both ways (the store's while disconnected, where an
  operator's change waits for the next connection), when the peer was last heard from, its address.
- ``venues``: stream state, clock offset, every rate-limit window with its headroom, 429 count, ban,
  the last warning the venue's logger wrote, and the days left on the API key where an expiry is set.
- ``readiness``: the acceptor listens and every venue's stream is subscribed.
- ``orders`` / ``order`` / ``fills``: from the order books. Lists cover the orders in memory (every
  open order and the ``terminal_order_retention`` most recently finished per session); ``order`` finds
  any order, asking the journal for one that left memory. Nothing here writes to a book or a journal.
- ``admin``: ``SessionAdmin`` (``_admin``), built once the acceptor exists.
- ``market_data`` / ``instrument_names``: the shared venue books and candles (``_marketdata``, read through
  its accessors) and every venue's symbol spellings, for the bridge's market-data routes and channels.

Pagination is by an opaque cursor (``_snapshots``): the next page starts strictly after the last row's
sort key, so rows added meanwhile after the cursor are not skipped. The snapshot types live in ``_snapshots``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from ..logsafe import printable
from ..orders import OrderFilled
from ..session import SessionID
from ._admin import AdminResult, SessionAdmin
from ._desk import OrderDesk
from ._feed import EventFeed
from ._latency import Histogram
from ._snapshots import (
    OrderQuery,
    Page,
    RateWindow,
    Readiness,
    SessionInfo,
    VenueInfo,
    decode_cursor,
    fill_json,
    iso_time,
    order_json,
    page_of,
)

if TYPE_CHECKING:
    from ._app import Gateway
    from ._router import SessionContext

__all__ = ["LiveView", "SessionInfo", "Readiness", "VenueInfo", "RateWindow", "OrderQuery", "Page", "iso_time",
           "decode_cursor"]

_NS = 1_000_000_000


class _LastVenueError(logging.Handler):
    """Keeps the last warning-or-worse line of each venue kind's logger (``fixgw.venues.<kind>``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: dict[str, tuple[int, str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = record.name.split(".")
            kind = parts[2] if len(parts) > 2 else ""
            self.last[kind] = (int(record.created * _NS), printable(record.getMessage())[:300])
        except Exception:  # pragma: no cover - a log line must never break the caller
            pass


class LiveView:
    """The bridge's read-only view of ``gateway`` and its session actions (see the module docstring)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self._admin: SessionAdmin | None = None
        self._errors = _LastVenueError()
        venues_log = logging.getLogger("fixgw.venues")
        venues_log.addHandler(self._errors)

    def close(self) -> None:
        """Stop watching the venues' log."""
        logging.getLogger("fixgw.venues").removeHandler(self._errors)

    # -- sessions ----------------------------------------------------------------------------------

    def _contexts(self) -> list[SessionContext]:
        return list(self._gw._router.sessions.values())

    def _order_contexts(self) -> list[SessionContext]:
        """The FIX sessions' and the bridge accounts' contexts: every book."""
        return list(self._gw._router.accounts.values())

    def order_desk(self) -> OrderDesk | None:
        """Order entry and kill switches, once the gateway is ready (``None`` while it starts)."""
        return self._gw.desk if self._gw.ready.is_set() else None

    def event_feed(self) -> EventFeed | None:
        """The numbered order events, once the gateway is ready (``None`` while it starts)."""
        return self._gw.feed if self._gw.ready.is_set() else None

    def order_row(self, ctx: SessionContext, order: Any) -> dict[str, Any]:
        """One order as the bridge shows it."""
        return order_json(ctx, order)

    def context(self, ident: str) -> SessionContext | None:
        """The session whose id (``FIX.4.4:FIXGW->CLIENT44``) or key (``CLIENT44_44``) is ``ident``."""
        for ctx in self._contexts():
            if ident in (ctx.key, str(ctx.session_id)):
                return ctx
        return None

    @property
    def admin(self) -> SessionAdmin | None:
        """The session actions, once the acceptor (and so every session handle) exists."""
        if self._admin is None and self._gw.acceptor is not None:
            self._admin = SessionAdmin(self._gw.acceptor.handles.items())
        return self._admin

    def sessions(self) -> list[SessionInfo]:
        admin = self.admin
        out = []
        for ctx in self._contexts():
            s = ctx.settings
            handle = ctx.handle
            if handle is None:  # configured, not built yet (the gateway is starting)
                out.append(SessionInfo(s.begin_string, s.sender_comp_id, s.target_comp_id, "STARTING", False, 0, 0,
                                       key=ctx.key))
                continue
            engine = handle.session
            connected = handle.is_connected
            peer = handle.peer_address
            out.append(SessionInfo(
                s.begin_string, s.sender_comp_id, s.target_comp_id, engine.state.name, handle.is_logged_on,
                engine.next_sender_seq, engine.next_target_seq if connected else engine.store.next_target_seq,
                key=ctx.key, enabled=admin.is_enabled(ctx.session_id) if admin else True,
                last_received_ns=_last_received_ns(engine) if connected else None,
                peer_address=None if peer is None else _peer_text(peer),
            ))
        return out

    def session_action(self, ident: str, action: str, **kw: Any) -> AdminResult:
        """Run ``logout`` / ``set_next_seqs`` / ``disable`` / ``enable`` on session ``ident``."""
        ctx = self.context(ident)
        admin = self.admin
        if ctx is None:
            return AdminResult(False, "not_found", "no such session")
        if admin is None:
            return AdminResult(False, "not_ready", "the gateway is still starting")
        sid: SessionID = ctx.session_id
        return getattr(admin, action)(sid, **kw)  # type: ignore[no-any-return]

    # -- venues and readiness ----------------------------------------------------------------------

    def venues(self) -> list[VenueInfo]:
        out = []
        today = datetime.fromtimestamp(self._gw._clock.now_ns() / _NS, tz=timezone.utc).date()
        for name, vctx in self._gw._venues.items():
            cfg, adapter = vctx.config, vctx.adapter
            h = adapter.health()
            limiter = getattr(adapter, "limiter", None)
            windows = getattr(limiter, "windows", None)
            rates = tuple(RateWindow(*w) for w in windows()) if windows is not None else (
                RateWindow("weight", h.weight_used, h.weight_limit, 60.0),)
            err = self._errors.last.get(cfg.kind)
            expires = cfg.api_key_expires
            out.append(VenueInfo(
                name=name, kind=cfg.kind, simulated=cfg.simulated, connected=_connected(h),
                stream_state=h.stream_state.name, stream_reconnects=h.stream_reconnects,
                clock_offset_ms=h.clock_offset_ms, rate_windows=rates,
                rate_limited_count=int(getattr(limiter, "rate_limited_count", 0)),
                banned_count=int(getattr(limiter, "banned_count", 0)),
                banned_until_ns=h.banned_until_ns, unresolved_orders=h.unresolved_orders,
                last_event_ns=h.last_event_ns, last_error=None if err is None else err[1],
                last_error_ns=None if err is None else err[0], api_key_expires=expires,
                api_key_days_left=None if expires is None else (expires - today).days,
            ))
        return out

    def readiness(self) -> Readiness:
        acceptor = self._gw.acceptor
        listening = self._gw.ready.is_set() and acceptor is not None and acceptor.port is not None
        venues = tuple((name, _connected(v.adapter.health())) for name, v in self._gw._venues.items())
        if not venues:  # not opened yet: every configured venue counts as down
            venues = tuple((v.name, False) for v in self._gw.config.venues)
        return Readiness(listening, venues)

    # -- orders and fills --------------------------------------------------------------------------

    def _selected(self, q: OrderQuery) -> Iterator[tuple[SessionContext, Any]]:
        for ctx in self._order_contexts():
            if q.session is not None and q.session not in (ctx.key, str(ctx.session_id)):
                continue
            if q.venue is not None and ctx.venue.config.name != q.venue:
                continue
            if q.account is not None and ctx.settings.account != q.account:
                continue
            if q.accounts is not None and ctx.settings.account not in q.accounts:
                continue
            for order in ctx.book:
                if q.symbol is not None and order.symbol != q.symbol:
                    continue
                yield ctx, order

    def orders(self, q: OrderQuery) -> Page:
        rows = []
        for ctx, order in self._selected(q):
            if q.status == "open" and not order.is_open or q.status == "closed" and order.is_open:
                continue
            if q.since_ns is not None and order.ts_last_ns < q.since_ns:
                continue
            key = (order.ts_init_ns, order.order_id)
            if q.cursor is not None and key <= q.cursor:
                continue
            rows.append((key, ctx, order))
        return page_of(rows, q.limit, lambda ctx, order: order_json(ctx, order))

    def order(self, ident: str, session: str | None = None,
              accounts: frozenset[str] | None = None) -> tuple[dict[str, Any] | None, int]:
        """The order whose id, venue order id or client order id is ``ident``: (row, how many matched);
        ``accounts``: only in these accounts (``None``: any)."""
        found = []
        for ctx in self._order_contexts():
            if session is not None and session not in (ctx.key, str(ctx.session_id)):
                continue
            if accounts is not None and ctx.settings.account not in accounts:
                continue
            order = ctx.book.find(order_id=ident) or ctx.book.find(cl_ord_id=ident)
            if order is not None:
                found.append((ctx, order))
        if len(found) != 1:
            return None, len(found)
        return order_json(*found[0]), 1

    def fills(self, q: OrderQuery) -> Page:
        rows = []
        for ctx, order in self._selected(q):
            if not order.trade_ids or q.order_id is not None and q.order_id not in (order.order_id, order.cl_ord_id):
                continue
            for event in order.events:
                if type(event) is not OrderFilled:
                    continue
                if q.since_ns is not None and event.ts_ns < q.since_ns:
                    continue
                key = (event.ts_ns, event.trade_id)
                if q.cursor is not None and key <= q.cursor:
                    continue
                rows.append((key, ctx, (order, event)))
        return page_of(rows, q.limit, lambda ctx, pair: fill_json(ctx, *pair))

    # -- metrics -----------------------------------------------------------------------------------

    def order_counts(self) -> dict[tuple[str, str], int]:
        """(session id, status) -> orders in memory."""
        counts: dict[tuple[str, str], int] = {}
        for ctx in self._contexts():
            sid = str(ctx.session_id)
            for order in ctx.book:
                k = (sid, order.status.value)
                counts[k] = counts.get(k, 0) + 1
        return counts

    def account_names(self) -> dict[str, str]:
        """Order account key (a FIX session's or a bridge account's) -> its account name."""
        return {ctx.key: ctx.settings.account for ctx in self._order_contexts()}

    def first_report_latency(self) -> dict[str, Histogram]:
        """Label -> submit to first report histogram (a copy): FIX sessions by session id, bridge accounts
        as ``bridge:<name>``."""
        labels = {ctx.key: f"bridge:{ctx.settings.account}" if getattr(ctx, "account", None) is not None
                  else str(ctx.session_id) for ctx in self._order_contexts()}
        return {labels.get(key, key): h.copy() for key, h in self._gw._router.first_report.items()}

    def venue_latency(self) -> dict[tuple[str, str], Histogram]:
        """(venue, endpoint) -> how long the venue calls took (a copy)."""
        return {(name, endpoint): h.copy() for name, vctx in self._gw._venues.items()
                for endpoint, h in vctx.latency.items()}

    def session_rejects(self) -> dict[tuple[str, str, str], int]:
        """(session id, kind, reason) -> rejects the gateway sent (see ``Gateway.on_event``)."""
        return dict(getattr(self._gw, "rejects", {}))

    # -- market data -------------------------------------------------------------------------------

    def market_data(self) -> Any:
        """The gateway's ``MarketData`` (shared venue books, trades, candles), ``None`` while it starts."""
        return self._gw.marketdata if self._gw.ready.is_set() else None

    def instrument_names(self) -> dict[str, list[tuple[str, str, str]]]:
        """Venue -> its instruments as (normalized ``BTC/USDT``, the FIX sessions' spelling, the venue's
        ``BTCUSDT``); empty while the venues are being opened."""
        return {name: [(i.symbol, v.symbols.client(i.symbol), i.venue_symbol) for i in v.instruments.values()]
                for name, v in self._gw._venues.items() if getattr(v, "symbols", None) is not None}

    # -- accounts (the bridge's balances, positions and instruments) ------------------------------

    def venue_adapter(self, venue: str) -> Any:
        """Venue ``venue``'s adapter (for its ``balances``), ``None`` if unknown or while the gateway starts."""
        vctx = self._gw._venues.get(venue) if self._gw.ready.is_set() else None
        return None if vctx is None else vctx.adapter

    def order_accounts(self) -> list[tuple[str, str, Any, Any]]:
        """Every order account (FIX session or bridge account) as (account name, venue name, journal, book)."""
        return [(ctx.settings.account, ctx.venue.config.name, ctx.journal, ctx.book)
                for ctx in self._order_contexts()]

    def instruments(self) -> dict[str, list[tuple[str, Any]]]:
        """Venue -> its loaded instruments as (the FIX sessions' spelling, ``Instrument``); empty while
        the venues are being opened."""
        return {name: [(v.symbols.client(i.symbol), i) for i in v.instruments.values()]
                for name, v in self._gw._venues.items() if getattr(v, "symbols", None) is not None}


def _last_received_ns(engine: Any) -> int | None:
    """When the peer was last heard from (``Session.last_received_ns``)."""
    return engine.last_received_ns


def _connected(h: Any) -> bool:
    return h.stream_state.name == "SUBSCRIBED" and h.banned_until_ns is None


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return printable(str(peer))
