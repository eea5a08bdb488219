"""A local order book kept in step with a venue by its snapshot + diff-depth rules (sans-I/O).

Theory of operation
-------------------
A venue publishes a REST snapshot (``lastUpdateId`` and the levels) and a stream of diff events, each
covering the update ids ``[U, u]`` and carrying **absolute** quantities (0 removes a level). ``LocalBook``
runs the documented procedure without doing any I/O itself (Binance "How to manage a local order book
correctly"; facts §1.8):

1. ``AWAITING_SNAPSHOT``: every event is buffered (oldest dropped at ``max_buffered``, counted).
   ``take_snapshot_request()`` answers True once per need: the caller then fetches a snapshot and
   hands it to ``on_snapshot``.
2. ``on_snapshot``: a snapshot older than the buffered stream (``lastUpdateId + 1 < U`` of the first
   buffered event: updates in between are missing) is refused and another is requested (``stale_snapshots``).
   Otherwise the book becomes the snapshot, buffered events are replayed in update-id order by the
   live rule, and the state is ``LIVE``. The first applied event so straddles the snapshot
   (``U <= lastUpdateId + 1 <= u``); the exact case ``U = lastUpdateId + 1`` is accepted.
3. ``LIVE``, per event: ``u <= book id`` is old or a duplicate and ignored; ``U > book id + 1`` is a gap;
   otherwise each level is set, then book id = ``u``. A gap, a crossed book (best bid >= best ask after
   an event) or a malformed event (``u < U``) discards the book: it is a **resync**, counted in
   ``resyncs`` and ``resync_reasons`` with its reason, and the event that revealed it is buffered as the
   first of the next sync. ``stream_lost()`` does the same when the caller's stream dropped.

So the book is never silently wrong: while ``LIVE`` it equals the venue's book at ``last_update_id``;
otherwise a snapshot is pending. Re-applying an event is harmless because quantities are absolute.

Level store: per side a dict price -> quantity plus a list of prices kept sorted with the best price
at the end (bids ascending, asks descending), so a quantity change is one dict write and an insert
or delete near the top moves few list slots. Views are slices of that list. Memory is bounded: each
side keeps at most ``max_levels`` levels, the ones farthest from the top being dropped first (a venue
publishes changes far beyond any snapshot depth; a depth view past the bound is then incomplete).

Levels are ``Decimal``; ``parse_levels`` turns a venue's ``[["price", "qty"], ...]`` into them and
refuses bad rows with a ``VenueError``. The book trusts the Decimals it is given.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, bisect_right, insort
from collections import Counter, deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Sequence

from ...errors import VenueError
from ...logsafe import printable

__all__ = [
    "Level",
    "DepthUpdate",
    "DepthSnapshot",
    "BookState",
    "Outcome",
    "LocalBook",
    "parse_levels",
    "RESYNC_GAP",
    "RESYNC_CROSSED",
    "RESYNC_BAD_EVENT",
    "RESYNC_STREAM_LOST",
]

Level = tuple[Decimal, Decimal]

RESYNC_GAP = "gap"
RESYNC_CROSSED = "crossed"
RESYNC_BAD_EVENT = "bad_event"
RESYNC_STREAM_LOST = "stream_lost"


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """One diff-depth event: update ids ``first_id`` (U) to ``last_id`` (u), absolute levels."""

    first_id: int
    last_id: int
    bids: Sequence[Level] = ()
    asks: Sequence[Level] = ()


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A REST depth snapshot: ``last_update_id`` (lastUpdateId) and its levels."""

    last_update_id: int
    bids: Sequence[Level] = ()
    asks: Sequence[Level] = ()


class BookState(enum.Enum):
    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"


class Outcome(enum.Enum):
    """What one call did; the caller fetches a snapshot when ``take_snapshot_request()`` says so."""

    BUFFERED = "buffered"  # awaiting a snapshot; kept for replay
    APPLIED = "applied"
    IGNORED = "ignored"  # old or duplicate (u <= book id)
    RESYNC = "resync"  # book discarded (gap, crossed, bad event); a snapshot is wanted
    SYNCED = "synced"  # snapshot taken and buffered events replayed: LIVE
    STALE_SNAPSHOT = "stale_snapshot"  # snapshot older than the buffered stream: another is wanted
    UNSOLICITED = "unsolicited"  # a snapshot while LIVE: not needed, dropped


def parse_levels(rows: Iterable[Sequence[object]]) -> list[Level]:
    """Return ``[(price, qty), ...]`` from a venue's ``[["4.00", "431.0"], ...]`` rows.

    Extra row elements are ignored. A row without two finite decimals, a price <= 0 or a negative
    quantity raises ``VenueError`` naming the row (escaped for logs); nothing is half-parsed.
    """
    out: list[Level] = []
    for row in rows:
        try:
            p, q = row[0], row[1]
            if not isinstance(p, (str, int, Decimal)) or not isinstance(q, (str, int, Decimal)):
                raise TypeError
            price, qty = Decimal(p), Decimal(q)
        except (TypeError, IndexError, KeyError, InvalidOperation, ValueError):
            raise VenueError(f"depth level is not a [price, qty] pair of decimals: {printable(repr(row)[:80])}") from None
        if not (price.is_finite() and qty.is_finite()) or price <= 0 or qty < 0:
            raise VenueError(f"depth level out of range: {printable(repr(row)[:80])}")
        out.append((price, qty))
    return out


class _Side:
    """One side's levels: dict price -> qty, and the prices sorted with the best last.

    Bids are kept ascending, asks descending (bisected through ``_NEG``). The list holds the dict's own
    key objects, so a view's lookups reuse their cached hashes (a fresh Decimal's hash costs ~1 µs).
    """

    __slots__ = ("qty", "keys", "key")

    def __init__(self, descending: bool) -> None:
        self.qty: dict[Decimal, Decimal] = {}
        self.keys: list[Decimal] = []
        self.key = _NEG if descending else None

    def clear(self) -> None:
        self.qty.clear()
        self.keys.clear()

    def load(self, levels: Iterable[Level]) -> None:
        qty = self.qty
        qty.clear()
        for price, q in levels:
            if q:
                qty[price] = q
            else:
                qty.pop(price, None)
        self.keys = sorted(qty, reverse=self.key is not None)

    def apply(self, levels: Iterable[Level]) -> None:
        qty = self.qty
        keys = self.keys
        key = self.key
        for price, q in levels:
            if q:
                if price not in qty:
                    insort(keys, price, key=key)
                qty[price] = q
            elif price in qty:
                del qty[price]
                if key is None:
                    del keys[bisect_left(keys, price)]
                else:
                    del keys[bisect_left(keys, price.copy_negate(), key=key)]

    def best(self) -> Decimal | None:
        return self.keys[-1] if self.keys else None

    def top(self, n: int | None) -> list[Level]:
        keys = self.keys
        qty = self.qty
        sl = keys[::-1] if n is None or n >= len(keys) else keys[: -n - 1 : -1]
        return [(k, qty[k]) for k in sl]

    def trim(self, max_levels: int) -> None:
        excess = len(self.keys) - max_levels
        if excess > 0:
            qty = self.qty
            for k in self.keys[:excess]:
                del qty[k]
            del self.keys[:excess]


_NEG = Decimal.copy_negate  # sort key of the asks: exact, no context rounding


class LocalBook:
    """The local book of one symbol; feed it events and snapshots, read top-N or full views."""

    def __init__(self, symbol: str, *, max_buffered: int = 10_000, max_levels: int = 20_000) -> None:
        if max_buffered < 1 or max_levels < 1:
            raise ValueError("max_buffered and max_levels must be positive")
        self.symbol = symbol
        self.max_buffered = max_buffered
        self.max_levels = max_levels
        self._bids = _Side(descending=False)
        self._asks = _Side(descending=True)
        self._buffer: deque[DepthUpdate] = deque()
        self.state = BookState.AWAITING_SNAPSHOT
        #: Update id the book reflects (meaningful while LIVE).
        self.last_update_id = 0
        self.resyncs = 0
        self.resync_reasons: Counter[str] = Counter()
        self.last_resync_reason: str | None = None
        self.stale_snapshots = 0
        self.buffer_dropped = 0
        self.applied = 0
        self.ignored = 0
        self._request_out = False

    def __repr__(self) -> str:
        return (f"LocalBook({self.symbol!r}, {self.state.value}, id={self.last_update_id}, "
                f"levels={len(self._bids.qty)}/{len(self._asks.qty)}, resyncs={self.resyncs})")

    # -- the procedure -------------------------------------------------------------------------------
    def take_snapshot_request(self) -> bool:
        """Return True once per needed snapshot: the caller should fetch one now and call ``on_snapshot``."""
        if self.state is BookState.AWAITING_SNAPSHOT and not self._request_out:
            self._request_out = True
            return True
        return False

    @property
    def buffered(self) -> int:
        """Events waiting for a snapshot."""
        return len(self._buffer)

    def on_event(self, event: DepthUpdate) -> Outcome:
        """Take one diff event: buffer it, apply it, ignore it, or discard the book (resync)."""
        if self.state is BookState.AWAITING_SNAPSHOT:
            self._buffer_event(event)
            return Outcome.BUFFERED
        return self._live(event)

    def on_snapshot(self, snapshot: DepthSnapshot) -> Outcome:
        """Take a fetched snapshot: go LIVE (replaying the buffer), or ask for a fresher one."""
        if self.state is BookState.LIVE:
            return Outcome.UNSOLICITED
        self._request_out = False
        lid = snapshot.last_update_id
        buf = sorted(self._buffer, key=_last_id)  # arrival order may differ after a reconnect
        del buf[: bisect_right([e.last_id for e in buf], lid)]  # already in the snapshot
        if buf and buf[0].first_id > lid + 1:
            # Updates between the snapshot and the first buffered event are missing (facts §1.8 step 2).
            self.stale_snapshots += 1
            self._buffer = deque(buf)
            return Outcome.STALE_SNAPSHOT
        self._bids.load(snapshot.bids)
        self._asks.load(snapshot.asks)
        self.last_update_id = lid
        self.state = BookState.LIVE
        self._buffer.clear()
        self._trim()
        if self._crossed():
            self._resync(RESYNC_CROSSED, ())
            return Outcome.RESYNC
        for i, event in enumerate(buf):
            if self._live(event) is Outcome.RESYNC:
                self._buffer.extend(buf[i + 1 :])
                return Outcome.RESYNC
        return Outcome.SYNCED

    def stream_lost(self) -> None:
        """Discard the book because the caller's stream dropped; a snapshot is wanted after reconnecting."""
        self._buffer.clear()
        if self.state is BookState.LIVE:
            self._resync(RESYNC_STREAM_LOST, ())

    def _live(self, event: DepthUpdate) -> Outcome:
        first, last = event.first_id, event.last_id
        if last < first:
            self._resync(RESYNC_BAD_EVENT, ())
            return Outcome.RESYNC
        if last <= self.last_update_id:
            self.ignored += 1
            return Outcome.IGNORED
        if first > self.last_update_id + 1:
            self._resync(RESYNC_GAP, (event,))
            return Outcome.RESYNC
        if event.bids:
            self._bids.apply(event.bids)
        if event.asks:
            self._asks.apply(event.asks)
        self.last_update_id = last
        self.applied += 1
        bids, asks = self._bids.keys, self._asks.keys
        if bids and asks and bids[-1] >= asks[-1]:
            self._resync(RESYNC_CROSSED, ())
            return Outcome.RESYNC
        if len(bids) > self.max_levels or len(asks) > self.max_levels:
            self._trim()
        return Outcome.APPLIED

    def _resync(self, reason: str, keep: tuple[DepthUpdate, ...]) -> None:
        self.resyncs += 1
        self.resync_reasons[reason] += 1
        self.last_resync_reason = reason
        self._bids.clear()
        self._asks.clear()
        self.state = BookState.AWAITING_SNAPSHOT
        self._request_out = False
        for e in keep:
            self._buffer_event(e)

    def _buffer_event(self, event: DepthUpdate) -> None:
        if len(self._buffer) >= self.max_buffered:
            self._buffer.popleft()  # the oldest goes; a snapshot must then be newer than what is kept
            self.buffer_dropped += 1
        self._buffer.append(event)

    def _crossed(self) -> bool:
        b, a = self._bids.best(), self._asks.best()
        return b is not None and a is not None and b >= a

    def _trim(self) -> None:
        self._bids.trim(self.max_levels)
        self._asks.trim(self.max_levels)

    # -- views ---------------------------------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        return self.state is BookState.LIVE

    def bids(self, n: int | None = None) -> list[Level]:
        """Return the best ``n`` bids (all when None), highest price first."""
        return self._bids.top(n)

    def asks(self, n: int | None = None) -> list[Level]:
        """Return the best ``n`` asks (all when None), lowest price first."""
        return self._asks.top(n)

    def top(self, n: int | None = None) -> tuple[list[Level], list[Level]]:
        """Return ``(bids, asks)``, each the best ``n`` levels (a full depth view when None)."""
        return self._bids.top(n), self._asks.top(n)

    def best_bid(self) -> Level | None:
        p = self._bids.best()
        return None if p is None else (p, self._bids.qty[p])

    def best_ask(self) -> Level | None:
        p = self._asks.best()
        return None if p is None else (p, self._asks.qty[p])

    def depth(self) -> tuple[int, int]:
        """Return the number of (bid, ask) levels."""
        return len(self._bids.qty), len(self._asks.qty)


def _last_id(e: DepthUpdate) -> int:
    return e.last_id
