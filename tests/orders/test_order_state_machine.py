"""A stateful model of the book: random commands and venue events, duplicates, reordering, late fills,
rejected cancels and replaces, restarts from the journal; the invariants hold after every step."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from fixgw.errors import DuplicateClOrdID, InvalidTransition, OrderError, OverfillError, UnknownOrder
from fixgw.orders import (
    CancelOrder,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    ReplaceOrder,
    SubmitOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal

D = Decimal
S = OrderStatus
LATE_FILL_EXITS = {(S.CANCELED, S.FILLED), (S.EXPIRED, S.FILLED)}
POOL = [f"c{i}" for i in range(4)]  # a small pool of client ids, so duplicates happen
prices = st.integers(min_value=1, max_value=500_000).map(lambda n: D(n).scaleb(-2))


class OrderBookMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.journal = MemoryOrderJournal("acct", serialize=True)
        self.book = OrderBook("acct", self.journal, autocommit=True)
        self.ts = 0
        self.ids = 0
        self.sent: dict[str, list] = {}  # every event offered to an order, for duplicates
        self.fills: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}  # applied fills (model)
        self.terminal: dict[str, OrderStatus] = {}

    def _ts(self) -> int:
        self.ts += 1
        return self.ts

    def _fresh(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def _attempt(self, order_id: str, action, event=None):
        """Run ``action``; a refusal must leave the order and the journal untouched."""
        order = self.book.get(order_id)
        before, journaled = order.snapshot(), len(self.journal)
        had_trade = event is not None and isinstance(event, OrderFilled) and event.trade_id in order.trade_ids
        try:
            action()
        except OverfillError:
            assert order.snapshot() == before and len(self.journal) == journaled
            if isinstance(event, OrderFilled) and order.quantity is not None and order.status is not S.FILLED:
                assert order.cum_qty + event.last_qty > order.quantity
            return
        except (InvalidTransition, DuplicateClOrdID, OrderError):
            assert order.snapshot() == before and len(self.journal) == journaled
            return
        if isinstance(event, OrderFilled) and not had_trade:
            self.fills[order_id][event.trade_id] = (event.last_qty, event.last_px)

    def _offer(self, order_id: str, event) -> None:
        self.sent[order_id].append(event)
        self._attempt(order_id, lambda: self.book.apply(event), event)

    # -- commands --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.book) < 4)  # few orders, long histories
    @rule(target=orders, pooled=st.booleans(), pick=st.sampled_from(POOL), quantity=st.integers(1, 20),
          kind=st.sampled_from(["limit", "stop_limit", "quote"]), price=prices)
    def submit(self, pooled, pick, quantity, kind, price):
        cl = pick if pooled else self._fresh("n")
        if kind == "quote":
            cmd = SubmitOrder(cl_ord_id=cl, symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.MARKET,
                              quote_quantity=D(quantity * 100), ts_ns=self._ts())
        elif kind == "stop_limit":
            cmd = SubmitOrder(cl_ord_id=cl, symbol="BTCUSDT", side=OrderSide.SELL, order_type=OrderType.STOP_LIMIT,
                              quantity=D(quantity), price=price, trigger_price=price, ts_ns=self._ts())
        else:
            cmd = SubmitOrder(cl_ord_id=cl, symbol="BTCUSDT", side=OrderSide.BUY, order_type=OrderType.LIMIT,
                              quantity=D(quantity), price=price, ts_ns=self._ts())
        holder = self.book.find(cl_ord_id=cl)
        try:
            order = self.book.submit(cmd)
        except DuplicateClOrdID:
            assert holder is not None and holder.is_open
            return self._dummy()
        assert holder is None or not holder.is_open
        self.sent[order.order_id] = []
        self.fills[order.order_id] = {}
        return order.order_id

    def _dummy(self) -> str:
        # A refused submit still has to return a bundle value: reuse any existing order.
        return next(iter(self.book)).order_id

    @rule(order_id=orders, by_old_id=st.booleans(), reuse=st.booleans())
    def cancel(self, order_id, by_old_id, reuse):
        order = self.book.get(order_id)
        cl = POOL[self.ids % len(POOL)] if reuse else self._fresh("x")
        orig = order.cl_ord_ids[0] if by_old_id else order.cl_ord_id
        holder = self.book.find(cl_ord_id=orig)
        target = {"order_id": order_id} if holder is not order else {"orig_cl_ord_id": orig}
        self._attempt(order_id, lambda: self.book.cancel(CancelOrder(cl_ord_id=cl, ts_ns=self._ts(), **target)))

    @rule(order_id=orders, delta=st.integers(-3, 5), price=st.none() | prices)
    def replace(self, order_id, delta, price):
        order = self.book.get(order_id)
        if order.quantity is None:
            quantity = D(1)
        else:
            quantity = max(D(1), order.quantity + delta)
        if order.order_type is OrderType.MARKET:
            price = None
        cmd = ReplaceOrder(cl_ord_id=self._fresh("r"), order_id=order_id, quantity=quantity, price=price,
                           ts_ns=self._ts())
        self._attempt(order_id, lambda: self.book.replace(cmd))

    # -- venue events ----------------------------------------------------------------------------

    @rule(order_id=orders, kind=st.sampled_from(
        [OrderSubmitted, OrderAccepted, OrderRejected, OrderCanceled, OrderExpired, OrderTriggered,
         OrderReplaced, OrderCancelRejected, OrderReplaceRejected]))
    def venue_event(self, order_id, kind):
        extra = {"venue_order_id": f"V-{order_id}"} if kind is OrderAccepted else {}
        self._offer(order_id, kind(order_id=order_id, ts_ns=self._ts(), **extra))

    @rule(order_id=orders, ack=st.booleans())
    def advance(self, order_id, ack):
        """Take an order through the usual next step, so that later statuses are reached often."""
        status = self.book.get(order_id).status
        if status is S.INITIALIZED:
            self._offer(order_id, OrderSubmitted(order_id=order_id, ts_ns=self._ts()))
        elif ack:
            self._offer(order_id, OrderAccepted(order_id=order_id, ts_ns=self._ts(), venue_order_id=f"V-{order_id}"))

    @rule(order_id=orders, accept=st.booleans(), name_it=st.booleans())
    def answer_request(self, order_id, accept, name_it):
        """The venue answers a pending cancel or replace (by its client order id, or not)."""
        order = self.book.get(order_id)
        kind, cl = order.pending_kind, order.pending_cl_ord_id
        ts = self._ts()
        named = {"cl_ord_id": cl} if name_it else {}
        if kind == "cancel":
            event = OrderCanceled(order_id=order_id, ts_ns=ts) if accept else OrderCancelRejected(
                order_id=order_id, ts_ns=ts, **named)
        elif kind == "replace":
            event = OrderReplaced(order_id=order_id, ts_ns=ts) if accept else OrderReplaceRejected(
                order_id=order_id, ts_ns=ts, **named)
        else:
            return
        self._offer(order_id, event)

    @rule(order_id=orders, share=st.sampled_from(["all", "half", "one", "over"]), price=prices, final=st.booleans())
    def filled(self, order_id, share, price, final):
        order = self.book.get(order_id)
        if order.quantity is None:
            room = (order.quote_quantity - order.notional) / price
            qty = D(1).scaleb(-3) if share != "over" else room + 1
            qty = qty.quantize(D("0.001")) if qty > D("0.001") else D("0.001")
        else:
            leaves = order.quantity - order.cum_qty
            qty = {"all": leaves, "half": leaves / 2, "one": D(1), "over": leaves + 1}[share]
            if qty <= 0:
                qty = D(1)
        event = OrderFilled(order_id=order_id, ts_ns=self._ts(), trade_id=self._fresh("T"), last_qty=qty,
                            last_px=price, fee=D("0.01"), fee_currency="USDT", final=final)
        self._offer(order_id, event)

    @precondition(lambda self: any(self.sent.values()))
    @rule(data=st.data())
    def resend(self, data):
        """Offer again an event seen before: duplicates and reordering."""
        order_id = data.draw(st.sampled_from(sorted(k for k, v in self.sent.items() if v)))
        event = data.draw(st.sampled_from(self.sent[order_id]))
        self._offer(order_id, event)

    @rule()
    def restart(self):
        """Replay the journal into a new book, which must equal the live one, and carry on with it."""
        journal = self.journal.reopen()
        recovered = OrderBook.recover(journal, autocommit=True)
        self._assert_same(recovered, self.book)
        self.journal, self.book = journal, recovered

    @rule(order_id=orders)
    def unknown_order_refused(self, order_id):
        try:
            self.book.apply(OrderCanceled(order_id=order_id + "-missing", ts_ns=self._ts()))
        except UnknownOrder:
            return
        raise AssertionError("an event for an unknown order must raise UnknownOrder")

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def quantities_consistent(self):
        for order in self.book:
            assert order.cum_qty >= 0
            if order.quantity is not None:
                assert order.cum_qty <= order.quantity
                if order.is_open:
                    assert order.leaves_qty + order.cum_qty == order.quantity
            else:
                assert order.notional <= order.quote_quantity
            if not order.is_open:
                assert order.leaves_qty == 0

    @invariant()
    def average_price_matches_model(self):
        for order in self.book:
            fills = self.fills[order.order_id]
            assert set(fills) == order.trade_ids
            qty = sum((q for q, _ in fills.values()), D(0))
            notional = sum((q * p for q, p in fills.values()), D(0))
            assert order.cum_qty == qty and order.notional == notional
            assert order.avg_px == (notional / qty if qty else D(0))

    @invariant()
    def terminal_stays_terminal(self):
        for order in self.book:
            was = self.terminal.get(order.order_id)
            if was is not None:
                assert order.status.is_terminal
                if order.status is not was:
                    assert (was, order.status) in LATE_FILL_EXITS
            if order.status.is_terminal:
                self.terminal[order.order_id] = order.status

    @invariant()
    def lookups_consistent(self):
        open_ids = [o.order_id for o in self.book if o.is_open]
        assert [o.order_id for o in self.book.open_orders()] == open_ids
        for order in self.book:
            assert self.book.find(order_id=order.order_id) is order
            if order.venue_order_id is not None:
                assert self.book.find(venue_order_id=order.venue_order_id) is order
            if order.is_open:
                for cl in order.cl_ord_ids:
                    assert self.book.find(cl_ord_id=cl) is order

    def teardown(self):
        recovered = OrderBook.recover(self.journal.reopen())
        self._assert_same(recovered, self.book)

    @staticmethod
    def _assert_same(a: OrderBook, b: OrderBook) -> None:
        assert a.snapshot() == b.snapshot()
        for x, y in zip(a, b):
            assert x.events == y.events


OrderBookMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_order_book_state_machine_random_sequences_hold_invariants = OrderBookMachine.TestCase
