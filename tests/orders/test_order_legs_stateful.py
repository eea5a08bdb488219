"""A stateful model of orders and their venue legs: random interleavings of replace and cancel requests,
fills, words about any leg (accepted, amended, canceled, expired, rejected), refusals, duplicates and
restarts from the journal. Events are applied as the gateway's router does: apply, then what is due."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from fixgw.errors import DuplicateClOrdID, InvalidTransition, OrderError, OverfillError
from fixgw.orders import (
    LEG_EVENT_TYPES,
    TRANSITIONS,
    CancelOrder,
    LegAccepted,
    LegAmended,
    LegCanceled,
    LegExpired,
    LegRejected,
    Order,
    OrderBook,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderLegEnded,
    OrderReplaced,
    OrderReplaceRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    ReplaceOrder,
    Rule,
    SubmitOrder,
)
from fixgw.stores.journal_memory import MemoryOrderJournal

D = Decimal
S = OrderStatus
ENDS = (OrderCanceled, OrderExpired)
# Every status the table moves an order to, those its FILL rule picks, and INITIALIZED where orders start.
REACHABLE = {t for t in TRANSITIONS.values() if isinstance(t, OrderStatus)} | {
    S.INITIALIZED, S.PARTIALLY_FILLED, S.FILLED}


class LegMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.journal = MemoryOrderJournal("acct", serialize=True)
        self.book = OrderBook("acct", self.journal, autocommit=True)
        self.ts = 0
        self.ids = 0
        self.offered: list = []
        self.reported: dict[str, list] = {}  # order id -> events reported, in order
        self.due_applied: dict[str, int] = {}

    def _ts(self) -> int:
        self.ts += 1
        return self.ts

    def _fresh(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}{self.ids}"

    def _guarded(self, order_id: str, action) -> bool:
        """Run ``action``; a refusal must leave the order and the journal untouched."""
        order = self.book.get(order_id)
        before, journaled = order.snapshot(), len(self.journal)
        try:
            action()
        except (InvalidTransition, OverfillError, OrderError, DuplicateClOrdID):
            assert order.snapshot() == before and len(self.journal) == journaled
            return False
        return True

    def _apply(self, event) -> None:
        """What ``Router.apply`` does: apply, report what the transition says, then apply what is due."""
        self.offered.append(event)
        order_id = event.order_id
        order = self.book.get(order_id)
        out = self.reported[order_id]

        def one(e) -> None:
            if self.book.apply(e):
                out.append(order.events[-1])

        self._guarded(order_id, lambda: one(event))
        due = order.due()
        if due is not None:
            assert order.held_end is not None and order.is_open and order.pending_leg is None
            # Due only when the replace it waited for has just failed.
            assert out and type(out[-1]) is OrderReplaceRejected, out
            self.due_applied[order_id] += 1
            assert self._guarded(order_id, lambda: one(due)), "a due end must apply"
            assert order.due() is None

    # -- commands ------------------------------------------------------------------------------

    @precondition(lambda self: len(self.reported) < 2)  # few orders, long histories
    @rule(target=orders, quantity=st.integers(2, 20))
    def submit(self, quantity):
        cmd = SubmitOrder(cl_ord_id=self._fresh("n"), symbol="BTCUSDT", side=OrderSide.BUY,
                          order_type=OrderType.LIMIT, quantity=D(quantity), price=D(100), ts_ns=self._ts())
        order = self.book.submit(cmd)
        self.reported[order.order_id] = []
        self.due_applied[order.order_id] = 0
        self._apply(OrderSubmitted(order_id=order.order_id, ts_ns=self._ts()))
        return order.order_id

    @rule(order_id=orders)
    def accept_first_leg(self, order_id):
        self._apply(LegAccepted(order_id=order_id, ts_ns=self._ts(), leg=0, venue_order_id=f"V-{order_id}-0"))

    @rule(order_id=orders, delta=st.integers(-3, 5))
    def request_replace(self, order_id, delta):
        order = self.book.get(order_id)
        quantity = max(D(1), order.quantity + delta)
        cmd = ReplaceOrder(cl_ord_id=self._fresh("r"), order_id=order_id, quantity=quantity, price=D(101),
                           ts_ns=self._ts())
        self._guarded(order_id, lambda: self.book.replace(cmd))

    @rule(order_id=orders)
    def request_cancel(self, order_id):
        cmd = CancelOrder(cl_ord_id=self._fresh("x"), order_id=order_id, ts_ns=self._ts())
        self._guarded(order_id, lambda: self.book.cancel(cmd))

    # -- what the venue says ---------------------------------------------------------------------

    @rule(order_id=orders, kind=st.sampled_from(LEG_EVENT_TYPES), pick=st.integers(0, 3), reason=st.sampled_from(
        ["", "stp"]))
    def leg_event(self, order_id, kind, pick, reason):
        order = self.book.get(order_id)
        # Mostly the current or the newest leg, sometimes an old one or one never asked for.
        leg = [order.leg, order.legs_requested, max(order.leg - 1, 0), order.legs_requested + 1][pick]
        extra = {"venue_order_id": f"V-{order_id}-{leg}"} if kind is LegAccepted else {}
        if kind is not LegAccepted and kind is not LegAmended:
            extra["reason"] = reason
        self._apply(kind(order_id=order_id, ts_ns=self._ts(), leg=leg, **extra))

    @rule(order_id=orders, end=st.sampled_from([LegCanceled, LegExpired]),
          fate=st.sampled_from(["accepted", "rejected", "amended", "later"]))
    def cancel_and_new(self, order_id, end, fate):
        """A venue that replaces by cancel-and-new: the old leg ends first, then the new one's fate."""
        order = self.book.get(order_id)
        if order.pending_leg is None:
            return  # no replace asked for (``leg_event`` covers a lone end of the current leg)
        old, new = order.leg, order.pending_leg
        self._apply(end(order_id=order_id, ts_ns=self._ts(), leg=old, reason="replaced"))
        if fate == "accepted":
            self._apply(LegAccepted(order_id=order_id, ts_ns=self._ts(), leg=new, venue_order_id=f"V-{new}"))
        elif fate == "rejected":
            self._apply(LegRejected(order_id=order_id, ts_ns=self._ts(), leg=new, reason="would cross"))
        elif fate == "amended":
            self._apply(LegAmended(order_id=order_id, ts_ns=self._ts(), leg=new))

    @rule(order_id=orders, end=st.sampled_from([LegCanceled, LegExpired]),
          fate=st.sampled_from(["accepted", "rejected", "amended", "later"]))
    def advance(self, order_id, end, fate):
        """Take an order through the usual next step, so that replaces and held ends happen often."""
        order = self.book.get(order_id)
        if order.status is S.PENDING_NEW:
            self.accept_first_leg(order_id)
        elif order.pending_leg is not None:
            self.cancel_and_new(order_id, end, fate)
        elif order.is_open:
            self.request_replace(order_id, 1)

    @rule(order_id=orders)
    def replace_refused(self, order_id):
        """The venue's answer to the replace call itself: refused."""
        order = self.book.get(order_id)
        self._apply(OrderReplaceRejected(order_id=order_id, ts_ns=self._ts(), cl_ord_id=order.pending_cl_ord_id,
                                         reason="refused"))

    @rule(order_id=orders)
    def cancel_refused(self, order_id):
        order = self.book.get(order_id)
        self._apply(OrderCancelRejected(order_id=order_id, ts_ns=self._ts(), cl_ord_id=order.pending_cl_ord_id))

    @rule(order_id=orders, share=st.sampled_from(["all", "one", "over"]))
    def filled(self, order_id, share):
        order = self.book.get(order_id)
        leaves = order.quantity - order.cum_qty
        qty = {"all": leaves, "one": D(1), "over": leaves + 1}[share]
        if qty <= 0:
            qty = D(1)
        self._apply(OrderFilled(order_id=order_id, ts_ns=self._ts(), trade_id=self._fresh("T"), last_qty=qty,
                                last_px=D(100)))

    @rule(data=st.data())
    def resend(self, data):
        """Offer again something said before: duplicates and reordering."""
        if self.offered:
            self._apply(data.draw(st.sampled_from(self.offered)))

    @rule()
    def restart(self):
        journal = self.journal.reopen()
        recovered = OrderBook.recover(journal, autocommit=True)
        assert recovered.snapshot() == self.book.snapshot()
        self.journal, self.book = journal, recovered

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def quantities_and_legs_consistent(self):
        for order in self.book:
            assert 0 <= order.cum_qty <= order.quantity
            assert order.status in REACHABLE
            assert 0 <= order.leg <= order.legs_requested
            assert order.pending_leg is None or order.pending_leg == order.legs_requested > order.leg
            assert 0 <= order.leg_filled <= order.cum_qty

    @invariant()
    def held_end_reported_at_most_once(self):
        for order in self.book:
            reported = self.reported[order.order_id]
            assert sum(isinstance(e, ENDS) for e in reported) <= 1, reported
            held = sum(type(e) is OrderLegEnded for e in order.events)
            assert self.due_applied[order.order_id] <= held <= order.legs_requested
            assert not any(type(e) is OrderLegEnded for e in reported), "a held end is never reported as such"
            if order.held_end is not None:
                # Held only while its replace is pending, or on an order that has ended otherwise.
                assert order.pending_leg is not None or not order.is_open
                assert type(order.events[-1]) is not OrderReplaced, "a replace that lands drops the held end"

    @invariant()
    def every_applied_event_is_a_table_row(self):
        for order in self.book:
            first = self.journal.load_order(order.order_id)[0]
            replay = Order(order.order_id, "acct", first)
            for event in order.events:
                target = TRANSITIONS[(replay.status, type(event))]
                assert target is not Rule.IGNORE
                replay.apply(event)
            assert replay.snapshot() == order.snapshot()

    def teardown(self):
        recovered = OrderBook.recover(self.journal.reopen())
        assert recovered.snapshot() == self.book.snapshot()
        for x, y in zip(recovered, self.book):
            assert x.events == y.events


LegMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_order_legs_random_interleavings_hold_invariants = LegMachine.TestCase
