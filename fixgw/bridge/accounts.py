"""Accounts on the bridge: ``GET /v1/balances``, ``GET /v1/positions`` and ``GET /v1/instruments``.

Theory of operation
-------------------
**Balances** are the venue's: one venue call per venue account (the venue's ``balances``, every asset in
one answer, e.g. Binance's ``GET /api/v3/account``), never one call per asset, and nothing cached: each
request asks the venue. A venue account is the venue's credentials, shared by every order account (FIX
session or bridge account) routed to that venue; a key sees a venue's balances when it may read at least
one order account on it (a key for every account sees every venue). Without ``venue=`` every such venue
is asked, one after the other; a venue that fails carries an ``error`` in its entry and the others still
answer. With ``venue=`` a failure is the answer: 502 ``venue_error`` (the venue refused), 503
``venue_unavailable`` (unreachable, no answer within ``VENUE_TIMEOUT_S``, rate-limited or banned;
``Retry-After`` when the venue said), 501 ``unsupported`` (the adapter cannot ask). ``as_of`` is the
venue's time when the answer arrived: the gateway's clock plus the measured clock offset.

**Positions** are ours, from the journal's fills: per order account and symbol, the base quantity bought
minus sold (``quantity``; negative when more was sold than bought), each side's quantity and average
price, the quote flow and the fees by asset. On a spot venue nothing is borrowed or margined: a
"position" is the net of what the account's orders traded through this gateway since its journal began,
not the venue's balance (deposits, withdrawals and trades made elsewhere are not in it; see balances).
The first request scans every account's journal once (on the gateway's event loop: a journal of millions
of records holds the loop for seconds, so ask once early); later requests add the fills the drop-copy feed
numbered since (``EventFeed.subscribe(since)``), and scan again only when the feed no longer holds them.

**Instruments** are the gateway's, as loaded from each venue's instrument list at start-up (and its
refreshes): the normalized symbol, the FIX sessions' spelling, the venue's, and the trading rules
(tick, lot step, quantity, price and notional bounds, status). They are public facts: any ``read`` key
sees them all.

Symbols in ``symbol=`` are accepted in any spelling the gateway knows (normalized ``BTC/USDT``, the FIX
sessions' spelling, the venue's ``BTCUSDT``, any case). Everything here needs the ``read`` permission.
From the gateway it reads the view's ``venue_adapter``, ``order_accounts``, ``instruments``,
``order_desk`` and ``event_feed``; a view without them answers 503 ``not_ready``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Optional

import anyio
from fastapi import FastAPI, Query, Request

from fixgw.errors import (
    StoreError,
    TransportError,
    VenueBanned,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnknownOutcome,
)
from fixgw.logsafe import printable
from fixgw.orders import OrderFilled
from fixgw.orders.enums import OrderSide

from .errors import ApiError
from .keys import Permission
from .marketdata import dec_text, iso_ms
from .routes import readable
from .schemas import ERROR_RESPONSES, Balances, ErrorBody, Instruments, Positions
from .view import GatewayView

__all__ = ["install_account_routes", "PositionLedger", "Position", "VENUE_TIMEOUT_S", "venue_failure"]

log = logging.getLogger("fixgw.bridge")

#: Seconds a balances request waits for the venue (its rate limiter's queue included).
VENUE_TIMEOUT_S = 10.0

_RESPONSES: dict[int | str, dict[str, object]] = {
    **ERROR_RESPONSES,
    501: {"model": ErrorBody, "description": "the venue's adapter cannot report balances"},
    502: {"model": ErrorBody, "description": "the venue answered with an error"},
    503: {"model": ErrorBody, "description": "the gateway is starting, or the venue is unreachable or limiting us"},
}


def venue_failure(venue: str, exc: BaseException | None) -> ApiError:
    """The answer for a venue call that failed with ``exc`` (``None``: no answer in time)."""
    if exc is None:
        return ApiError(503, "venue_unavailable", f"{venue}: no answer within {VENUE_TIMEOUT_S:g} s")
    text = printable(str(exc))[:200]
    if isinstance(exc, VenueRejected) and exc.reason == "unsupported":
        return ApiError(501, "unsupported", text)
    if isinstance(exc, (VenueRateLimited, VenueBanned, VenueUnknownOutcome, TransportError)):
        retry = getattr(exc, "retry_after", None)
        headers = ({"Retry-After": str(max(1, math.ceil(retry)))}
                   if isinstance(retry, (int, float)) and math.isfinite(retry) else None)
        return ApiError(503, "venue_unavailable", f"{venue}: {text}", headers=headers)
    if not isinstance(exc, VenueError):  # a malformed answer the adapter could not read
        return ApiError(502, "venue_error", f"{venue}: the venue's answer could not be read ({type(exc).__name__})")
    return ApiError(502, "venue_error", f"{venue}: {text}")


# -- positions ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Position:
    """One account's traded net in one symbol (see the module docstring)."""

    account: str
    venue: str
    symbol: str
    bought: Decimal = Decimal(0)
    sold: Decimal = Decimal(0)
    bought_quote: Decimal = Decimal(0)
    sold_quote: Decimal = Decimal(0)
    fees: dict[str, Decimal] = field(default_factory=dict)
    fills: int = 0
    last_fill_ns: int | None = None

    def add(self, side: OrderSide, fill: OrderFilled) -> None:
        quote = fill.last_qty * fill.last_px
        if side is OrderSide.BUY:
            self.bought += fill.last_qty
            self.bought_quote += quote
        else:  # sell and sell short both take base out
            self.sold += fill.last_qty
            self.sold_quote += quote
        if fill.fee:
            asset = fill.fee_currency or "?"
            self.fees[asset] = self.fees.get(asset, Decimal(0)) + fill.fee
        self.fills += 1
        if self.last_fill_ns is None or fill.ts_ns > self.last_fill_ns:
            self.last_fill_ns = fill.ts_ns

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account, "venue": self.venue, "symbol": self.symbol,
            "quantity": dec_text(self.bought - self.sold), "bought": dec_text(self.bought), "sold": dec_text(self.sold),
            "avg_buy_price": dec_text(self.bought_quote / self.bought) if self.bought else None,
            "avg_sell_price": dec_text(self.sold_quote / self.sold) if self.sold else None,
            "quote_flow": dec_text(self.sold_quote - self.bought_quote),
            "fees": {a: dec_text(v) for a, v in sorted(self.fees.items())},
            "fills": self.fills, "last_fill_at": iso_ms(self.last_fill_ns),
        }


class PositionLedger:
    """Positions of every order account from the journals' fills, kept up to date from the event feed."""

    def __init__(self, view: GatewayView) -> None:
        self.view = view
        self._seen_id: int | None = None  # the feed's last id the positions include
        self._positions: dict[tuple[str, str, str], Position] = {}  # (account, venue, symbol) ->
        self.scans = 0  # full journal scans made (for the tests)

    def positions(self) -> list[Position]:
        """Bring the positions up to date; return them by account, venue and symbol.

        ``ApiError`` 503 while the gateway starts (or a journal cannot be read now)."""
        feed = getattr(self.view, "event_feed", lambda: None)()
        desk = getattr(self.view, "order_desk", lambda: None)()
        accounts = getattr(self.view, "order_accounts", None)
        if feed is None or desk is None or accounts is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        books = {journal.account: (name, venue, journal, book) for name, venue, journal, book in accounts()}
        try:
            desk.flush()  # every appended record committed: the journals can be read
            got = feed.subscribe(self._seen_id) if self._seen_id is not None else None
            if got is not None:
                events, sub = got
                feed.unsubscribe(sub)
                for ev in events:
                    if type(ev.event) is OrderFilled and ev.account in books:
                        self._apply(books[ev.account], ev.event)
            else:
                self._scan(books.values())
        except StoreError as exc:
            self._seen_id = None  # start again from the journals next time
            raise ApiError(503, "not_ready", "the journal cannot be read now; try again") from exc
        self._seen_id = feed.last_id
        return [self._positions[k] for k in sorted(self._positions)]

    def _scan(self, accounts: Iterable[tuple[str, str, Any, Any]]) -> None:
        self._positions.clear()
        self.scans += 1
        terms: dict[str, tuple[str, OrderSide] | None] = {}  # order id -> (symbol, side), for this scan only
        for entry in accounts:
            for _, record in entry[2].records():
                if type(record) is OrderFilled:
                    self._apply(entry, record, terms)

    def _apply(self, entry: tuple[str, str, Any, Any], fill: OrderFilled,
               cache: dict[str, tuple[str, OrderSide] | None] | None = None) -> None:
        name, venue, journal, book = entry
        if cache is not None and fill.order_id in cache:
            terms = cache[fill.order_id]
        else:
            terms = _terms(fill.order_id, journal, book)
            if cache is not None:
                cache[fill.order_id] = terms
        if terms is None:  # pragma: no cover - a fill of an order the journal does not hold
            return
        symbol, side = terms
        key = (name, venue, symbol)
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(name, venue, symbol)
        pos.add(side, fill)


def _terms(order_id: str, journal: Any, book: Any) -> tuple[str, OrderSide] | None:
    """(symbol, side) of our order ``order_id``: from the book, else from its journaled submit."""
    order = book.find(order_id=order_id)
    if order is not None:
        return (order.symbol, order.side)
    for record in journal.load_order(order_id):
        if hasattr(record, "side") and hasattr(record, "symbol"):
            return (record.symbol, record.side)
    return None


# -- the routes -----------------------------------------------------------------------------------


def _instrument_json(venue: str, client_symbol: str, i: Any) -> dict[str, Any]:
    def d(v: Decimal | None) -> str | None:
        return None if v is None else dec_text(v)

    return {"symbol": i.symbol, "client_symbol": client_symbol, "venue": venue, "venue_symbol": i.venue_symbol,
            "base": i.base, "quote": i.quote, "tick_size": d(i.tick_size), "lot_step": d(i.lot_step),
            "min_qty": d(i.min_qty), "max_qty": d(i.max_qty), "min_price": d(i.min_price),
            "max_price": d(i.max_price), "min_notional": d(i.min_notional), "max_notional": d(i.max_notional),
            "status": "trading" if i.trading else "halted"}


def _balance_rows(answer: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for asset in sorted(answer):
        b = answer[asset]
        free, locked = (b.free, b.locked) if hasattr(b, "free") else b  # a ``Balance``, or (free, locked)
        if free == 0 and locked == 0:
            continue
        rows.append({"asset": asset, "free": dec_text(free), "locked": dec_text(locked),
                     "total": dec_text(free + locked)})
    return rows


def install_account_routes(app: FastAPI, view: GatewayView, add_route: Any) -> PositionLedger:
    """Add ``GET /v1/balances``, ``/v1/positions`` and ``/v1/instruments`` to ``app``; return the ledger."""
    ledger = PositionLedger(view)
    app.state.position_ledger = ledger

    def instruments() -> dict[str, list[tuple[str, Any]]]:
        reader = getattr(view, "instruments", None)
        if reader is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        return reader()  # type: ignore[no-any-return]

    def normalized(symbol: str | None, venue: str | None) -> set[str] | None:
        """The normalized symbols ``symbol`` may name (any spelling, any case); ``None``: no filter."""
        if symbol is None:
            return None
        want = symbol.upper()
        names = {i.symbol for v, rows in instruments().items() if venue in (None, v) for c, i in rows
                 if want in (i.symbol.upper(), c.upper(), i.venue_symbol.upper())}
        return names or {symbol}

    def key_venues(request: Request) -> dict[str, list[str]]:
        """Venue -> the order accounts on it the request's key may read (venues with none left out)."""
        accounts = readable(request)
        reader = getattr(view, "order_accounts", None)
        if reader is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        out: dict[str, list[str]] = {}
        for name, venue, _, _ in reader():
            if accounts is None or name in accounts:
                names = out.setdefault(venue, [])
                if name not in names:
                    names.append(name)
        if accounts is None:  # every account: every venue, also one no account trades on
            for venue in instruments():
                out.setdefault(venue, [])
        return out

    async def ask(venue: str) -> tuple[dict[str, Any], ApiError | None]:
        """Ask ``venue`` for its balances: (its row, the error answer when it did not answer)."""
        adapter = getattr(view, "venue_adapter", lambda _: None)(venue)
        if adapter is None:
            raise ApiError(503, "not_ready", "the gateway is still starting")
        answer: dict[str, Any] | None = None
        failure: BaseException | None = None
        with anyio.move_on_after(VENUE_TIMEOUT_S):
            try:
                answer = await adapter.balances()
            except Exception as exc:  # noqa: BLE001 - any failure of the venue call is the venue's answer
                failure = exc
                if not isinstance(exc, (VenueError, TransportError)):
                    log.warning("bridge: balances of %s unreadable: %s", printable(venue), type(exc).__name__)
        clock = getattr(adapter, "server_clock", None)
        as_of = iso_ms(clock.now_ns()) if clock is not None and answer is not None else None
        row = {"venue": venue, "accounts": [], "as_of": as_of,
               "balances": _balance_rows(answer) if answer is not None else [], "error": None}
        return row, None if answer is not None else venue_failure(venue, failure)

    async def get_balances(request: Request, venue: Optional[str] = Query(None, max_length=64)) -> dict[str, Any]:
        venues = key_venues(request)
        if venue is not None:
            if venue not in venues:
                raise ApiError(404, "not_found", "no such venue among the key's accounts")
            row, failure = await ask(venue)
            if failure is not None:
                raise failure
            return {"venues": [{**row, "accounts": sorted(venues[venue])}]}
        rows = []
        for name in sorted(venues):
            row, failure = await ask(name)
            if failure is not None:
                row["error"] = {"code": failure.code, "message": failure.message}
            rows.append({**row, "accounts": sorted(venues[name])})
        return {"venues": rows}

    async def get_positions(
        request: Request,
        venue: Optional[str] = Query(None, max_length=64),
        symbol: Optional[str] = Query(None, max_length=64, description="any spelling: BTC/USDT, BTCUSDT"),
        account: Optional[str] = Query(None, max_length=64),
    ) -> dict[str, Any]:
        accounts = readable(request)
        symbols = normalized(symbol, venue)
        rows = [p.as_json() for p in ledger.positions()
                if (accounts is None or p.account in accounts) and venue in (None, p.venue)
                and account in (None, p.account) and (symbols is None or p.symbol in symbols)]
        return {"positions": rows}

    async def get_instruments(
        venue: Optional[str] = Query(None, max_length=64),
        symbol: Optional[str] = Query(None, max_length=64, description="any spelling: BTC/USDT, BTCUSDT"),
    ) -> dict[str, Any]:
        known = instruments()
        if venue is not None and venue not in known:
            raise ApiError(404, "not_found", "no such venue")
        symbols = normalized(symbol, venue)
        rows = [_instrument_json(v, c, i) for v in sorted(known) if venue in (None, v)
                for c, i in sorted(known[v], key=lambda ci: ci[1].symbol)
                if symbols is None or i.symbol in symbols]
        return {"instruments": rows}

    def route(path: str, endpoint: Any, model: Any, summary: str) -> None:
        add_route(app, path, endpoint, methods=["GET"], permission=Permission.READ, response_model=model,
                  responses=_RESPONSES, summary=summary)

    route("/balances", get_balances, Balances, "Balances of the venue accounts, from the venues (one call each)")
    route("/positions", get_positions, Positions, "Net traded position per account and symbol, from the fills")
    route("/instruments", get_instruments, Instruments, "Instruments with their venue spelling and trading rules")
    return ledger
