"""Order tracker: turns venue observations into order events, each reported exactly once.

Theory of operation
-------------------
The same fact reaches us several ways: a REST response (ack, FULL fills, cancel result), the
private stream (executionReport), and reconciliation (order query, open orders, trade list).
They race and overlap; after a reconnect they also have holes. Every path feeds ``observe()``
with a venue-neutral ``OrderUpdate`` and publishes only what it returns.

Orders are keyed by (symbol, venue order id): Binance (like many venues) numbers orders per
symbol, so order 1 on ETHUSDT is not order 1 on BTCUSDT. Client order ids are looked up per symbol
too. Per order we keep: acked?, cumulative quantity and quote, trade ids seen, terminal?.
* The first sighting of an order (not rejected) yields ``OrderAccepted``.
* A fill yields ``OrderFilled`` only if its trade id is new *and* (when the update carries a
  cumulative quantity) it advances the cumulative quantity: a replayed trade is dropped either way.
* When an update's cumulative quantity is ahead of what we know and its fills do not explain it,
  there is a gap (trades we never saw). With ``synthesize_gaps`` (reconciliation, after trade
  detail has been tried) the gap becomes one fill with trade id ``recon:<order>:<cum>``; otherwise
  the update is left for the stream or reconciliation to complete (``needs_reconcile`` is set)
  and the terminal event is held back so it never overtakes a fill.
* Terminal events (canceled, expired, rejected) are emitted once; ``FILLED`` rides on the last fill.

Memory stays bounded: a finished (terminal) order is kept for a grace period of ``retain_finished``
more finished orders (so the races above, which come within moments, are still deduplicated), then
forgotten. An update for a forgotten order is folded in as for an order never seen (as after a
restart): it is still normalised and published, and the gateway's order book, which keeps every
order's trade ids in its journal, drops what it has already applied. Open orders are never forgotten.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from fixgw.venues.base import (
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    Side,
    VenueOrderEvent,
)

__all__ = ["Fill", "UpdateKind", "OrderUpdate", "OrderTracker", "DEFAULT_RETAIN_FINISHED"]

_ZERO = Decimal(0)
#: Finished orders a tracker remembers (the most recent) before forgetting the oldest.
DEFAULT_RETAIN_FINISHED = 10_000


class UpdateKind(enum.Enum):
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    AMENDED = "AMENDED"
    SNAPSHOT = "SNAPSHOT"  # a state read (query, open orders, REST result) rather than a change


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    qty: Decimal
    price: Decimal
    fee: Decimal = _ZERO
    fee_asset: str | None = None
    is_maker: bool | None = None
    ts_ns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """One observation of one order, venue-neutral."""

    symbol: str
    venue_order_id: str
    client_order_id: str
    status: OrderStatus
    kind: UpdateKind
    ts_ns: int
    orig_client_order_id: str | None = None
    side: Side | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal | None = None  # after this update, when known
    cum_quote: Decimal | None = None
    fills: tuple[Fill, ...] = ()
    reason: str = ""
    code: int | str | None = None


@dataclass(slots=True)
class _Tracked:
    symbol: str
    venue_order_id: str
    client_order_id: str
    side: Side | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    status: OrderStatus = OrderStatus.PENDING_NEW
    cum_qty: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    acked: bool = False
    terminal: bool = False
    trade_ids: set[str] = field(default_factory=set)
    needs_reconcile: bool = False
    last_ts_ns: int = 0
    held: list[OrderUpdate] = field(default_factory=list)  # updates waiting for a gap to close
    old_client_ids: tuple[str, ...] = ()  # ids an in-place amendment replaced (still looked up)


class OrderTracker:
    """Dedupe and order venue observations into events. Pure: no I/O, no clock."""

    def __init__(self, venue: str, *, retain_finished: int | None = DEFAULT_RETAIN_FINISHED) -> None:
        if retain_finished is not None and retain_finished < 0:
            raise ValueError(f"retain_finished must be >= 0 or None, not {retain_finished!r}")
        self.venue = venue
        self.retain_finished = retain_finished  # None: remember every finished order
        self._orders: dict[tuple[str, str], _Tracked] = {}  # (symbol, venue order id) -> order
        self._by_client: dict[tuple[str, str], str] = {}  # (symbol, client order id) -> venue order id
        self._finished: OrderedDict[tuple[str, str], None] = OrderedDict()  # terminal keys, oldest first

    def __len__(self) -> int:
        """Return the number of orders remembered (open ones and finished ones in their grace period)."""
        return len(self._orders)

    # -- lookups (an order is named by its symbol and its venue order id) ------------------------

    def venue_order_id(self, symbol: str, client_order_id: str) -> str | None:
        return self._by_client.get((symbol, client_order_id))

    def is_known(self, symbol: str, venue_order_id: str) -> bool:
        return (symbol, venue_order_id) in self._orders

    def open_orders(self) -> list[tuple[str, str, str]]:
        """Return (symbol, venue order id, client order id) of every order not yet terminal."""
        return [(t.symbol, t.venue_order_id, t.client_order_id) for t in self._orders.values() if not t.terminal]

    def needing_reconcile(self) -> list[tuple[str, str, str]]:
        return [(t.symbol, t.venue_order_id, t.client_order_id) for t in self._orders.values() if t.needs_reconcile]

    def cum_qty(self, symbol: str, venue_order_id: str) -> Decimal:
        t = self._orders.get((symbol, venue_order_id))
        return t.cum_qty if t else _ZERO

    def report(self, symbol: str, venue_order_id: str) -> OrderReport | None:
        t = self._orders.get((symbol, venue_order_id))
        if t is None:
            return None
        return OrderReport(
            venue=self.venue, symbol=t.symbol, client_order_id=t.client_order_id,
            venue_order_id=t.venue_order_id, status=t.status, side=t.side, order_type=t.order_type,
            quantity=t.quantity, price=t.price, cum_qty=t.cum_qty, cum_quote=t.cum_quote, ts_ns=t.last_ts_ns,
        )

    # -- the one entry point -------------------------------------------------------------------

    def observe(
        self, u: OrderUpdate, *, synthesize_gaps: bool = False, from_reconciliation: bool = False
    ) -> list[VenueOrderEvent]:
        """Fold one observation in; return the events it reveals (possibly none).

        An update held back for a gap is retried whenever a later one moves the order forward, so
        events that arrive out of order (a later trade before an earlier one) come out in order.
        """
        out = self._observe_one(u, synthesize_gaps, from_reconciliation)
        t = self._orders[(u.symbol, u.venue_order_id)]
        while t.held and out:
            before = (t.cum_qty, t.terminal, len(t.held))
            held, t.held = sorted(t.held, key=lambda h: (h.cum_qty or _ZERO, h.status.is_terminal)), []
            for h in held:
                out.extend(self._observe_one(h, False, from_reconciliation))
            if (t.cum_qty, t.terminal, len(t.held)) == before:
                break
        if t.terminal or not t.needs_reconcile:
            t.held.clear()
        if t.terminal and self.retain_finished is not None:
            self._finish((u.symbol, u.venue_order_id))
        return out

    def _finish(self, key: tuple[str, str]) -> None:
        """Remember ``key`` as the newest finished order; forget the oldest past the grace period."""
        finished = self._finished
        finished[key] = None
        finished.move_to_end(key)
        keep = self.retain_finished or 0
        while len(finished) > keep:
            (symbol, vid), _ = finished.popitem(last=False)
            t = self._orders.pop((symbol, vid), None)
            if t is None:
                continue
            for cid in (t.client_order_id, *t.old_client_ids):
                if self._by_client.get((symbol, cid)) == vid:
                    del self._by_client[(symbol, cid)]

    def _observe_one(
        self, u: OrderUpdate, synthesize_gaps: bool, from_reconciliation: bool
    ) -> list[VenueOrderEvent]:
        key = (u.symbol, u.venue_order_id)
        t = self._orders.get(key)
        if t is None:
            t = _Tracked(u.symbol, u.venue_order_id, u.orig_client_order_id or u.client_order_id)
            self._orders[key] = t
            self._by_client[(t.symbol, t.client_order_id)] = u.venue_order_id
        for attr in ("side", "order_type", "price"):
            if getattr(t, attr) is None and getattr(u, attr) is not None:
                setattr(t, attr, getattr(u, attr))
        t.last_ts_ns = max(t.last_ts_ns, u.ts_ns)
        out: list[VenueOrderEvent] = []
        common = dict(venue=self.venue, symbol=t.symbol, from_reconciliation=from_reconciliation)

        if u.status is OrderStatus.REJECTED or u.kind is UpdateKind.REJECTED:
            if not t.terminal and not t.acked:
                t.terminal, t.status = True, OrderStatus.REJECTED
                out.append(OrderRejected(
                    client_order_id=t.client_order_id, venue_order_id=t.venue_order_id,
                    status=OrderStatus.REJECTED, cum_qty=t.cum_qty, ts_ns=u.ts_ns,
                    reason=u.reason, code=u.code, **common))
            return out

        if not t.acked:
            t.acked = True
            if t.quantity is None:
                t.quantity = u.quantity
            if t.status is OrderStatus.PENDING_NEW:
                t.status = OrderStatus.NEW
            out.append(OrderAccepted(
                client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, status=OrderStatus.NEW,
                cum_qty=t.cum_qty, ts_ns=u.ts_ns, side=t.side, order_type=t.order_type,
                quantity=t.quantity, price=t.price, **common))

        # in-place amendment: a new quantity (and possibly a new client order id)
        if u.quantity is not None and t.quantity is not None and u.quantity != t.quantity and not t.terminal:
            old_id = t.client_order_id
            new_id = (
                u.client_order_id if u.kind in (UpdateKind.AMENDED, UpdateKind.SNAPSHOT) else t.client_order_id
            )
            t.quantity = u.quantity
            if new_id != old_id:
                t.old_client_ids = (*t.old_client_ids, old_id)
                t.client_order_id = new_id
                self._by_client[(t.symbol, new_id)] = t.venue_order_id
            out.append(OrderAmended(
                client_order_id=new_id, venue_order_id=t.venue_order_id, status=t.status,
                cum_qty=t.cum_qty, ts_ns=u.ts_ns, orig_client_order_id=old_id, quantity=u.quantity,
                price=u.price, **common))

        new_fills = [f for f in u.fills if f.trade_id not in t.trade_ids]
        new_qty = sum((f.qty for f in new_fills), _ZERO)
        if u.cum_qty is not None:
            prior = u.cum_qty - new_qty  # what the venue had before these fills
            if prior < t.cum_qty:  # some of these fills are replays we already counted another way
                new_fills = self._drop_covered(new_fills, u.cum_qty, t.cum_qty)
                new_qty = sum((f.qty for f in new_fills), _ZERO)
                prior = u.cum_qty - new_qty
            gap = prior - t.cum_qty
            if gap > 0:
                if not synthesize_gaps:
                    t.needs_reconcile = True
                    t.held.append(u)
                    return out  # hold fills and terminal state back: never report out of order
                quote = None
                if u.cum_quote is not None:
                    quote = u.cum_quote - sum((f.qty * f.price for f in new_fills), _ZERO) - t.cum_quote
                px = (quote / gap) if quote is not None and quote > 0 else (u.price or _ZERO)
                new_fills.insert(0, Fill(f"recon:{t.venue_order_id}:{prior}", gap, px, ts_ns=u.ts_ns))
        for f in new_fills:
            t.trade_ids.add(f.trade_id)
            t.cum_qty += f.qty
            t.cum_quote += f.qty * f.price
            done = t.quantity is not None and t.cum_qty >= t.quantity
            last = f is new_fills[-1]
            if done or (last and u.status is OrderStatus.FILLED and u.cum_qty == t.cum_qty):
                t.status, t.terminal = OrderStatus.FILLED, True
            else:
                t.status = OrderStatus.PARTIALLY_FILLED
            out.append(OrderFilled(
                client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, status=t.status,
                cum_qty=t.cum_qty, ts_ns=f.ts_ns or u.ts_ns, last_qty=f.qty, last_px=f.price,
                trade_id=f.trade_id, fee=f.fee, fee_asset=f.fee_asset, is_maker=f.is_maker,
                cum_quote=t.cum_quote, **common))
        if u.cum_qty is not None and u.cum_qty == t.cum_qty:
            t.needs_reconcile = False

        if u.status in (OrderStatus.CANCELED, OrderStatus.EXPIRED) and not t.terminal:
            if u.cum_qty is not None and u.cum_qty > t.cum_qty:
                t.needs_reconcile = True
                t.held.append(u)
                return out
            t.terminal, t.status = True, u.status
            cls = OrderCanceled if u.status is OrderStatus.CANCELED else OrderExpired
            out.append(cls(
                client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, status=u.status,
                cum_qty=t.cum_qty, ts_ns=u.ts_ns, reason=u.reason, **common))
        elif u.status is OrderStatus.FILLED and not t.terminal and u.cum_qty is not None and u.cum_qty == t.cum_qty:
            t.status, t.terminal = OrderStatus.FILLED, True
        return out

    @staticmethod
    def _drop_covered(fills: list[Fill], cum_after: Decimal, known: Decimal) -> list[Fill]:
        """Keep only the trailing fills that take the cumulative quantity past what we know."""
        kept: list[Fill] = []
        running = cum_after
        for f in reversed(fills):
            if running <= known:
                break
            kept.append(f)
            running -= f.qty
        kept.reverse()
        return kept
