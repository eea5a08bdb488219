"""One symbol's limit order book: price levels in price-time priority. Pure, no I/O.

Theory of operation: each side keeps a sorted list of prices and, per price, a FIFO queue of resting
orders with the level's total. Bids are matched from the highest price, asks from the lowest; within
a level the oldest order goes first. Every change to a level's total is recorded in ``changes`` so the
engine can publish one depth update per operation (absolute quantities, 0 = level removed) with a
strictly increasing update id.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from decimal import Decimal
from typing import Iterator, Protocol

__all__ = ["OrderBook", "Resting"]


class Resting(Protocol):
    order_id: int
    side: str
    price: Decimal

    @property
    def remaining(self) -> Decimal: ...


class _Level:
    __slots__ = ("price", "orders", "total")

    def __init__(self, price: Decimal) -> None:
        self.price = price
        self.orders: deque[Resting] = deque()
        self.total = Decimal(0)


class OrderBook:
    """Bids and asks of one symbol."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._levels: dict[str, dict[Decimal, _Level]] = {"BUY": {}, "SELL": {}}
        self._prices: dict[str, list[Decimal]] = {"BUY": [], "SELL": []}  # ascending on both sides
        self.update_id = 0
        self.changes: dict[tuple[str, Decimal], Decimal] = {}

    # -- queries ---------------------------------------------------------------------------------
    def best(self, side: str) -> Decimal | None:
        """Best price of ``side`` (highest bid, lowest ask) or None."""
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == "BUY" else prices[0]

    def levels(self, side: str, limit: int | None = None) -> list[tuple[Decimal, Decimal]]:
        """(price, total) from the best price outwards."""
        prices = self._prices[side]
        ordered = reversed(prices) if side == "BUY" else iter(prices)
        out = []
        for p in ordered:
            if limit is not None and len(out) >= limit:
                break
            out.append((p, self._levels[side][p].total))
        return out

    def orders_from_best(self, side: str) -> Iterator[Resting]:
        """Resting orders of ``side`` in matching order (price, then time)."""
        prices = list(reversed(self._prices[side])) if side == "BUY" else list(self._prices[side])
        for p in prices:
            level = self._levels[side].get(p)
            if level is not None:
                yield from list(level.orders)

    def queue(self, side: str, price: Decimal) -> list[Resting]:
        level = self._levels[side].get(price)
        return list(level.orders) if level else []

    def __contains__(self, order: Resting) -> bool:
        level = self._levels[order.side].get(order.price)
        return level is not None and any(o is order for o in level.orders)

    # -- changes ---------------------------------------------------------------------------------
    def add(self, order: Resting) -> None:
        """Append ``order`` at the back of its price level."""
        side, price = order.side, order.price
        level = self._levels[side].get(price)
        if level is None:
            level = self._levels[side][price] = _Level(price)
            insort(self._prices[side], price)
        level.orders.append(order)
        level.total += order.remaining
        self.changes[(side, price)] = level.total

    def remove(self, order: Resting) -> None:
        """Take ``order`` off the book (cancel, expiry or fully filled)."""
        side, price = order.side, order.price
        level = self._levels[side][price]
        for i, o in enumerate(level.orders):
            if o is order:
                del level.orders[i]
                break
        else:  # pragma: no cover - engine bug
            raise KeyError(order.order_id)
        level.total -= order.remaining
        self._after_change(side, level)

    def reduce(self, order: Resting, qty: Decimal) -> None:
        """Record that ``order`` lost ``qty`` (a fill or an amend down); keeps its place in the queue.

        Call before the order's own remaining quantity is updated is not required: the level total is
        adjusted by ``qty`` alone. Remove the order separately when it is done.
        """
        level = self._levels[order.side][order.price]
        level.total -= qty
        self.changes[(order.side, order.price)] = level.total

    def _after_change(self, side: str, level: _Level) -> None:
        price = level.price
        if not level.orders:
            del self._levels[side][price]
            prices = self._prices[side]
            del prices[bisect_left(prices, price)]
            self.changes[(side, price)] = Decimal(0)
        else:
            self.changes[(side, price)] = level.total

    def drop_filled(self, order: Resting) -> None:
        """Remove an order whose remaining quantity is already zero."""
        level = self._levels[order.side][order.price]
        for i, o in enumerate(level.orders):
            if o is order:
                del level.orders[i]
                break
        self._after_change(order.side, level)

    def take_changes(self) -> tuple[int, list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]] | None:
        """Return (update id, bids, asks) of the changes since the last call, or None if none."""
        if not self.changes:
            return None
        self.update_id += 1
        bids = sorted((p, q) for (s, p), q in self.changes.items() if s == "BUY")
        asks = sorted((p, q) for (s, p), q in self.changes.items() if s == "SELL")
        self.changes = {}
        return (
            self.update_id,
            list(reversed(bids)),
            asks,
        )
