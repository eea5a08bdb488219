"""The matching engine of the simulated exchange: price-time priority per symbol. Pure, no I/O.

Theory of operation: every public method takes ``now_ms`` and either raises ``ApiError`` (nothing
changed) or applies the whole operation and appends its events to ``events`` (drain them with
``drain_events``). An accepted order first locks funds (a BUY limit locks ``price*qty`` of the quote
asset, a SELL locks ``qty`` of the base asset), gets a NEW report, then matches against the opposite
side from the best price, oldest order first, at the resting order's price. Fills settle both
accounts at once: the buyer receives base less commission, the seller quote less commission; the
commission goes to ``fees``, so the total of every asset over accounts plus fees never changes.
A remainder rests (GTC limit) or expires (MARKET, IOC; FOK never partly fills). Stop orders wait in
``stops`` until the last trade price reaches their stop price, then work as MARKET or LIMIT orders;
a trade they make can trigger further stops, handled in a loop until nothing more triggers.
An iceberg (``icebergQty``) is checked as the venue checks it (LOT_SIZE, ICEBERG_PARTS) and echoed in
every report, but matches as one whole order: the book and its depth show the full quantity.
"""

from __future__ import annotations

import random
import string
from collections import deque
from contextlib import contextmanager
from decimal import ROUND_DOWN, Decimal
from typing import Any, Iterable, Iterator

from .book import OrderBook
from .errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    WOULD_TAKE,
    WOULD_TRIGGER,
    ApiError,
    bad_symbol,
    filter_failure,
    new_order_rejected,
    unknown_order,
)
from .instruments import ALGO_TYPES, InstrumentSpec
from .model import (
    DONE,
    ZERO,
    LIMIT_TYPES,
    MARKET_TYPES,
    STOP_TYPES,
    Account,
    AccountPosition,
    BalanceUpdate,
    DepthUpdate,
    Event,
    ExecutionReport,
    Fill,
    NewOrder,
    Order,
    PublicTrade,
)

__all__ = ["MatchingEngine", "PlaceResult"]

_COMMISSION_UNIT = Decimal("0.00000001")
_CLIENT_ID_CHARS = string.ascii_letters + string.digits


class PlaceResult:
    """The order after its immediate matching, and the fills it took (for FULL responses)."""

    __slots__ = ("order", "fills")

    def __init__(self, order: Order, fills: list[Fill]) -> None:
        self.order = order
        self.fills = fills


class MatchingEngine:
    """Books, accounts and orders of every configured symbol."""

    def __init__(
        self,
        instruments: Iterable[InstrumentSpec],
        *,
        maker_commission: Decimal = Decimal("0.001"),
        taker_commission: Decimal = Decimal("0.001"),
        seed: int = 0,
        trade_history: int = 1000,
    ) -> None:
        self.instruments: dict[str, InstrumentSpec] = {i.symbol: i for i in instruments}
        self.books = {s: OrderBook(s) for s in self.instruments}
        self.accounts: dict[str, Account] = {}
        self.maker_commission = maker_commission
        self.taker_commission = taker_commission
        self.orders: dict[str, dict[int, Order]] = {s: {} for s in self.instruments}
        # the orders of each symbol not yet done (pruned lazily: a done order never comes back), so
        # that per-request checks cost the open orders, not every order the run ever placed
        self._live: dict[str, dict[int, Order]] = {s: {} for s in self.instruments}
        self.stops: dict[str, list[Order]] = {s: [] for s in self.instruments}
        self.last_price: dict[str, Decimal | None] = {s: None for s in self.instruments}
        self.trades: dict[str, deque[PublicTrade]] = {s: deque(maxlen=trade_history) for s in self.instruments}
        self.fills: dict[str, list[Fill]] = {}
        self.fees: dict[str, Decimal] = {}
        self.events: list[Event] = []
        self._next_order_id = {s: 1 for s in self.instruments}
        self._next_trade_id = {s: 1 for s in self.instruments}
        self._next_execution_id = 1
        self._rng = random.Random(seed)
        self._touched: dict[str, set[str]] = {}
        self._op_fills: list[Fill] = []
        self._batch_depth = 0
        self._batch_now = 0
        # order lists (OCO/OTO): ``fixgw.sim.orderlists.OrderLists`` sets itself here; it hears every
        # report of a list's order, every trigger of one, and activates OTO pending orders
        self.list_hook: Any = None

    @contextmanager
    def batch(self, now_ms: int) -> Iterator[None]:
        """Publish depth and balance changes of several operations as one update at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._end_op(now_ms)

    # == accounts =================================================================================
    def add_account(self, account_id: str, balances: dict[str, Decimal] | None = None) -> Account:
        """Create (or return) an account and credit it ``balances``."""
        acct = self.accounts.get(account_id)
        if acct is None:
            acct = self.accounts[account_id] = Account(account_id)
            self.fills[account_id] = []
        for asset, amount in (balances or {}).items():
            acct.slot(asset)[0] += Decimal(amount)
        return acct

    def credit(self, account_id: str, asset: str, delta: Decimal, now_ms: int) -> None:
        """Deposit (or, negative, withdraw) free balance; emits balanceUpdate and a position."""
        acct = self._account(account_id)
        slot = acct.slot(asset)
        if slot[0] + delta < 0:
            raise new_order_rejected(INSUFFICIENT_BALANCE)
        slot[0] += delta
        self.events.append(BalanceUpdate(account_id, now_ms, asset, delta))
        self._touch(account_id, asset)
        self._end_op(now_ms)

    def _account(self, account_id: str) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        return acct

    def totals(self) -> dict[str, Decimal]:
        """Sum of free + locked over all accounts plus collected fees, per asset."""
        out: dict[str, Decimal] = dict(self.fees)
        for acct in self.accounts.values():
            for asset, (free, locked) in acct.balances.items():
                out[asset] = out.get(asset, ZERO) + free + locked
        return out

    # == queries ==================================================================================
    def spec(self, symbol: str) -> InstrumentSpec:
        spec = self.instruments.get(symbol)
        if spec is None:
            raise bad_symbol()
        return spec

    def find_order(
        self, account_id: str, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order | None:
        """Look an order up by id (checked against the client id when both are given) or client id."""
        self.spec(symbol)
        if order_id is not None:
            order = self.orders[symbol].get(order_id)
            if order is None or order.account_id != account_id:
                return None
            if client_order_id is not None and order.client_order_id != client_order_id:
                return None
            return order
        if client_order_id is None:
            return None
        for order in self._live_orders(symbol):
            if order.account_id == account_id and order.client_order_id == client_order_id:
                return order
        found = None
        for order in self.orders[symbol].values():
            if order.account_id == account_id and order.client_order_id == client_order_id:
                if not order.is_done:
                    return order
                found = order  # the latest finished one if none is open
        return found

    def open_orders(self, account_id: str, symbol: str | None = None) -> list[Order]:
        symbols = [symbol] if symbol else list(self.instruments)
        out = []
        for s in symbols:
            self.spec(s)
            out.extend(o for o in self._live_orders(s) if o.account_id == account_id)
        return out

    def _live_orders(self, symbol: str) -> list[Order]:
        """The orders of ``symbol`` not done, in the order they were placed."""
        live = self._live[symbol]
        for order_id in [i for i, o in live.items() if o.status in DONE]:
            del live[order_id]
        return list(live.values())

    def reference_price(self, symbol: str) -> Decimal | None:
        """Last trade price, else the mid of the book, else None."""
        last = self.last_price[symbol]
        if last is not None:
            return last
        book = self.books[symbol]
        bid, ask = book.best("BUY"), book.best("SELL")
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return bid if bid is not None else ask

    def drain_events(self) -> list[Event]:
        out, self.events = self.events, []
        return out

    # == new orders ===============================================================================
    def validate(self, account_id: str, req: NewOrder) -> None:
        """Run every check of ``place`` without changing anything (``/api/v3/order/test``)."""
        self._check(self._account(account_id), req)

    def place(self, account_id: str, req: NewOrder, now_ms: int) -> PlaceResult:
        """Accept ``req`` (or raise ApiError), match it and return its state and fills."""
        acct = self._account(account_id)
        spec, plan_cost = self._check(acct, req)
        symbol = req.symbol
        order = self._make_order(account_id, req, now_ms)
        self._lock_for(acct, spec, order)
        is_stop = order.type in STOP_TYPES
        if not is_stop:
            order.is_working = True
            order.working_time = now_ms
        self._report(order, "NEW", now_ms)
        self._op_fills = []
        if is_stop:
            self.stops[symbol].append(order)
        else:
            self._execute(order, now_ms)
            self._trigger_stops(symbol, now_ms)
        op_fills = self._op_fills
        fills = [f for f in op_fills if f.order_id == order.order_id] if op_fills else []
        self._end_op(now_ms)
        return PlaceResult(order.copy(), fills)

    def _make_order(self, account_id: str, req: NewOrder, now_ms: int, order_list_id: int = -1) -> Order:
        """A new order of ``req`` with the symbol's next id, known to the engine (nothing locked or reported)."""
        symbol = req.symbol
        order_id = self._next_order_id[symbol]
        self._next_order_id[symbol] += 1
        order = Order(  # positional, in the declaration order of ``Order``'s fields
            symbol,
            order_id,
            req.new_client_order_id or self._random_client_id(),  # client_order_id
            account_id,
            req.side,
            req.type,
            req.time_in_force or "GTC",
            req.price or ZERO,  # price
            req.quantity or ZERO,  # orig_qty
            req.stop_price or ZERO,
            req.quote_order_qty or ZERO,
            req.stp_mode,
            ZERO,  # executed_qty
            ZERO,  # cum_quote
            "NEW",  # status
            now_ms,  # time
            now_ms,  # update_time
            -1,  # working_time
            False,  # is_working
            False,  # triggered
            None,  # locked_asset
            ZERO,  # locked
            order_list_id,
            ZERO,  # prevented_qty
            req.strategy_id,
            req.strategy_type,
            None,  # expiry_reason
            0,  # amend_count
            req.iceberg_qty or ZERO,
        )
        self.orders[symbol][order_id] = order
        self._live[symbol][order_id] = order
        return order

    def _random_client_id(self) -> str:
        return "".join(self._rng.choice(_CLIENT_ID_CHARS) for _ in range(22))

    def _check(self, acct: Account, req: NewOrder) -> tuple[InstrumentSpec, Decimal]:
        symbol = req.symbol
        spec = self.instruments.get(symbol)
        if spec is None:
            raise bad_symbol()
        if spec.status != "TRADING":
            raise new_order_rejected("Market is closed.")
        if req.type not in spec.order_types:
            raise ApiError(-1116, "Invalid orderType.")
        if req.quote_order_qty is not None and not spec.quote_order_qty_market_allowed:
            raise new_order_rejected("Quote order qty market orders are not support for this symbol.")
        # filters, in the venue's order
        is_limit = req.type in LIMIT_TYPES
        if req.price is not None and is_limit:
            spec.check_price(req.price)
        if req.stop_price is not None:
            spec.check_price(req.stop_price)
        if req.price is not None and is_limit:
            spec.check_percent_price(req.side, req.price, self.last_price[symbol])
        check_quantities(spec, req)
        if is_limit:
            assert req.price is not None and req.quantity is not None
            spec.check_notional(req.price * req.quantity, market=False)
        elif req.quote_order_qty is not None:
            spec.check_notional(req.quote_order_qty, market=True)
        elif req.quantity is not None:
            px = req.stop_price if req.type != "MARKET" else self.reference_price(symbol)
            if px is not None:
                spec.check_notional(px * req.quantity, market=True)
        account_id = acct.account_id
        mine = [o for o in self._live_orders(symbol) if o.account_id == account_id]
        if len(mine) >= spec.max_num_orders:
            raise filter_failure("MAX_NUM_ORDERS")
        if req.type in ALGO_TYPES and sum(1 for o in mine if o.type in ALGO_TYPES) >= spec.max_num_algo_orders:
            raise filter_failure("MAX_NUM_ALGO_ORDERS")
        if req.new_client_order_id is not None and any(
            o.client_order_id == req.new_client_order_id for o in mine
        ):
            raise new_order_rejected(DUPLICATE_ORDER)
        # stops and post-only
        last = self.last_price[req.symbol]
        if req.type in STOP_TYPES and last is not None and _stop_triggers(req.type, req.side, req.stop_price, last):
            raise new_order_rejected(WOULD_TRIGGER)
        book = self.books[req.symbol]
        if req.type == "LIMIT_MAKER":
            opp = book.best(_opposite(req.side))
            if opp is not None and _crosses(req.side, req.price, opp):  # type: ignore[arg-type]
                raise new_order_rejected(WOULD_TAKE)
        # funds
        cost = ZERO
        base, quote = spec.base_asset, spec.quote_asset
        if req.side == "BUY":
            if req.type in LIMIT_TYPES:
                cost = req.price * req.quantity  # type: ignore[operator]
            elif req.type == "MARKET":
                if req.quote_order_qty is not None:
                    cost = req.quote_order_qty
                else:
                    cost = sum((p * q for p, q in self._plan(req.symbol, "BUY", None, req.quantity, None)), ZERO)
            if acct.free(quote) < cost:
                raise new_order_rejected(INSUFFICIENT_BALANCE)
        else:
            if req.quantity is not None:
                need = req.quantity
            else:  # quote order qty: the base quantity the book would take
                need = sum((q for _p, q in self._plan(req.symbol, "SELL", None, None, req.quote_order_qty)), ZERO)
            if acct.free(base) < need:
                raise new_order_rejected(INSUFFICIENT_BALANCE)
        return spec, cost

    def _lock_for(self, acct: Account, spec: InstrumentSpec, order: Order) -> None:
        if order.side == "BUY" and order.type in LIMIT_TYPES:
            self._lock(acct, order, spec.quote_asset, order.price * order.orig_qty)
        elif order.side == "SELL" and order.orig_qty > 0:
            self._lock(acct, order, spec.base_asset, order.orig_qty)

    def _lock(self, acct: Account, order: Order, asset: str, amount: Decimal) -> None:
        slot = acct.slot(asset)
        slot[0] -= amount
        slot[1] += amount
        order.locked_asset = asset
        order.locked += amount
        self._touch(acct.account_id, asset)

    def _release(self, order: Order) -> None:
        if order.locked and order.locked_asset is not None:
            slot = self.accounts[order.account_id].slot(order.locked_asset)
            slot[0] += order.locked
            slot[1] -= order.locked
            self._touch(order.account_id, order.locked_asset)
            order.locked = ZERO

    # == matching =================================================================================
    def _plan(
        self,
        symbol: str,
        side: str,
        limit: Decimal | None,
        qty: Decimal | None,
        quote_qty: Decimal | None,
        exclude_account: str | None = None,
    ) -> list[tuple[Decimal, Decimal]]:
        """(price, qty) the book would give a taker, without changing anything."""
        spec = self.instruments[symbol]
        out: list[tuple[Decimal, Decimal]] = []
        left = qty if qty is not None else quote_qty
        assert left is not None
        for maker in self.books[symbol].orders_from_best(_opposite(side)):
            if left <= 0 or (limit is not None and not _crosses(side, limit, maker.price)):
                break
            if exclude_account is not None and maker.account_id == exclude_account:  # type: ignore[attr-defined]
                continue
            if qty is not None:
                q = min(left, maker.remaining)
                left -= q
            else:
                q = min(maker.remaining, spec.floor_to_step(left / maker.price))
                if q <= 0:
                    break
                left -= q * maker.price
            out.append((maker.price, q))
        return out

    def _execute(self, order: Order, now_ms: int) -> None:
        """Match a working taker ``order``, then rest or expire what is left."""
        symbol = order.symbol
        book = self.books[symbol]
        spec = self.instruments[symbol]
        is_market = order.type in MARKET_TYPES
        limit = None if is_market else order.price
        if order.type == "MARKET" and order.quote_order_qty > 0 and order.orig_qty == 0:
            planned = self._plan(symbol, order.side, None, None, order.quote_order_qty)
            order.orig_qty = sum((q for _p, q in planned), ZERO)
            if order.side == "SELL":  # lock what it will sell, so settlement takes it from locked
                self._lock(self.accounts[order.account_id], order, spec.base_asset, order.orig_qty)
            if order.orig_qty == 0:
                self._expire(order, now_ms, "INSUFFICIENT_LIQUIDITY")
                return
        if order.time_in_force == "FOK":
            available = sum((q for _p, q in self._plan(symbol, order.side, limit, order.remaining, None)), ZERO)
            if available < order.remaining:
                self._expire(order, now_ms, "UNFILLED_FOK_ORDER_EXPIRED")
                return
        if order.triggered and order.side == "BUY" and order.type in ("STOP_LOSS", "TAKE_PROFIT"):
            cost = sum((p * q for p, q in self._plan(symbol, "BUY", None, order.remaining, None)), ZERO)
            if self.accounts[order.account_id].free(spec.quote_asset) < cost:
                self._expire(order, now_ms, "INSUFFICIENT_BALANCE")
                return
        opposite = _opposite(order.side)
        while order.remaining > 0:
            best = book.best(opposite)
            if best is None or (limit is not None and not _crosses(order.side, limit, best)):
                break
            maker = book.queue(opposite, best)[0]
            if maker.account_id == order.account_id and order.stp_mode != "NONE":  # type: ignore[attr-defined]
                if self._prevent(order, maker, now_ms):  # type: ignore[arg-type]
                    return
                continue
            self._trade(order, maker, min(order.remaining, maker.remaining), now_ms)  # type: ignore[arg-type]
        if order.remaining == 0:
            return
        if is_market:
            self._expire(order, now_ms, "INSUFFICIENT_LIQUIDITY")
        elif order.time_in_force in ("IOC", "FOK"):
            self._expire(order, now_ms, "UNFILLED_IOC_QUANTITY_EXPIRED")
        else:
            order.is_working = True
            if order.working_time < 0:
                order.working_time = now_ms
            book.add(order)

    def _prevent(self, taker: Order, maker: Order, now_ms: int) -> bool:
        """Self-trade prevention; returns True when the taker is finished."""
        mode = taker.stp_mode
        if mode in ("EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER"):
            self.books[maker.symbol].remove(maker)
            maker.prevented_qty += maker.remaining
            self._finish(maker, "EXPIRED_IN_MATCH", "EXPIRED", now_ms)
        if mode in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
            taker.prevented_qty += taker.remaining
            self._finish(taker, "EXPIRED_IN_MATCH", "EXPIRED", now_ms)
            return True
        return False

    def _trade(self, taker: Order, maker: Order, qty: Decimal, now_ms: int) -> None:
        symbol = taker.symbol
        spec = self.instruments[symbol]
        base, quote_asset = spec.base_asset, spec.quote_asset
        price = maker.price
        quote = price * qty
        trade_id = self._next_trade_id[symbol]
        self._next_trade_id[symbol] += 1
        buyer, seller = (taker, maker) if taker.side == "BUY" else (maker, taker)

        buyer_acct = self.accounts[buyer.account_id]
        seller_acct = self.accounts[seller.account_id]
        rate_b = self.maker_commission if buyer is maker else self.taker_commission
        rate_s = self.maker_commission if seller is maker else self.taker_commission
        comm_b = (qty * rate_b).quantize(_COMMISSION_UNIT, rounding=ROUND_DOWN)
        comm_s = (quote * rate_s).quantize(_COMMISSION_UNIT, rounding=ROUND_DOWN)

        q_slot = buyer_acct.slot(quote_asset)
        if buyer.locked_asset == quote_asset and buyer.locked > 0:
            held = buyer.price * qty
            buyer.locked -= held
            q_slot[1] -= held
            q_slot[0] += held - quote  # price improvement comes back free
        else:
            q_slot[0] -= quote
        buyer_acct.slot(base)[0] += qty - comm_b
        b_slot = seller_acct.slot(base)
        if seller.locked_asset == base and seller.locked > 0:
            seller.locked -= qty
            b_slot[1] -= qty
        else:
            b_slot[0] -= qty
        seller_acct.slot(quote_asset)[0] += quote - comm_s
        self.fees[base] = self.fees.get(base, ZERO) + comm_b
        self.fees[quote_asset] = self.fees.get(quote_asset, ZERO) + comm_s
        for acct_id in (buyer.account_id, seller.account_id):
            self._touch(acct_id, base)
            self._touch(acct_id, quote_asset)

        self.books[symbol].reduce(maker, qty)
        for o in (taker, maker):
            o.executed_qty += qty
            o.cum_quote += quote
            o.update_time = now_ms
            o.status = "FILLED" if o.remaining == 0 else "PARTIALLY_FILLED"
        if maker.remaining == 0:
            self.books[symbol].drop_filled(maker)
            maker.is_working = False
        if taker.remaining == 0:
            taker.is_working = False
        self.last_price[symbol] = price
        public = PublicTrade(symbol, trade_id, price, qty, now_ms, buyer is maker, buyer.order_id, seller.order_id)
        self.trades[symbol].append(public)
        self.events.append(public)
        for o, comm, asset in ((taker, comm_b if taker is buyer else comm_s, base if taker is buyer else quote_asset),
                               (maker, comm_b if maker is buyer else comm_s, base if maker is buyer else quote_asset)):
            fill = Fill(symbol, trade_id, o.order_id, o.order_list_id, price, qty, quote, comm, asset, now_ms,
                        o is buyer, o is maker)
            self.fills[o.account_id].append(fill)
            self._op_fills.append(fill)
            self._report(o, "TRADE", now_ms, last_qty=qty, last_price=price, commission=comm,
                         commission_asset=asset, trade_id=trade_id, is_maker=o is maker)
        for o in (taker, maker):
            if o.status == "FILLED":
                self._release(o)  # whatever is left of the lock (nothing for exact limit locks)

    def _expire(self, order: Order, now_ms: int, reason: str) -> None:
        order.expiry_reason = reason
        self._finish(order, "EXPIRED", "EXPIRED", now_ms)

    def _finish(self, order: Order, status: str, exec_type: str, now_ms: int, **report) -> None:
        order.status = status
        order.is_working = False
        order.update_time = now_ms
        self._release(order)
        self._report(order, exec_type, now_ms, **report)

    # == stops ====================================================================================
    def _trigger_stops(self, symbol: str, now_ms: int) -> None:
        self._fire_stops(symbol, now_ms)
        # an OTO's pending order goes to work once its working order filled; its trades may fire stops
        while self.list_hook is not None and self.list_hook.settle(now_ms):
            self._fire_stops(symbol, now_ms)

    def _fire_stops(self, symbol: str, now_ms: int) -> None:
        while True:
            last = self.last_price[symbol]
            if last is None:
                return
            fired = [o for o in self.stops[symbol] if _stop_triggers(o.type, o.side, o.stop_price, last)]
            if not fired:
                return
            for order in fired:
                if order.is_done:  # ended meanwhile (the other order of its OCO triggered first)
                    continue
                self.stops[symbol].remove(order)
                if order.order_list_id >= 0 and self.list_hook is not None:
                    self.list_hook.on_trigger(order, now_ms)
                order.triggered = True
                order.is_working = True
                order.working_time = now_ms
                order.update_time = now_ms
                self._execute(order, now_ms)

    # == cancel / amend ===========================================================================
    def cancel(
        self,
        account_id: str,
        symbol: str,
        now_ms: int,
        *,
        order_id: int | None = None,
        orig_client_order_id: str | None = None,
        new_client_order_id: str | None = None,
        cancel_restrictions: str | None = None,
    ) -> tuple[Order, str]:
        """Cancel one open order; returns (its state, the cancel's client id)."""
        self._account(account_id)
        order = self.find_order(account_id, symbol, order_id, orig_client_order_id)
        if order is None or order.is_done:
            raise unknown_order()
        if cancel_restrictions == "ONLY_NEW" and order.status != "NEW":
            raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
        if cancel_restrictions == "ONLY_PARTIALLY_FILLED" and order.status != "PARTIALLY_FILLED":
            raise ApiError(-2011, "Order was not canceled due to cancel restrictions.")
        cancel_id = new_client_order_id or self._random_client_id()
        self._remove_live(order)
        self._finish(order, "CANCELED", "CANCELED", now_ms, client_order_id=cancel_id,
                     orig_client_order_id=order.client_order_id)
        self._end_op(now_ms)
        return order.copy(), cancel_id

    def _remove_live(self, order: Order) -> None:
        if order in self.stops[order.symbol]:
            self.stops[order.symbol].remove(order)
        elif order in self.books[order.symbol]:
            self.books[order.symbol].remove(order)

    def cancel_all(self, account_id: str, symbol: str, now_ms: int) -> list[tuple[Order, str]]:
        """Cancel every open order of the account on ``symbol``; -2011 if there is none."""
        opened = self.open_orders(account_id, symbol)
        if not opened:
            raise unknown_order()
        # canceling one order of an order list cancels the others: those are done when their turn comes
        return [self.cancel(account_id, symbol, now_ms, order_id=o.order_id) for o in opened if not o.is_done]

    def amend_keep_priority(
        self,
        account_id: str,
        symbol: str,
        new_qty: Decimal,
        now_ms: int,
        *,
        order_id: int | None = None,
        orig_client_order_id: str | None = None,
        new_client_order_id: str | None = None,
    ) -> tuple[Order, int]:
        """Reduce an open order's quantity in place; returns (its state, the execution id)."""
        spec = self.spec(symbol)
        if not spec.amend_allowed:
            raise ApiError(-2038, "Order amend is not supported for this symbol.")
        order = self.find_order(account_id, symbol, order_id, orig_client_order_id)
        if order is None or order.is_done:
            raise unknown_order()
        if new_qty <= 0 or new_qty >= order.orig_qty:
            raise ApiError(-2038, "Order amend (quantity increase) is not supported.")
        spec.check_lot(new_qty)
        if new_client_order_id is not None and any(
            o.client_order_id == new_client_order_id and o is not order for o in self.open_orders(account_id, symbol)
        ):
            raise new_order_rejected(DUPLICATE_ORDER)
        old_client_id = order.client_order_id
        delta = order.orig_qty - new_qty
        live_delta = min(delta, order.remaining)
        if order in self.books[symbol]:
            self.books[symbol].reduce(order, live_delta)
        if order.locked and order.locked_asset is not None:
            unit = order.price if order.locked_asset == spec.quote_asset else Decimal(1)
            give = min(order.locked, unit * live_delta)
            acct = self.accounts[account_id]
            slot = acct.slot(order.locked_asset)
            slot[0] += give
            slot[1] -= give
            order.locked -= give
            self._touch(account_id, order.locked_asset)
        order.orig_qty = new_qty
        order.amend_count += 1
        order.update_time = now_ms
        order.client_order_id = new_client_order_id or self._random_client_id()
        if order.remaining <= 0:
            if order in self.books[symbol]:
                self.books[symbol].drop_filled(order)
            order.status = "FILLED"
            order.is_working = False
            self._release(order)
        execution_id = self._report(order, "REPLACED", now_ms, orig_client_order_id=old_client_id)
        self._end_op(now_ms)
        return order.copy(), execution_id

    # == events ===================================================================================
    def _report(self, order: Order, exec_type: str, now_ms: int, **kw) -> int:
        execution_id = self._next_execution_id
        self._next_execution_id = execution_id + 1
        if "client_order_id" in kw:
            report = ExecutionReport(order.account_id, order.copy(), exec_type, now_ms, now_ms, execution_id, **kw)
        else:
            report = ExecutionReport(order.account_id, order.copy(), exec_type, now_ms, now_ms, execution_id,
                                     order.client_order_id, **kw)
        self.events.append(report)
        if order.order_list_id >= 0 and self.list_hook is not None:
            self.list_hook.on_report(order, exec_type, now_ms)
        return execution_id

    def _touch(self, account_id: str, asset: str) -> None:
        assets = self._touched.get(account_id)
        if assets is None:
            assets = self._touched[account_id] = set()
        assets.add(asset)

    def _end_op(self, now_ms: int) -> None:
        """Publish depth changes and changed balances of the operation just done."""
        if self._batch_depth:
            return
        for symbol, book in self.books.items():
            if not book.changes:  # take_changes would say None
                continue
            change = book.take_changes()
            if change is not None:
                uid, bids, asks = change
                self.events.append(DepthUpdate(symbol, now_ms, uid, uid, tuple(bids), tuple(asks)))
        touched = self._touched
        if not touched:
            return
        for account_id, assets in touched.items():
            balances = self.accounts[account_id].balances
            changed = []
            for a in sorted(assets):
                slot = balances.get(a)
                changed.append((a, slot[0], slot[1]) if slot is not None else (a, ZERO, ZERO))
            self.events.append(AccountPosition(account_id, now_ms, tuple(changed)))
        self._touched = {}


def check_quantities(spec: InstrumentSpec, req: NewOrder) -> None:
    """The quantity filters of ``req`` on ``spec``: the (market) lot size, then the iceberg parts."""
    if req.quantity is not None:
        if req.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            spec.check_market_lot(req.quantity)
        else:
            spec.check_lot(req.quantity)
    if req.iceberg_qty is not None and req.quantity is not None:
        spec.check_iceberg(req.quantity, req.iceberg_qty)


def _opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def _crosses(side: str, limit: Decimal, other: Decimal) -> bool:
    """Would a ``side`` order at ``limit`` trade with a resting order at ``other``?"""
    return other <= limit if side == "BUY" else other >= limit


def _stop_triggers(order_type: str, side: str, stop: Decimal | None, last: Decimal) -> bool:
    if stop is None:
        return False
    rises = (order_type.startswith("STOP_LOSS") and side == "BUY") or (
        order_type.startswith("TAKE_PROFIT") and side == "SELL"
    )
    return last >= stop if rises else last <= stop
