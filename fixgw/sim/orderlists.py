"""Order lists of the simulated venue (Binance dialect): OCO and OTO on the one matching engine.

Theory of operation: ``OrderLists`` sits beside the ``MatchingEngine`` (``engine.list_hook``) and
makes each list's orders with the engine's own steps (checks, locks, reports, matching). The engine
tells it of every report of a list's order (``on_report``), of every trigger of one (``on_trigger``),
and asks it after each match to put an OTO's pending order to work (``settle``). Pure, no I/O: time
is an argument, failures are ``ApiError`` raised before anything changed.

- OCO (``POST /api/v3/orderList/oco``, ``orderList.place.oco``): an above and a below order of one side
  and one quantity; one is LIMIT_MAKER/TAKE_PROFIT/TAKE_PROFIT_LIMIT, the other STOP_LOSS/STOP_LOSS_LIMIT,
  their prices on each side of the last trade price (else -2010 "The relationship of the prices for
  the orders is not correct."). When one order trades (even partly) or triggers, the other expires
  (``OCO_TRIGGER``). Funds are locked once, for the order that needs more (the venue holds one
  quantity for the pair); the other settles from what the expired one released.
- OTO (``POST /api/v3/orderList/oto``, ``orderList.place.oto``): the working order (LIMIT or LIMIT_MAKER)
  rests; the pending one (``PENDING_NEW``, nothing locked) is placed when the working order is fully
  filled (its funds checked then: a refusal expires it with reason ``REJECTED``). If the working
  order is canceled or expires, the pending one expires (``OTO_PHASE_ONE_EXPIRED``).
- Canceling any order of a list, or the list (``DELETE /api/v3/orderList``), cancels every open order
  of it. ``listStatus`` events: ``EXEC_STARTED``/``EXECUTING`` at placement and when an OTO's pending
  order goes to work, ``ALL_DONE``/``ALL_DONE`` once every order of the list is done.
- Each list counts 2 orders against MAX_NUM_ORDERS and the unfilled-order count, 1 against
  MAX_NUM_ORDER_LISTS; ``listClientOrderId`` is unique among open lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .engine import MatchingEngine, check_quantities
from .errors import DUPLICATE_ORDER, ApiError, filter_failure, new_order_rejected
from .instruments import InstrumentSpec
from .model import LIMIT_TYPES, STOP_TYPES, ZERO, NewOrder, Order

__all__ = ["OrderList", "OrderLists", "ListStatus", "BAD_PRICES", "order_lists_of"]

BAD_PRICES = "The relationship of the prices for the orders is not correct."
_LIMIT_LIKE = frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_STOP_LIKE = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})


@dataclass(eq=False)
class OrderList:
    """One OCO (orders: below, above) or OTO (orders: working, pending)."""

    list_id: int
    contingency: str
    symbol: str
    account_id: str
    client_list_id: str
    transaction_time: int
    orders: list[Order]
    pending_req: NewOrder | None = None  # OTO: the pending order's request, checked again when placed
    done: bool = False
    activate: bool = field(default=False)

    def status(self) -> tuple[str, str]:
        return ("ALL_DONE", "ALL_DONE") if self.done else ("EXEC_STARTED", "EXECUTING")


@dataclass(slots=True)
class ListStatus:
    """A ``listStatus`` user-data event."""

    account_id: str
    event_time: int
    symbol: str
    list_id: int
    contingency: str
    list_status_type: str
    list_order_status: str
    client_list_id: str
    transaction_time: int
    orders: tuple[tuple[str, int, str], ...]  # (symbol, orderId, clientOrderId)


def order_lists_of(engine: MatchingEngine) -> "OrderLists":
    """The engine's order lists, made on first use."""
    hook = engine.list_hook
    if hook is None:
        hook = OrderLists(engine)
    return hook  # type: ignore[no-any-return]


def _point(req: NewOrder) -> Decimal:
    """The price an OCO order stands at: a LIMIT_MAKER's or TAKE_PROFIT_LIMIT's price, else its stop price."""
    if req.type in ("LIMIT_MAKER", "TAKE_PROFIT_LIMIT"):
        assert req.price is not None
        return req.price
    assert req.stop_price is not None
    return req.stop_price


def _oco_types(side: str, above: str, below: str) -> None:
    """The venue's placement rules of an OCO's two types (errors.md -1158/-1165/-1166/-1168/-1196..-1199)."""
    if above not in _LIMIT_LIKE | _STOP_LIKE or below not in _LIMIT_LIKE | _STOP_LIKE:
        raise ApiError(-1158, "Order type not supported in OCO.")
    if above == "LIMIT_MAKER" and below == "LIMIT_MAKER":
        raise ApiError(-1168, "At least one OCO order must be contingent.")
    if side == "SELL":
        if above in _STOP_LIKE:
            raise ApiError(-1197, "A stop loss order in a sell OCO must be below.")
        if below == "LIMIT_MAKER":
            raise ApiError(-1166, "A limit order in a sell OCO must be above.")
        if below in _LIMIT_LIKE:
            raise ApiError(-1199, "A take profit order in a sell OCO must be above.")
    else:
        if above == "LIMIT_MAKER":
            raise ApiError(-1165, "A limit order in a buy OCO must be below.")
        if above in _LIMIT_LIKE:
            raise ApiError(-1198, "A take profit order in a buy OCO must be below.")
        if below in _STOP_LIKE:
            raise ApiError(-1196, "A stop loss order in a buy OCO must be above.")


class OrderLists:
    """The order lists of one engine, and the engine's hooks for them (module docstring)."""

    def __init__(self, engine: MatchingEngine, *, max_num_order_lists: int = 20) -> None:
        self.engine = engine
        self.lists: dict[int, OrderList] = {}
        self.max_num_order_lists = max_num_order_lists
        self._next_id = 0
        self._cascading = False
        engine.list_hook = self

    # == queries ==================================================================================
    def find(self, account_id: str, list_id: int | None = None, client_list_id: str | None = None) -> OrderList | None:
        """By id (checked against the client id when both are given), else the latest by client id."""
        if list_id is not None:
            lst = self.lists.get(list_id)
            if lst is None or lst.account_id != account_id:
                return None
            if client_list_id is not None and lst.client_list_id != client_list_id:
                return None
            return lst
        found = None
        for lst in self.lists.values():
            if lst.account_id == account_id and lst.client_list_id == client_list_id:
                if not lst.done:
                    return lst
                found = lst
        return found

    def open_lists(self, account_id: str) -> list[OrderList]:
        return [lst for lst in self.lists.values() if lst.account_id == account_id and not lst.done]

    # == placement ================================================================================
    def _precheck(self, account_id: str, spec: InstrumentSpec, client_list_id: str | None, new_orders: int) -> None:
        engine = self.engine
        engine._account(account_id)
        open_here = [lst for lst in self.open_lists(account_id) if lst.symbol == spec.symbol]
        if len(open_here) >= getattr(spec, "max_num_order_lists", self.max_num_order_lists):
            raise filter_failure("MAX_NUM_ORDER_LISTS")
        mine = [o for o in engine._live_orders(spec.symbol) if o.account_id == account_id]
        if len(mine) + new_orders > spec.max_num_orders:
            raise filter_failure("MAX_NUM_ORDERS")
        if client_list_id is not None and any(lst.client_list_id == client_list_id for lst in open_here):
            raise new_order_rejected(DUPLICATE_ORDER)

    def _new_list(self, contingency: str, account_id: str, symbol: str, client_list_id: str | None,
                  now_ms: int) -> OrderList:
        list_id = self._next_id
        self._next_id += 1
        lst = OrderList(list_id, contingency, symbol, account_id,
                        client_list_id or self.engine._random_client_id(), now_ms, [])
        self.lists[list_id] = lst
        return lst

    def place_oco(self, account_id: str, side: str, above: NewOrder, below: NewOrder,
                  client_list_id: str | None, now_ms: int) -> tuple[OrderList, list[Order]]:
        """Place an OCO; returns the list and its orders' states after placement (below, above)."""
        engine = self.engine
        spec = engine.spec(above.symbol)
        if not getattr(spec, "oco_allowed", True):
            raise new_order_rejected("OCO orders are not supported for this symbol")
        _oco_types(side, above.type, below.type)
        self._precheck(account_id, spec, client_list_id, 2)
        hi, lo = _point(above), _point(below)
        last = engine.last_price[spec.symbol] or engine.reference_price(spec.symbol)
        if not (lo < hi and (last is None or lo < last < hi)):
            raise ApiError(-2010, BAD_PRICES)
        if (above.new_client_order_id is not None and above.new_client_order_id == below.new_client_order_id):
            raise new_order_rejected(DUPLICATE_ORDER)
        acct = engine._account(account_id)
        costs = []
        for req in (below, above):
            engine._check(acct, req)
            costs.append(_lock_need(spec, req))
        lst = self._new_list("OCO", account_id, spec.symbol, client_list_id, now_ms)
        legs = [engine._make_order(account_id, req, now_ms, lst.list_id) for req in (below, above)]
        lst.orders = legs
        # one lock for the pair: the larger amount, the resting (limit) order's on a tie
        holder = legs[0] if costs[0] > costs[1] or (costs[0] == costs[1] and legs[0].type in _LIMIT_LIKE) else legs[1]
        engine._lock_for(acct, spec, holder)
        engine._op_fills = []
        for leg in legs:
            if leg.type in STOP_TYPES:
                engine._report(leg, "NEW", now_ms)
                engine.stops[spec.symbol].append(leg)
            else:  # LIMIT_MAKER: rests (it cannot take: the prices were checked against the book)
                leg.is_working = True
                leg.working_time = now_ms
                engine._report(leg, "NEW", now_ms)
                engine._execute(leg, now_ms)
        self._status(lst, now_ms)
        engine._end_op(now_ms)
        return lst, [leg.copy() for leg in legs]

    def place_oto(self, account_id: str, working: NewOrder, pending: NewOrder, client_list_id: str | None,
                  now_ms: int) -> tuple[OrderList, list[Order]]:
        """Place an OTO; returns the list and its orders' states as placed (working, pending)."""
        engine = self.engine
        spec = engine.spec(working.symbol)
        if not getattr(spec, "oto_allowed", True):
            raise new_order_rejected("OTO orders are not supported for this symbol")
        self._precheck(account_id, spec, client_list_id, 2)
        if working.new_client_order_id is not None and working.new_client_order_id == pending.new_client_order_id:
            raise new_order_rejected(DUPLICATE_ORDER)
        acct = engine._account(account_id)
        engine._check(acct, working)
        _check_terms(engine, pending)
        lst = self._new_list("OTO", account_id, spec.symbol, client_list_id, now_ms)
        first = engine._make_order(account_id, working, now_ms, lst.list_id)
        second = engine._make_order(account_id, pending, now_ms, lst.list_id)
        second.status = "PENDING_NEW"
        lst.orders = [first, second]
        lst.pending_req = pending
        engine._lock_for(acct, spec, first)
        first.is_working = True
        first.working_time = now_ms
        engine._report(first, "NEW", now_ms)
        engine._report(second, "NEW", now_ms)
        self._status(lst, now_ms)
        pending_as_placed = second.copy()  # the answer shows it PENDING_NEW even if it went to work at once
        engine._op_fills = []
        engine._execute(first, now_ms)
        engine._trigger_stops(spec.symbol, now_ms)
        engine._end_op(now_ms)
        return lst, [first.copy(), pending_as_placed]

    # == cancel ===================================================================================
    def cancel(self, account_id: str, symbol: str, now_ms: int, *, list_id: int | None = None,
               client_list_id: str | None = None, new_client_order_id: str | None = None
               ) -> tuple[OrderList, list[tuple[Order, str]]]:
        """Cancel every open order of a list; returns the list and (order state, cancel client id) each."""
        engine = self.engine
        engine.spec(symbol)
        engine._account(account_id)
        lst = self.find(account_id, list_id, client_list_id)
        if lst is None or lst.symbol != symbol or lst.done:
            raise ApiError(-2011, "Unknown order list sent.")
        cancel_id = new_client_order_id or engine._random_client_id()
        out = []
        self._cascading = True
        try:
            for order in lst.orders:
                if order.is_done:
                    out.append((order.copy(), cancel_id))
                    continue
                engine._remove_live(order)
                engine._finish(order, "CANCELED", "CANCELED", now_ms, client_order_id=cancel_id,
                               orig_client_order_id=order.client_order_id)
                out.append((order.copy(), cancel_id))
        finally:
            self._cascading = False
        self._maybe_done(lst, now_ms)
        engine._end_op(now_ms)
        return lst, out

    # == engine hooks =============================================================================
    def on_report(self, order: Order, exec_type: str, now_ms: int) -> None:
        """A report of one of a list's orders was just made: end or start the others as the list says."""
        lst = self.lists.get(order.order_list_id)
        if lst is None or lst.done:
            return
        if not self._cascading and exec_type in ("TRADE", "CANCELED", "EXPIRED", "REJECTED"):
            others = [o for o in lst.orders if o is not order and not o.is_done]
            if lst.contingency == "OCO":
                if exec_type == "CANCELED":
                    self._end(others, "CANCELED", now_ms)
                else:  # the other one traded, or ended otherwise: this one expires
                    self._end(others, "OCO_TRIGGER", now_ms)
                    self._hold(order)
            else:
                working, pending = lst.orders
                if order is working:
                    if exec_type == "TRADE":
                        if order.status == "FILLED" and pending.status == "PENDING_NEW":
                            lst.activate = True
                    else:
                        self._end(others, "OTO_PHASE_ONE_EXPIRED", now_ms)
                elif exec_type == "CANCELED":
                    self._end(others, "CANCELED", now_ms)
        self._maybe_done(lst, now_ms)

    def on_trigger(self, order: Order, now_ms: int) -> None:
        """A stop order of a list triggered: the other order of its OCO expires."""
        lst = self.lists.get(order.order_list_id)
        if lst is None or lst.done or lst.contingency != "OCO":
            return
        self._end([o for o in lst.orders if o is not order and not o.is_done], "OCO_TRIGGER", now_ms)
        self._hold(order)

    def settle(self, now_ms: int) -> bool:
        """Put to work the pending orders whose working order filled; True when one was."""
        engine = self.engine
        did = False
        for lst in [lst for lst in self.lists.values() if lst.activate]:
            lst.activate = False
            order = lst.orders[1]
            if order.status != "PENDING_NEW":
                continue
            req = lst.pending_req
            assert req is not None
            acct = engine.accounts[order.account_id]
            live = engine._live[order.symbol]
            del live[order.order_id]  # checked as a new order: not against itself
            try:
                spec, _cost = engine._check(acct, req)
            except ApiError:
                live[order.order_id] = order
                self._end([order], "REJECTED", now_ms)
                continue
            live[order.order_id] = order
            did = True
            order.status = "NEW"
            order.update_time = now_ms
            engine._lock_for(acct, spec, order)
            self._status(lst, now_ms)
            if order.type in STOP_TYPES:
                engine._report(order, "NEW", now_ms)
                engine.stops[order.symbol].append(order)
            else:
                order.is_working = True
                order.working_time = now_ms
                engine._report(order, "NEW", now_ms)
                engine._execute(order, now_ms)
        return did

    # == helpers ==================================================================================
    def _end(self, orders: list[Order], reason: str, now_ms: int) -> None:
        """End ``orders`` of a list: canceled (``reason`` CANCELED) or expired with ``reason``."""
        engine = self.engine
        self._cascading = True
        try:
            for order in orders:
                if order.is_done:
                    continue
                engine._remove_live(order)
                if reason == "CANCELED":
                    engine._finish(order, "CANCELED", "CANCELED", now_ms)
                else:
                    engine._expire(order, now_ms, reason)
        finally:
            self._cascading = False

    def _hold(self, order: Order) -> None:
        """Lock for ``order`` what it still needs, now that the other order of its OCO (which may have
        held the pair's lock) is gone: a SELL its remaining quantity, a BUY limit price * remaining."""
        if order.is_done or order.locked:
            return
        spec = self.engine.instruments[order.symbol]
        acct = self.engine.accounts[order.account_id]
        if order.side == "SELL" and order.remaining > 0:
            self.engine._lock(acct, order, spec.base_asset, order.remaining)
        elif order.side == "BUY" and order.type in LIMIT_TYPES and order.remaining > 0:
            self.engine._lock(acct, order, spec.quote_asset, order.price * order.remaining)

    def _maybe_done(self, lst: OrderList, now_ms: int) -> None:
        if not lst.done and all(o.is_done for o in lst.orders):
            lst.done = True
            self._status(lst, now_ms)

    def _status(self, lst: OrderList, now_ms: int) -> None:
        status_type, order_status = lst.status()
        self.engine.events.append(ListStatus(
            lst.account_id, now_ms, lst.symbol, lst.list_id, lst.contingency, status_type, order_status,
            lst.client_list_id, now_ms, tuple((o.symbol, o.order_id, o.client_order_id) for o in lst.orders)))


def _lock_need(spec: InstrumentSpec, req: NewOrder) -> Decimal:
    """What placing ``req`` alone would lock (a BUY limit: price*qty of quote; a SELL: qty of base)."""
    if req.side == "BUY":
        return req.price * req.quantity if req.type in LIMIT_TYPES and req.price and req.quantity else ZERO
    return req.quantity or ZERO


def _check_terms(engine: MatchingEngine, req: NewOrder) -> None:
    """The filters of an order placed later (an OTO's pending order): its funds are checked then."""
    spec = engine.spec(req.symbol)
    if req.type not in spec.order_types:
        raise ApiError(-1116, "Invalid orderType.")
    if req.price is not None and req.type in LIMIT_TYPES:
        spec.check_price(req.price)
    if req.stop_price is not None:
        spec.check_price(req.stop_price)
    check_quantities(spec, req)
    if req.type in LIMIT_TYPES and req.price is not None and req.quantity is not None:
        spec.check_notional(req.price * req.quantity, market=False)
