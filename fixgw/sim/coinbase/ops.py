"""The venue's operations over the shared engine: order entry, cancels, queries, fills, accounts, products.

Each operation takes the request's pieces (account, path ids, query, JSON body) and returns the JSON
answer, plus pagination headers where the venue sends them; refusals are ``CoinbaseError``. Engine
refusals (Binance-coded ``ApiError``) are said in the venue's words (``errors.from_engine``).

Post-only orders that would take are answered 200 with ``status: rejected`` and ``reject_reason:
post only`` and never reach the book. Order types beyond limit and market (stops), ``GTT`` and
``max_floor`` are refused with 400 and a message that says the simulator does not support them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from ..engine import MatchingEngine
from ..errors import WOULD_TAKE, ApiError
from ..instruments import InstrumentSpec, fmt
from ..model import NewOrder, Order
from .errors import CoinbaseError, from_engine, not_found
from .formats import UUID_RE, OrderIds, account_rows, fee_in_quote, fill_json, iso, order_json, product_json
from .symbols import ProductMap

__all__ = ["CoinbaseOps", "Query"]

_STP = {"dc": "EXPIRE_MAKER", "co": "EXPIRE_MAKER", "cn": "EXPIRE_TAKER", "cb": "EXPIRE_BOTH"}
_OPEN = ("open", "pending", "active")
_ALL = ("open", "pending", "active", "done", "received", "rejected")

Query = list[tuple[str, str]]


def _q(query: Query, name: str) -> str | None:
    for k, v in query:
        if k == name and v != "":
            return v
    return None


def _dec(body: dict[str, Any], name: str, label: str) -> Decimal | None:
    raw = body.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise CoinbaseError(400, f"Invalid {label}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CoinbaseError(400, f"Invalid {label}") from None
    if not value.is_finite() or value <= 0:
        raise CoinbaseError(400, f"Invalid {label}")
    return value


def _multiple(value: Decimal, unit: Decimal) -> bool:
    return unit == 0 or value % unit == 0


def _limit(query: Query) -> int:
    raw = _q(query, "limit")
    if raw is None:
        return 100
    if not raw.isdigit():
        raise CoinbaseError(400, "Invalid limit")
    return max(1, min(int(raw), 1000))


def _cursor(query: Query, name: str) -> int | None:
    raw = _q(query, name)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise CoinbaseError(400, f"Invalid {name}")
    return int(raw)


class CoinbaseOps:
    """The operations; ``fees`` (quote-currency fees per engine order) is kept up by the feed's hook."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self.products = ProductMap(engine.instruments.values())
        self.ids = OrderIds()
        self.fees: dict[tuple[str, int], Decimal] = {}
        #: sends what the engine emitted (``SimState.publish``): the fee of an answer's fills is counted then
        self.publish: Any = lambda: None

    # -- helpers -------------------------------------------------------------------------------
    def product(self, pid: str | None) -> InstrumentSpec:
        spec = self.products.spec(pid)
        if spec is None:
            raise CoinbaseError(404 if pid else 400, "NotFound" if pid else "Invalid product_id")
        return spec

    def note_fee(self, symbol: str, order_id: int, commission: Decimal, asset: str | None, price: Decimal) -> None:
        spec = self.engine.instruments[symbol]
        key = (symbol, order_id)
        self.fees[key] = self.fees.get(key, Decimal(0)) + fee_in_quote(commission, asset, price, spec)

    def order_out(self, o: Order) -> dict[str, Any]:
        key = (o.symbol, o.order_id)
        return order_json(o, self.products.product_of[o.symbol], self.ids.uuid_of(*key), self.fees.get(key, Decimal(0)),
                          key in self.ids.client_oids)

    def _order(self, account: str, ref: str, pid: str | None) -> Order:
        """The account's order named ``<uuid>`` or ``client:<client_oid>``; 404 otherwise."""
        if ref.startswith("client:"):
            oid = ref[len("client:"):].lower()
            specs = [self.product(pid)] if pid else list(self.engine.instruments.values())
            for spec in specs:
                o = self.engine.find_order(account, spec.symbol, client_order_id=oid)
                if o is not None and (spec.symbol, o.order_id) in self.ids.client_oids:
                    return o
            raise not_found()
        found = self.ids.find(ref)
        if found is None:
            raise not_found()
        symbol, order_id = found
        o = self.engine.orders[symbol].get(order_id)
        if o is None or o.account_id != account:
            raise not_found()
        return o

    # -- public --------------------------------------------------------------------------------
    def time(self, now_ms: int) -> dict[str, Any]:
        return {"iso": iso(now_ms), "epoch": float(Decimal(now_ms) / 1000)}

    def products_list(self) -> list[dict[str, Any]]:
        return [product_json(spec, pid) for pid, spec in sorted(self.products.by_product.items())]

    def product_one(self, pid: str) -> dict[str, Any]:
        spec = self.product(pid)
        return product_json(spec, self.products.product_of[spec.symbol])

    def book(self, pid: str, query: Query, now_ms: int) -> dict[str, Any]:
        spec = self.product(pid)
        level = _q(query, "level") or "1"
        if level not in ("1", "2"):
            raise CoinbaseError(400, "Invalid level")
        book = self.engine.books[spec.symbol]
        depth = 1 if level == "1" else 50

        def side(s: str) -> list[list[Any]]:
            rows: dict[Decimal, list[Any]] = {}
            for o in book.orders_from_best(s):
                row = rows.get(o.price)
                if row is None:
                    if len(rows) == depth:
                        break
                    row = rows[o.price] = [o.price, Decimal(0), 0]
                row[1] += o.remaining
                row[2] += 1
            return [[fmt(p), fmt(q), n] for p, q, n in rows.values()]

        trades = self.engine.trades[spec.symbol]
        return {"bids": side("BUY"), "asks": side("SELL"), "sequence": trades[-1].trade_id if trades else 0,
                "auction_mode": False, "auction": None, "time": iso(now_ms)}

    def ticker(self, pid: str, now_ms: int) -> dict[str, Any]:
        spec = self.product(pid)
        book = self.engine.books[spec.symbol]
        trades = self.engine.trades[spec.symbol]
        last = trades[-1] if trades else None
        volume = sum((t.qty for t in trades), Decimal(0))
        return {"ask": fmt(book.best("SELL")), "bid": fmt(book.best("BUY")), "volume": fmt(volume),
                "trade_id": last.trade_id if last else 0, "price": fmt(self.engine.reference_price(spec.symbol)),
                "size": fmt(last.qty if last else None), "time": iso(last.time if last else now_ms)}

    # -- orders --------------------------------------------------------------------------------
    def parse_order(self, body: Any) -> tuple[NewOrder, InstrumentSpec, bool]:
        """Check a ``POST /orders`` body; return the engine request, its product, and whether it has a client_oid."""
        if not isinstance(body, dict):
            raise CoinbaseError(400, "Invalid request body")
        spec = self.products.spec(body.get("product_id"))
        if spec is None:
            raise CoinbaseError(400, "Invalid product_id")
        side = body.get("side")
        if side not in ("buy", "sell"):
            raise CoinbaseError(400, "Invalid side")
        otype = body.get("type", "limit")
        if otype not in ("limit", "market"):
            raise CoinbaseError(400, f"Invalid order_type {otype}")
        if body.get("stop") is not None or body.get("stop_price") is not None:
            raise CoinbaseError(400, "stop orders are not supported by this simulator")
        if body.get("max_floor") is not None:
            raise CoinbaseError(400, "max_floor is not supported by this simulator")
        stp = body.get("stp", "dc")
        if stp not in _STP:
            raise CoinbaseError(400, "Invalid stp")
        post_only = body.get("post_only", False)
        if post_only not in (True, False, "true", "false"):
            raise CoinbaseError(400, "Invalid post_only")
        post_only = post_only in (True, "true")
        size = _dec(body, "size", "Size")
        funds = _dec(body, "funds", "Funds")
        price = _dec(body, "price", "Price")
        tif = None
        if otype == "limit":
            tif = body.get("time_in_force", "GTC")
            if tif == "GTT":
                raise CoinbaseError(400, "time_in_force GTT is not supported by this simulator")
            if tif not in ("GTC", "IOC", "FOK"):
                raise CoinbaseError(400, "Invalid time_in_force")
            if post_only and tif != "GTC":
                raise CoinbaseError(400, "Invalid post_only: not allowed with IOC or FOK")
            if price is None:
                raise CoinbaseError(400, "price is required")
            if funds is not None:
                raise CoinbaseError(400, "funds on limit orders are not supported by this simulator")
            if size is None:
                raise CoinbaseError(400, "size is required")
        else:
            if price is not None:
                raise CoinbaseError(400, "price is not allowed on market orders")
            if (size is None) == (funds is None):
                raise CoinbaseError(400, "market orders need exactly one of size and funds")
            if post_only:
                raise CoinbaseError(400, "Invalid post_only: not allowed on market orders")
        if price is not None and not _multiple(price, spec.tick_size):
            raise CoinbaseError(400, f"price is too accurate. Smallest unit is {fmt(spec.tick_size)}")
        if size is not None and not _multiple(size, spec.step_size):
            raise CoinbaseError(400, f"size is too accurate. Smallest unit is {fmt(spec.step_size)}")
        if funds is not None and not _multiple(funds, spec.tick_size):
            raise CoinbaseError(400, f"funds is too accurate. Smallest unit is {fmt(spec.tick_size)}")
        notional = funds if funds is not None else (price * size if price is not None and size is not None else None)
        if notional is not None and spec.min_notional and notional < spec.min_notional:
            raise CoinbaseError(400, f"funds is too small. Minimum size is {fmt(spec.min_notional)}")
        client_oid = body.get("client_oid")
        has_oid = isinstance(client_oid, str) and bool(UUID_RE.match(client_oid)) and len(client_oid) == 36
        req = NewOrder(
            symbol=spec.symbol, side=side.upper(),
            type="MARKET" if otype == "market" else ("LIMIT_MAKER" if post_only else "LIMIT"),
            quantity=size, price=price, time_in_force=None if (otype == "market" or post_only) else tif,
            quote_order_qty=funds, new_client_order_id=client_oid.lower() if has_oid else None,
            stp_mode=_STP[stp],
        )
        return req, spec, has_oid

    def place(self, account: str, body: Any, now_ms: int) -> tuple[dict[str, Any], tuple[str, int] | None]:
        """``POST /orders``: the answer and the engine order it made (None for a rejected post-only)."""
        req, spec, has_oid = self.parse_order(body)
        try:
            placed = self.engine.place(account, req, now_ms)
        except ApiError as err:
            if err.msg == WOULD_TAKE:
                return self._rejected(body, spec, req, now_ms), None
            raise from_engine(err, spec) from None
        o = placed.order
        self.ids.register(account, o.symbol, o.order_id, has_oid)
        self.publish()
        return self.order_out(self.engine.orders[o.symbol][o.order_id]), (o.symbol, o.order_id)

    def _rejected(self, body: dict[str, Any], spec: InstrumentSpec, req: NewOrder, now_ms: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(uuid.uuid4()), "price": fmt(req.price), "size": fmt(req.quantity),
            "product_id": self.products.product_of[spec.symbol], "side": req.side.lower(), "type": "limit",
            "time_in_force": "GTC", "post_only": True, "created_at": iso(now_ms), "fill_fees": "0",
            "filled_size": fmt(None), "executed_value": "0", "status": "rejected", "settled": False,
            "reject_reason": "post only",
        }
        if req.new_client_order_id:
            out["client_oid"] = req.new_client_order_id
        return out

    def cancel(self, account: str, ref: str, query: Query, now_ms: int) -> str:
        """``DELETE /orders/{id | client:<oid>}``: the canceled order's id."""
        o = self._order(account, ref, _q(query, "product_id"))
        if o.is_done:
            raise CoinbaseError(400, "Order already done")
        try:
            self.engine.cancel(account, o.symbol, now_ms, order_id=o.order_id)
        except ApiError as err:
            raise from_engine(err) from None
        return self.ids.uuid_of(o.symbol, o.order_id)

    def cancel_all(self, account: str, query: Query, now_ms: int) -> list[str]:
        """``DELETE /orders[?product_id=]``: ids of the orders canceled (an empty list when none were open)."""
        pid = _q(query, "product_id")
        specs = [self.product(pid)] if pid else list(self.engine.instruments.values())
        out = []
        with self.engine.batch(now_ms):
            for spec in specs:
                for o in self.engine.open_orders(account, spec.symbol):
                    self.engine.cancel(account, spec.symbol, now_ms, order_id=o.order_id)
                    out.append(self.ids.uuid_of(spec.symbol, o.order_id))
        return out

    def get_order(self, account: str, ref: str, query: Query) -> dict[str, Any]:
        return self.order_out(self._order(account, ref, _q(query, "product_id")))

    def list_orders(self, account: str, query: Query) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """``GET /orders``: newest first; ``status`` repeated or comma-joined (default open and pending)."""
        wanted: set[str] = set()
        for k, v in query:
            if k == "status":
                wanted.update(s for s in v.split(",") if s)
        if not wanted:
            wanted = set(_OPEN)
        if "all" in wanted:
            wanted = set(_ALL)
        pid = _q(query, "product_id")
        symbol = self.product(pid).symbol if pid else None
        limit, before, after = _limit(query), _cursor(query, "before"), _cursor(query, "after")
        ascending = _q(query, "sorting") == "asc"
        rows = []
        for sym, order_id in reversed(self.ids.of_account.get(account, [])):
            if symbol is not None and sym != symbol:
                continue
            o = self.engine.orders[sym][order_id]
            status = "done" if o.is_done else "open"
            if status not in wanted:
                continue
            seq = self.ids.seq(sym, order_id)
            if (after is not None and seq >= after) or (before is not None and seq <= before):
                continue
            rows.append((seq, o))
        if before is not None:  # the newer page: the oldest of the newer ones first
            rows = rows[-limit:]
        else:
            rows = rows[:limit]
        if ascending:
            rows.reverse()
        return [self.order_out(o) for _, o in rows], _page_headers([s for s, _ in rows])

    def fills(self, account: str, query: Query) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """``GET /fills?order_id=|product_id=``: newest first, ``trade_id`` cursors."""
        oid, pid = _q(query, "order_id"), _q(query, "product_id")
        if oid is None and pid is None:
            raise CoinbaseError(400, "order_id or product_id is required")
        symbol = self.product(pid).symbol if pid else None
        order = None
        if oid is not None:
            order = self.ids.find(oid)
            if order is None:
                return [], {}
            if symbol is not None and order[0] != symbol:
                return [], {}
            symbol = order[0]
        limit, before, after = _limit(query), _cursor(query, "before"), _cursor(query, "after")
        rows = []
        for f in reversed(self.engine.fills.get(account, [])):
            if (symbol is not None and f.symbol != symbol) or (order is not None and f.order_id != order[1]):
                continue
            if (after is not None and f.trade_id >= after) or (before is not None and f.trade_id <= before):
                continue
            rows.append(f)
        rows = rows[-limit:] if before is not None else rows[:limit]
        out = [fill_json(f, self.products.product_of[f.symbol], self.ids.uuid_of(f.symbol, f.order_id), account,
                         self.engine.instruments[f.symbol]) for f in rows]
        return out, _page_headers([f.trade_id for f in rows])

    def accounts(self, account: str) -> list[dict[str, Any]]:
        acct = self.engine.accounts.get(account)
        return account_rows(account, acct.balances if acct else {})

    def account_one(self, account: str, account_id: str) -> dict[str, Any]:
        for row in self.accounts(account):
            if row["id"] == account_id:
                return row
        raise not_found()

    def fees_json(self) -> dict[str, str]:
        return {"maker_fee_rate": fmt(self.engine.maker_commission), "taker_fee_rate": fmt(self.engine.taker_commission),
                "usd_volume": "0"}


def _page_headers(cursors: list[int]) -> dict[str, str]:
    if not cursors:
        return {}
    return {"CB-BEFORE": str(max(cursors)), "CB-AFTER": str(min(cursors))}
