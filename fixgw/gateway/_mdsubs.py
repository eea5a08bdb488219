"""What one market-data subscription is due, encoded once for all the subscriptions of its kind.

Theory of operation
-------------------
``MDSub`` is one MarketDataRequest (263=0 or 1) of one session: what it asked for, worked out once,
and what it last saw per symbol (the book's update id and the top-N view sent). ``queue_due`` turns
its dirty symbols and pending trades into a W per symbol (a FULL subscription, or the first answer)
or one X (INCREMENTAL: the view's differences, then the trades), queued on the session's handle
without writing (the caller flushes each handle once).

Sharing: within one flush, ``cache`` holds every view and every encoded body, keyed by what decides
them: (feed, symbol, depth, sides) for a view; plus the update id last seen, the client's symbol and
the FIX version for an X; plus the last trade for a W. The book equals the venue's at its update id,
so subscriptions that last saw the same id, whenever they subscribed, get the same changes: built,
formatted and encoded once (``SharedBody``), and each session only writes its header, its MDReqID
(262, the first field of every W and X body) and the CheckSum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..session import SharedBody
from ..session.messages import encode_body
from ..translate.marketdata import (EntryType, MarketDataRequest, MDEntry, MDTrade, Subscription, UpdateAction,
                                    UpdateType, book_changes, incremental_refresh, snapshot_full_refresh)

__all__ = ["MDSub", "queue_due"]

Levels = list[tuple[Any, Any]]


@dataclass(eq=False)
class MDSub:
    """One subscription of one session (see the module docstring)."""

    ctx: Any  # SessionContext
    req: MarketDataRequest
    feed: Any  # BinanceMarketData
    #: Per symbol, the book's update id and the view (bids, asks) last sent.
    views: dict[str, tuple[int, tuple[Levels, Levels]]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    trades: list[tuple[str, Any]] = field(default_factory=list)
    behind: bool = False
    done: bool = False
    # fixed for the subscription's life, worked out once
    lead: bytes = b""  # 262=<MDReqID> SOH, the first field of every W and X body
    client: dict[str, str] = field(default_factory=dict)  # normalized symbol -> the client's spelling
    #: Per symbol, the cache keys of its view and of its X pieces: strings, so hashed once for the
    #: subscription's life, not once per flush (``queue_due`` looks them up for every session).
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    version: str = ""
    once: bool = False
    full: bool = False
    bids: bool = False
    offers: bool = False
    with_trades: bool = False

    def __post_init__(self) -> None:
        req = self.req
        self.lead = encode_body([(262, req.md_req_id)])
        self.client = dict(zip(req.symbols, req.client_symbols))
        self.version = self.ctx.settings.begin_string
        self.once = req.subscription is Subscription.SNAPSHOT
        self.full = req.update_type is UpdateType.FULL
        self.bids = EntryType.BID in req.entry_types
        self.offers = EntryType.OFFER in req.entry_types
        self.with_trades = EntryType.TRADE in req.entry_types
        depth = req.depth or None
        for symbol, client in self.client.items():
            # what decides the view: (feed, symbol, depth, sides); an X piece adds the client's symbol and
            # the FIX version (the \x00 separator occurs in none of them)
            view = f"{id(self.feed)}\x00{symbol}\x00{depth}\x00{self.bids:d}{self.offers:d}"
            self.keys[symbol] = (view, f"X\x00{view}\x00{client}\x00{self.version}")

    @property
    def wants_book(self) -> bool:
        return self.bids or self.offers


def _x_part(pin: Any, version: str, entries: list[MDEntry]) -> tuple[Any, int, bytes, SharedBody | None]:
    """One piece of an X: ``(pin, n, entries, body)``: the ``n`` entries encoded (what follows
    NoMDEntries 268) and, when there are some, the whole X body of that piece alone (without MDReqID).
    ``pin`` is kept so that the id in the cache key stays its own while the cache lives."""
    if not entries:
        return pin, 0, b"", None
    fields = incremental_refresh(version, entries)[1]
    assert fields[0] == (268, len(entries))  # no MDReqID asked for: the count leads
    encoded = encode_body(fields[1:])
    return pin, len(entries), encoded, SharedBody.of(b"268=%d\x01%s" % (len(entries), encoded))


def queue_due(sub: MDSub, drop: Callable[[MDSub], None], cache: dict[Any, Any] | None = None) -> bool:
    """Queue what ``sub`` is due on its session's handle (``send(..., flush=False)``); True when something
    was queued. A one-off snapshot is ``drop``-ped once every symbol was sent."""
    handle = sub.ctx.handle
    if cache is None:
        cache = {}
    version = sub.version
    depth = sub.req.depth or None
    client = sub.client
    lead = sub.lead
    views = sub.views
    keys = sub.keys
    books = sub.feed.books
    sent = False
    count = 0
    parts: list[Any] = []  # cache entries of the X's pieces: (pinned object, entry count, bytes, body)
    dirty_set = sub.dirty
    dirty = sorted(dirty_set) if len(dirty_set) > 1 else list(dirty_set)
    for symbol in dirty:
        book = books.get(symbol)
        if book is None or not book.is_live:
            continue  # sent when it is live again
        dirty_set.discard(symbol)
        key, xkey = keys[symbol]
        now = cache.get(key)
        if now is None:
            bids, asks = book.top(depth) if sub.wants_book else ([], [])
            now = cache[key] = (book.last_update_id, (bids if sub.bids else [], asks if sub.offers else []))
        view = now[1]
        old = views.get(symbol)
        if old is None or sub.full:
            if old is not None and old[1] == view and not sub.once and not sub.with_trades:
                continue
            last = sub.feed.last_trade.get(symbol) if sub.with_trades else None
            wkey = (b"W", key, client[symbol], version, id(last))
            hit = cache.get(wkey)
            if hit is None:  # (last is pinned in the entry so that its id stays its own during the flush)
                trades = [] if last is None else [MDTrade(last.price, last.qty, last.ts_ns, last.trade_id)]
                fields = snapshot_full_refresh(version, client[symbol], bids=view[0], asks=view[1],
                                               trades=trades)[1]
                hit = cache[wkey] = (last, SharedBody.of(encode_body(fields)))
            handle.send(b"W", hit[1].led_by(lead), flush=False)
            sent = True
            views[symbol] = now
            if sub.trades:
                sub.trades = [t for t in sub.trades if t[0] != symbol]
            continue
        # The book equals the venue's at its update id, so subscriptions that last saw the same id
        # (whenever they subscribed) get the same changes: built and encoded once.
        dkey = (xkey, old[0])
        hit = cache.get(dkey)
        if hit is None:
            hit = cache[dkey] = _x_part(old, version, book_changes(client[symbol], old[1], view))
        views[symbol] = now
        if hit[1]:
            count += hit[1]
            parts.append(hit)
    trades = sub.trades
    for symbol, t in trades:
        tkey = (b"T", id(t), client[symbol], version)
        hit = cache.get(tkey)
        if hit is None:
            hit = cache[tkey] = _x_part(t, version, [MDEntry(
                UpdateAction.NEW, EntryType.TRADE, client[symbol], t.price, t.qty,
                entry_id=str(t.trade_id), ts_ns=t.ts_ns)])
        count += 1
        parts.append(hit)
    if trades:
        trades.clear()
    if count:
        if len(parts) == 1:
            body = parts[0][3]  # the usual case: one symbol's changes, shared as they are
        else:
            body = SharedBody.of(b"268=%d\x01%s" % (count, b"".join(p[2] for p in parts)))
        handle.send(b"X", body.led_by(lead), flush=False)
        sent = True
    if sub.once and len(views) == len(sub.req.symbols):
        drop(sub)
    return sent

