"""Order tracker: normalises and de-duplicates what venues say about orders; it decides no status.

Theory of operation
-------------------
The same fact reaches us several ways: a REST response (ack, FULL fills, cancel result), the
private stream (executionReport), and reconciliation (order query, open orders, trade list).
They race and overlap; after a reconnect they also have holes. Every path feeds ``observe()``
with a venue-neutral ``OrderUpdate`` and publishes only what it returns: observations
(``VenueAccepted``, ``VenueFilled``, ``VenueCanceled`` / ``VenueExpired``, ``VenueOrderRejected``,
``VenueAmended``), each once and in order. What they do to the order is the order's transition
table's business (``fixgw.orders``), reached through the gateway's one mapping module.

Orders are keyed by (symbol, venue order id): Binance (like many venues) numbers orders per
symbol, so order 1 on ETHUSDT is not order 1 on BTCUSDT. Client order ids are looked up per symbol
too. Per order we keep facts: accepted?, ended (and how)?, cumulative quantity and quote, the fill
keys seen (``fixgw.orders.fills.fill_key``: the key the order drops a duplicate fill by, too).
* The first sighting of an order (not rejected) is an acceptance.
* A fill is published only if its key is new *and* (when the update carries a cumulative quantity)
  it advances the cumulative quantity: a replayed trade is dropped either way.
* When an update's cumulative quantity is ahead of what we know and its fills do not explain it,
  there is a gap (trades we never saw). With ``synthesize_gaps`` (reconciliation, after trade
  detail has been tried) the gap becomes one fill with trade id ``recon:<order>:<cum>``; otherwise
  the update is left for the stream or reconciliation to complete (``needs_reconcile`` is set)
  and its end is held back so it never overtakes a fill.
* An end (canceled, expired, rejected) is published once; a fill that completes the order says so
  (``VenueFilled.done``) and ends it too.

The same fact told again (an order's answer, then its stream events saying the same) is dropped
before it costs an ``OrderUpdate``: ``redundant`` (and its cheap first half ``may_be_redundant``,
which needs no amount read) answers from the raw facts whether ``observe`` would reveal or change
anything; a venue's parser asks it first. When in doubt it says no and ``observe`` decides.

Memory stays bounded: a finished order is kept for a grace period of ``retain_finished``
more finished orders (so the races above, which come within moments, are still deduplicated), then
forgotten. A finished order is kept as one flat tuple of atoms (strings, Decimals, ints, enum values,
then its fill keys), which the garbage collector stops tracking after its first pass over it: the
thousands kept cost a full collection next to nothing. ``redundant`` answers from the tuple; a late update
(a fill after the end) thaws it into an open entry for the fold and freezes it again. An update
for a forgotten order is folded in as for an order never seen (as after a restart): it is still
normalised and published, and the gateway's order book, which keeps every order's fill keys in its
journal, drops what it has already applied. Open orders are never forgotten.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from fixgw.orders.enums import OrderSide, OrderStatus, OrderType
from fixgw.orders.fills import fill_key
from fixgw.venues.base import (
    OrderReport,
    VenueAccepted,
    VenueAmended,
    VenueCanceled,
    VenueExpired,
    VenueFilled,
    VenueOrderEvent,
    VenueOrderRejected,
)

__all__ = ["Fill", "UpdateKind", "OrderUpdate", "OrderTracker", "DEFAULT_RETAIN_FINISHED"]

_ZERO = Decimal(0)
#: Finished orders a tracker remembers (the most recent) before forgetting the oldest.
DEFAULT_RETAIN_FINISHED = 10_000
_ENDS = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED})


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


@dataclass(slots=True, kw_only=True)
class OrderUpdate:
    """One observation of one order, venue-neutral. Read-only by convention: not a frozen dataclass,
    whose constructor (one ``object.__setattr__`` per field) would cost about 3 µs per observation."""

    symbol: str
    venue_order_id: str
    client_order_id: str
    status: OrderStatus  # as the venue says (mapped by the venue's enums)
    kind: UpdateKind
    ts_ns: int
    orig_client_order_id: str | None = None
    side: OrderSide | None = None
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
    side: OrderSide | None = None
    order_type: OrderType | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal = _ZERO
    cum_quote: Decimal = _ZERO
    acked: bool = False
    ended: OrderStatus | None = None  # FILLED, CANCELED, EXPIRED or REJECTED once the order is over
    #: The fill keys seen: a set from the first fill (a tuple before it, and in a finished entry).
    fill_keys: set[str] | tuple[str, ...] = ()
    needs_reconcile: bool = False
    last_ts_ns: int = 0
    held: list[OrderUpdate] | None = None  # updates waiting for a gap to close (made when one is held)
    old_client_ids: tuple[str, ...] = ()  # ids an in-place amendment replaced (still looked up)

    def status(self) -> OrderStatus:
        """The order's status as these facts show it (for snapshots only; events carry none)."""
        if self.ended is not None:
            return self.ended
        if self.cum_qty:
            return OrderStatus.PARTIALLY_FILLED
        return OrderStatus.NEW if self.acked else OrderStatus.PENDING_NEW


# A finished order: one flat tuple of atoms (enums by value; no tuple nested in it, which would keep it
# tracked until the collector had untracked that one first): these fields, then ``_NOLD`` replaced
# client ids, then its fill keys.
(_SYM, _VID, _CID, _SIDE, _TYPE, _QTY, _PX, _CUM, _QUOTE, _ACKED, _ENDED, _RECON, _TS, _NOLD, _BASE) = range(15)
_SIDES: dict[str | None, OrderSide | None] = {None: None, **{m.value: m for m in OrderSide}}
_TYPES: dict[str | None, OrderType | None] = {None: None, **{m.value: m for m in OrderType}}
_STATUSES: dict[str | None, OrderStatus | None] = {None: None, **{m.value: m for m in OrderStatus}}


def _freeze(t: _Tracked) -> tuple:
    """``t`` (finished, nothing held) as one flat tuple (``_value_``: ``value`` without the descriptor)."""
    side, order_type, ended = t.side, t.order_type, t.ended
    return (t.symbol, t.venue_order_id, t.client_order_id, side._value_ if side is not None else None,
            order_type._value_ if order_type is not None else None, t.quantity, t.price, t.cum_qty, t.cum_quote,
            t.acked, ended._value_ if ended is not None else None, t.needs_reconcile, t.last_ts_ns,
            len(t.old_client_ids), *t.old_client_ids, *t.fill_keys)


def _old_ids(e: tuple) -> tuple[str, ...]:
    return e[_BASE:_BASE + e[_NOLD]]


def _fill_keys(e: tuple) -> tuple[str, ...]:
    return e[_BASE + e[_NOLD]:]


def _thaw(e: tuple) -> _Tracked:
    """The entry a frozen order was made from (fill keys in a tuple: a set once a fill comes)."""
    return _Tracked(e[_SYM], e[_VID], e[_CID], _SIDES[e[_SIDE]], _TYPES[e[_TYPE]], e[_QTY], e[_PX], e[_CUM],
                    e[_QUOTE], e[_ACKED], _STATUSES[e[_ENDED]], _fill_keys(e), e[_RECON], e[_TS], None, _old_ids(e))


class OrderTracker:
    """Dedupe and order venue observations into events. Pure: no I/O, no clock."""

    def __init__(self, venue: str, *, retain_finished: int | None = DEFAULT_RETAIN_FINISHED) -> None:
        if retain_finished is not None and retain_finished < 0:
            raise ValueError(f"retain_finished must be >= 0 or None, not {retain_finished!r}")
        self.venue = venue
        self.retain_finished = retain_finished  # None: remember every finished order
        self._orders: dict[tuple[str, str], _Tracked] = {}  # (symbol, venue order id) -> open order
        self._by_client: dict[tuple[str, str], str] = {}  # (symbol, client order id) -> venue order id
        #: (symbol, venue order id) -> finished order as a flat tuple (``_freeze``), oldest first
        self._finished: OrderedDict[tuple[str, str], tuple] = OrderedDict()

    def __len__(self) -> int:
        """Return the number of orders remembered (open ones and finished ones in their grace period)."""
        return len(self._orders) + len(self._finished)

    def _entry(self, symbol: str, venue_order_id: str) -> _Tracked | None:
        """The order's entry to read (a finished one thawed into a copy), ``None`` if not remembered."""
        key = (symbol, venue_order_id)
        t = self._orders.get(key)
        if t is None:
            e = self._finished.get(key)
            return _thaw(e) if e is not None else None
        return t

    # -- lookups (an order is named by its symbol and its venue order id) ------------------------

    def venue_order_id(self, symbol: str, client_order_id: str) -> str | None:
        return self._by_client.get((symbol, client_order_id))

    def is_known(self, symbol: str, venue_order_id: str) -> bool:
        key = (symbol, venue_order_id)
        return key in self._orders or key in self._finished

    def open_orders(self) -> list[tuple[str, str, str]]:
        """Return (symbol, venue order id, client order id) of every order not yet terminal."""
        return [(t.symbol, t.venue_order_id, t.client_order_id) for t in self._orders.values() if t.ended is None]

    def needing_reconcile(self) -> list[tuple[str, str, str]]:
        """Return (symbol, venue order id, client order id) of every order with a gap (open ones first)."""
        return [(t.symbol, t.venue_order_id, t.client_order_id) for t in self._orders.values() if t.needs_reconcile] + [
            (e[_SYM], e[_VID], e[_CID]) for e in self._finished.values() if e[_RECON]]

    def rename(self, symbol: str, venue_order_id: str, client_order_id: str) -> None:
        """Name a tracked order by ``client_order_id`` from now on (the venue's id for it was one we
        could not read back, such as a UUID standing for a longer id); its old name still finds it."""
        key = (symbol, venue_order_id)
        t = self._orders.get(key)
        if t is None:
            e = self._finished.get(key)
            if e is not None and e[_CID] != client_order_id:  # in place: its grace period runs on
                self._finished[key] = (*e[:_CID], client_order_id, *e[_CID + 1:_NOLD], e[_NOLD] + 1, *_old_ids(e),
                                       e[_CID], *_fill_keys(e))
                self._by_client[(symbol, client_order_id)] = venue_order_id
            return
        if t.client_order_id == client_order_id:
            return
        t.old_client_ids = (*t.old_client_ids, t.client_order_id)
        t.client_order_id = client_order_id
        self._by_client[(symbol, client_order_id)] = venue_order_id

    def cum_qty(self, symbol: str, venue_order_id: str) -> Decimal:
        t = self._entry(symbol, venue_order_id)
        return t.cum_qty if t else _ZERO

    def report(self, symbol: str, venue_order_id: str) -> OrderReport | None:
        t = self._entry(symbol, venue_order_id)
        if t is None:
            return None
        return OrderReport(
            venue=self.venue, symbol=t.symbol, client_order_id=t.client_order_id,
            venue_order_id=t.venue_order_id, status=t.status(), side=t.side, order_type=t.order_type,
            quantity=t.quantity, price=t.price, cum_qty=t.cum_qty, cum_quote=t.cum_quote, ts_ns=t.last_ts_ns,
        )

    def forget(self, symbol: str, client_order_id: str) -> None:
        """Forget the order ``client_order_id`` names (open or finished), so that the next observation of
        it (a query's) reveals all of it again: its acceptance, every fill, its end. For a gateway node
        taking an account over from another: it observed the venue's events while it applied none."""
        vid = self._by_client.pop((symbol, client_order_id), None)
        if vid is None:
            return
        key = (symbol, vid)
        e = self._finished.pop(key, None)
        t = self._orders.pop(key, None)
        ids = (t.client_order_id, *t.old_client_ids) if t is not None else (e[_CID], *_old_ids(e)) if e else ()
        for cid in ids:
            if self._by_client.get((symbol, cid)) == vid:
                del self._by_client[(symbol, cid)]

    # -- the one entry point -------------------------------------------------------------------

    def observe(
        self, u: OrderUpdate, *, synthesize_gaps: bool = False, from_reconciliation: bool = False
    ) -> list[VenueOrderEvent]:
        """Fold one observation in; return the events it reveals (possibly none).

        An update held back for a gap is retried whenever a later one moves the order forward, so
        events that arrive out of order (a later trade before an earlier one) come out in order.
        """
        out = self._observe_one(u, synthesize_gaps, from_reconciliation)
        key = (u.symbol, u.venue_order_id)
        t = self._orders[key]
        while t.held and out:
            before = (t.cum_qty, t.ended, len(t.held))
            held, t.held = sorted(t.held, key=lambda h: (h.cum_qty or _ZERO, h.status.is_terminal)), []
            for h in held:
                out.extend(self._observe_one(h, False, from_reconciliation))
            if (t.cum_qty, t.ended, len(t.held)) == before:
                break
        if t.held is not None and (t.ended is not None or not t.needs_reconcile or not t.held):
            t.held = None
        if t.ended is not None:
            self._finish(key, t)
        return out

    def may_be_redundant(self, symbol: str, venue_order_id: str, status: OrderStatus, rejected: bool = False) -> bool:
        """The cheap first half of ``redundant``, before any amount is read: ``False`` when an update of
        this order with this status surely reveals something (an order not tracked or not accepted yet,
        one waiting for a gap, an end of an open order)."""
        t = self._orders.get((symbol, venue_order_id))
        if t is None:  # finished (ended, nothing held) or not remembered
            e = self._finished.get((symbol, venue_order_id))
            if e is None or e[_RECON]:
                return False
            return True if rejected or status is OrderStatus.REJECTED else e[_ACKED]
        if t.needs_reconcile or t.held:  # open (an order that ends is frozen before ``observe`` returns)
            return False
        if rejected or status is OrderStatus.REJECTED:
            return t.acked
        return t.acked and status not in _ENDS and status is not OrderStatus.FILLED

    def redundant(
        self, symbol: str, venue_order_id: str, status: OrderStatus, *, cum_qty: Decimal | None,
        quantity: Decimal | None, price: Decimal | None, trade_ids: tuple[str, ...] = (), ts_ns: int,
        rejected: bool = False,
    ) -> bool:
        """Return ``True`` when an update of an order with these facts would reveal nothing: ``observe``
        would return no event and change nothing but the order's last time, which this folds in.

        The cheap way to drop the second and third telling of one fact (an order's answer, then its
        stream events) before building an ``OrderUpdate``: the order named by (symbol, venue order id),
        is tracked, accepted, waits for no gap, and the update moves no quantity, ends nothing and
        brings no new fill key (``trade_ids``: the update's trades). ``rejected``: the update
        is a refusal (by its status or its kind). ``False`` whenever in doubt; then ``observe`` decides.
        """
        key = (symbol, venue_order_id)
        t = self._orders.get(key)
        if t is None:  # finished (so: no amendment, no end to tell) or not remembered
            e = self._finished.get(key)
            if e is None or e[_RECON] or e[_SIDE] is None or e[_TYPE] is None:
                return False
            if not (rejected or status is OrderStatus.REJECTED):
                if not e[_ACKED] or (cum_qty is not None and cum_qty > e[_CUM]):
                    return False
                keys = e[_BASE + e[_NOLD]:] if trade_ids else ()
                for trade_id in trade_ids:
                    if fill_key(symbol, trade_id) not in keys:
                        return False
            if e[_PX] is None and price is not None:
                return False
            if ts_ns > e[_TS]:
                self._finished[key] = (*e[:_TS], ts_ns, *e[_TS + 1:])
            self._finished.move_to_end(key)  # as ``observe`` does: the grace period starts again
            return True
        # open (an order that ends is frozen before ``observe`` returns)
        if t.needs_reconcile or t.held or t.side is None or t.order_type is None or not t.acked:
            return False
        if not (rejected or status is OrderStatus.REJECTED):
            if cum_qty is not None and cum_qty > t.cum_qty:
                return False
            if quantity is not None and t.quantity is not None and quantity != t.quantity:
                return False  # an amendment
            for trade_id in trade_ids:
                if fill_key(symbol, trade_id) not in t.fill_keys:
                    return False
            if status in _ENDS or status is OrderStatus.FILLED and cum_qty == t.cum_qty:
                return False  # it ends the order
        if t.price is None and price is not None:
            return False
        if ts_ns > t.last_ts_ns:
            t.last_ts_ns = ts_ns
        return True

    def _finish(self, key: tuple[str, str], t: _Tracked) -> None:
        """Keep the open entry ``t`` as the newest finished order (frozen); forget the oldest past the
        grace period."""
        del self._orders[key]
        finished = self._finished
        finished[key] = _freeze(t)  # the newest: an order is either open or finished, never both
        keep = self.retain_finished
        while keep is not None and len(finished) > keep:
            (symbol, vid), e = finished.popitem(last=False)
            for cid in (e[_CID], *_old_ids(e)):
                if self._by_client.get((symbol, cid)) == vid:
                    del self._by_client[(symbol, cid)]

    def _observe_one(
        self, u: OrderUpdate, synthesize_gaps: bool, from_reconciliation: bool
    ) -> list[VenueOrderEvent]:
        key = (u.symbol, u.venue_order_id)
        t = self._orders.get(key)
        if t is None:
            e = self._finished.pop(key, None)  # a late update of a finished order: thawed, frozen again
            if e is not None:
                t = _thaw(e)
            else:
                t = _Tracked(u.symbol, u.venue_order_id, u.orig_client_order_id or u.client_order_id)
                self._by_client[(t.symbol, t.client_order_id)] = u.venue_order_id
            self._orders[key] = t
        if t.side is None:
            t.side = u.side
        if t.order_type is None:
            t.order_type = u.order_type
        if t.price is None:
            t.price = u.price
        t.last_ts_ns = max(t.last_ts_ns, u.ts_ns)
        out: list[VenueOrderEvent] = []
        venue = self.venue

        if u.status is OrderStatus.REJECTED or u.kind is UpdateKind.REJECTED:
            if t.ended is None and not t.acked:  # a refusal after acceptance is about a request, not the order
                t.ended = OrderStatus.REJECTED
                out.append(VenueOrderRejected(
                    client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, cum_qty=t.cum_qty,
                    ts_ns=u.ts_ns, reason=u.reason, code=u.code, venue=venue, symbol=t.symbol,
                    from_reconciliation=from_reconciliation))
            return out
        if not t.acked:
            t.acked = True
            if t.quantity is None:
                t.quantity = u.quantity
            out.append(VenueAccepted(
                client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, cum_qty=t.cum_qty,
                ts_ns=u.ts_ns, side=t.side, order_type=t.order_type, quantity=t.quantity, price=t.price, venue=venue,
                symbol=t.symbol, from_reconciliation=from_reconciliation))
        if u.quantity is not None and t.quantity is not None and u.quantity != t.quantity and t.ended is None:
            out.append(self._amended(t, u, from_reconciliation))
        fills = self._new_fills(t, u, synthesize_gaps)
        if fills is None:  # a gap: hold this update (its fills and its end) until the gap closes
            t.needs_reconcile = True
            _hold(t, u)
            return out
        for f in fills:
            keys = t.fill_keys
            if type(keys) is tuple:  # the first fill (or one after the order ended): a set from now on
                t.fill_keys = keys = set(keys)
            keys.add(fill_key(t.symbol, f.trade_id))
            t.cum_qty += f.qty
            t.cum_quote += f.qty * f.price
            done = (t.quantity is not None and t.cum_qty >= t.quantity) or (
                f is fills[-1] and u.status is OrderStatus.FILLED and u.cum_qty == t.cum_qty)
            if done:
                t.ended = OrderStatus.FILLED
            out.append(VenueFilled(
                client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, cum_qty=t.cum_qty,
                ts_ns=f.ts_ns or u.ts_ns, last_qty=f.qty, last_px=f.price, trade_id=f.trade_id, fee=f.fee,
                fee_asset=f.fee_asset, is_maker=f.is_maker, cum_quote=t.cum_quote, done=done, venue=venue,
                symbol=t.symbol, from_reconciliation=from_reconciliation))
        if u.cum_qty is not None and u.cum_qty == t.cum_qty:
            t.needs_reconcile = False
        if t.ended is not None:
            return out
        if u.status in _ENDS:
            if u.cum_qty is not None and u.cum_qty > t.cum_qty:  # its fills are still to come
                t.needs_reconcile = True
                _hold(t, u)
                return out
            t.ended = u.status
            cls = VenueCanceled if u.status is OrderStatus.CANCELED else VenueExpired
            out.append(cls(client_order_id=t.client_order_id, venue_order_id=t.venue_order_id, cum_qty=t.cum_qty,
                           ts_ns=u.ts_ns, reason=u.reason, venue=venue, symbol=t.symbol,
                           from_reconciliation=from_reconciliation))
        elif u.status is OrderStatus.FILLED and u.cum_qty is not None and u.cum_qty == t.cum_qty:
            t.ended = OrderStatus.FILLED  # filled by fills already published
        return out

    def _amended(self, t: _Tracked, u: OrderUpdate, from_reconciliation: bool) -> VenueAmended:
        """An in-place amendment: a new quantity, and possibly a new client order id."""
        old_id = t.client_order_id
        new_id = u.client_order_id if u.kind in (UpdateKind.AMENDED, UpdateKind.SNAPSHOT) else old_id
        t.quantity = u.quantity
        if new_id != old_id:
            t.old_client_ids = (*t.old_client_ids, old_id)
            t.client_order_id = new_id
            self._by_client[(t.symbol, new_id)] = t.venue_order_id
        return VenueAmended(client_order_id=new_id, venue_order_id=t.venue_order_id, cum_qty=t.cum_qty,
                            ts_ns=u.ts_ns, orig_client_order_id=old_id, quantity=u.quantity, price=u.price,
                            venue=self.venue, symbol=t.symbol, from_reconciliation=from_reconciliation)

    def _new_fills(self, t: _Tracked, u: OrderUpdate, synthesize_gaps: bool) -> list[Fill] | None:
        """The fills of ``u`` not seen before, in order (a synthesized one first for a gap it may
        close); ``None`` when there is a gap this update may not close."""
        if not u.fills and (u.cum_qty is None or u.cum_qty <= t.cum_qty):
            return []  # most updates (an acceptance, an end): no fill, nothing missing
        new_fills = [f for f in u.fills if fill_key(t.symbol, f.trade_id) not in t.fill_keys]
        if u.cum_qty is None:
            return new_fills
        new_qty = sum((f.qty for f in new_fills), _ZERO)
        prior = u.cum_qty - new_qty  # what the venue had before these fills
        if prior < t.cum_qty:  # some of these fills are replays we already counted another way
            new_fills = self._drop_covered(new_fills, u.cum_qty, t.cum_qty)
            prior = u.cum_qty - sum((f.qty for f in new_fills), _ZERO)
        gap = prior - t.cum_qty
        if gap > 0:
            if not synthesize_gaps:
                return None
            quote = None
            if u.cum_quote is not None:
                quote = u.cum_quote - sum((f.qty * f.price for f in new_fills), _ZERO) - t.cum_quote
            px = (quote / gap) if quote is not None and quote > 0 else (u.price or _ZERO)
            new_fills.insert(0, Fill(f"recon:{t.venue_order_id}:{prior}", gap, px, ts_ns=u.ts_ns))
        return new_fills

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


def _hold(t: _Tracked, u: OrderUpdate) -> None:
    """Hold ``u`` back until the gap it shows closes (the list is made for the first one)."""
    if t.held is None:
        t.held = [u]
    else:
        t.held.append(u)
