"""FIX market data: MarketDataRequest (V) -> a request value; W / X / Y and the instrument list out (pure).

``parse_market_data_request(message, symbols)`` reads a V of FIX 4.2 or 4.4 and returns a
``MarketDataRequest``, the ``MarketDataReject`` to answer with MarketDataRequestReject (Y, MDReqRejReason
281), or a ``BusinessReject`` (j) when there is no MDReqID to answer by. What we serve: SubscriptionRequestType
(263) 0 snapshot, 1 snapshot + updates, 2 unsubscribe; MarketDepth (264) 0 = full book, 1 = top of book,
N levels (up to ``max_depth``); MDUpdateType (265) 0 full refresh or 1 incremental (incremental when absent);
entry types (269) 0 bid, 1 offer, 2 trade; aggregated books only (266=N is refused). State checks
(a duplicate MDReqID) are the caller's; it answers them with ``market_data_reject``.

Encoders return ``(msg_type, body_fields)`` for ``Session.send``, groups in dictionary order:

* ``snapshot_full_refresh`` (W): 262, 55, then 268 -> 269 270 271 (272 273 for trades);
* ``incremental_refresh`` (X): 262, 268 -> 279 269 278 55 270 271 272 273. FIX 4.2 carries the symbol
  flat in the entry and FIX 4.4 through the Instrument component in the entry: both begin with 55, so
  the bytes agree for what we send. ``book_changes`` builds the entries as the difference of two top-N
  views (``diff_levels``: DELETE, then CHANGE, then NEW, keyed by price);
* ``market_data_reject`` (Y): 262, 281, 58;
* the instrument list: FIX 4.4 SecurityListRequest (x) -> SecurityList (y) with 561 RoundLot (the lot
  step) and 562 MinTradeVol (the minimum quantity) per instrument; FIX 4.2 has no x/y, so
  SecurityDefinitionRequest (c, 321=3) -> one SecurityDefinition (d, 323=4) per instrument. Neither
  dictionary has MinPriceIncrement (969) or a minimum notional field, so the tick size and minimum
  notional ride in the entry's Text (58) as ``tick_size=0.01;min_notional=5``.

Decimals are written by ``decimals.wire_text``. No clock: trade times come in as ``ts_ns``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Sequence, Union

from ..codec import format_utc_timestamp
from ..logsafe import printable
from .decimals import MAX_PLACES, plain, wire_text
from .inbound import BusinessReject
from .symbols import SymbolMap

__all__ = [
    "Subscription", "UpdateType", "EntryType", "UpdateAction", "MDRejectReason",
    "MarketDataRequest", "MarketDataReject", "MDEntry", "MDTrade", "Level",
    "parse_market_data_request", "snapshot_full_refresh", "incremental_refresh", "market_data_reject",
    "diff_levels", "apply_diff", "book_changes",
    "ListedInstrument", "SecurityListRequest", "parse_security_list_request", "security_list",
    "DEFAULT_MAX_DEPTH",
]

Fields = list[tuple[int, Any]]
Level = tuple[Decimal, Decimal]
DEFAULT_MAX_DEPTH = 5000
_VERSIONS = ("FIX.4.2", "FIX.4.4")


class Subscription(enum.Enum):
    SNAPSHOT = b"0"
    SUBSCRIBE = b"1"  # snapshot + updates
    UNSUBSCRIBE = b"2"  # disable previous snapshot + updates


class UpdateType(enum.Enum):
    FULL = b"0"  # each update a new W
    INCREMENTAL = b"1"  # X with new/change/delete


class EntryType(enum.Enum):
    BID = b"0"
    OFFER = b"1"
    TRADE = b"2"


class UpdateAction(enum.Enum):
    NEW = b"0"
    CHANGE = b"1"
    DELETE = b"2"


class MDRejectReason(enum.Enum):
    """MDReqRejReason (281): the values FIX 4.2 and 4.4 share (4.4 adds 9, A, B, C, which we never send)."""

    UNKNOWN_SYMBOL = b"0"
    DUPLICATE_MD_REQ_ID = b"1"
    INSUFFICIENT_BANDWIDTH = b"2"
    INSUFFICIENT_PERMISSIONS = b"3"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = b"4"
    UNSUPPORTED_MARKET_DEPTH = b"5"
    UNSUPPORTED_MD_UPDATE_TYPE = b"6"
    UNSUPPORTED_AGGREGATED_BOOK = b"7"
    UNSUPPORTED_MD_ENTRY_TYPE = b"8"


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    """A V we serve. ``symbols`` are normalized, ``client_symbols`` as the client spelt them (same order).

    ``depth`` 0 is the full book. ``update_type`` is None unless subscribing. An unsubscribe carries
    only ``md_req_id`` for certain; the rest is what the message said (possibly empty).
    """

    md_req_id: str
    subscription: Subscription
    depth: int
    update_type: UpdateType | None
    entry_types: tuple[EntryType, ...]
    symbols: tuple[str, ...]
    client_symbols: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MarketDataReject:
    """Answer with MarketDataRequestReject (Y)."""

    md_req_id: str
    reason: MDRejectReason
    text: str


class _Refuse(Exception):
    def __init__(self, reason: MDRejectReason, text: str) -> None:
        super().__init__(text)
        self.reason, self.text = reason, text


def _seq(msg: Any) -> int | None:
    v = msg.get(34)
    return int(v) if v and v.isdigit() else None


def _decode(v: bytes | None) -> str | None:
    if v is None or v == b"":
        return None
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parse_market_data_request(message: Any, symbols: SymbolMap | None = None, *,
                              max_depth: int = DEFAULT_MAX_DEPTH) -> Union[MarketDataRequest, MarketDataReject,
                                                                           BusinessReject]:
    """Read a MarketDataRequest (V); return the request, or the answer that refuses it.

    ``symbols`` maps client symbols to normalized ones; a symbol it does not list is 281=0. Without
    it, symbols pass as they are.
    """
    req_id = _decode(message.get(262))
    if req_id is None:
        return BusinessReject(_seq(message), b"V", None, 5, "MDReqID (262) is required and must be text")
    try:
        return _parse_v(message, req_id, symbols, max_depth)
    except _Refuse as r:
        return MarketDataReject(req_id, r.reason, r.text)


def _parse_v(message: Any, req_id: str, symbols: SymbolMap | None, max_depth: int) -> MarketDataRequest:
    raw = message.get(263)
    try:
        sub = Subscription(raw)
    except ValueError:
        raise _Refuse(MDRejectReason.UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE,
                      f"SubscriptionRequestType (263) {printable(repr(raw))} is not 0, 1 or 2") from None
    unsubscribe = sub is Subscription.UNSUBSCRIBE
    depth = 0
    raw = message.get(264)
    if raw is None:
        if not unsubscribe:
            raise _Refuse(MDRejectReason.UNSUPPORTED_MARKET_DEPTH, "MarketDepth (264) is required")
    elif not raw.isdigit() or int(raw) > max_depth:
        raise _Refuse(MDRejectReason.UNSUPPORTED_MARKET_DEPTH,
                      f"MarketDepth (264) must be 0 (full book) to {max_depth}")
    else:
        depth = int(raw)
    update_type = None
    if sub is Subscription.SUBSCRIBE:
        raw = message.get(265)
        try:
            update_type = UpdateType.INCREMENTAL if raw is None else UpdateType(raw)
        except ValueError:
            raise _Refuse(MDRejectReason.UNSUPPORTED_MD_UPDATE_TYPE,
                          "MDUpdateType (265) must be 0 (full refresh) or 1 (incremental)") from None
    if message.get(266) not in (None, b"Y") and not unsubscribe:
        raise _Refuse(MDRejectReason.UNSUPPORTED_AGGREGATED_BOOK, "only aggregated books are served (266=Y)")
    entry_types: list[EntryType] = []
    for inst in message.group(267):
        raw = inst.get(269)
        try:
            et = EntryType(raw)
        except ValueError:
            raise _Refuse(MDRejectReason.UNSUPPORTED_MD_ENTRY_TYPE,
                          f"MDEntryType (269) {printable(repr(raw))} is not served (0 bid, 1 offer, 2 trade)") from None
        if et not in entry_types:
            entry_types.append(et)
    if not entry_types and not unsubscribe:
        raise _Refuse(MDRejectReason.UNSUPPORTED_MD_ENTRY_TYPE, "no MDEntryType (267/269) requested")
    client: list[str] = []
    norm: list[str] = []
    for inst in message.group(146):
        sym = _decode(inst.get(55))
        if sym is None:
            raise _Refuse(MDRejectReason.UNKNOWN_SYMBOL, "Symbol (55) is missing or not text")
        n = sym if symbols is None else symbols.normalized(sym)
        if n is None:
            raise _Refuse(MDRejectReason.UNKNOWN_SYMBOL, f"unknown symbol {printable(sym)[:64]}")
        if sym not in client:
            client.append(sym)
            norm.append(n)
    if not client and not unsubscribe:
        raise _Refuse(MDRejectReason.UNKNOWN_SYMBOL, "no Symbol (146/55) requested")
    return MarketDataRequest(req_id, sub, depth, update_type, tuple(entry_types), tuple(norm), tuple(client))


# -- encoders -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MDTrade:
    """A trade for a snapshot or an update: price, size, exchange time, the venue's trade id."""

    price: Decimal
    size: Decimal
    ts_ns: int | None = None
    trade_id: str | int | None = None


@dataclass(frozen=True, slots=True)
class MDEntry:
    """One entry of an incremental refresh (X). ``size`` is None on a DELETE."""

    action: UpdateAction
    entry_type: EntryType
    symbol: str
    price: Decimal
    size: Decimal | None = None
    entry_id: str | None = None  # MDEntryID (278): the trade id of a trade
    ts_ns: int | None = None


def _check_version(version: str | bytes) -> str:
    v = version.decode("ascii") if isinstance(version, bytes) else version
    if v not in _VERSIONS:
        raise ValueError(f"unsupported FIX version {v!r}")
    return v


def _text(d: Decimal) -> bytes:
    """Return ``wire_text(d)``: a fast path for the common plain case (``str`` is plain for such values)."""
    t = str(d)
    if "E" in t or not t[-1:].isdigit():  # an exponent, or not finite: the general rule decides
        return wire_text(d)
    p = t.find(".")
    if p >= 0:
        t = t.rstrip("0")
        n = len(t) - p - 1
        if n > MAX_PLACES:
            return wire_text(d)
        if not n:
            t = t[:p]
    return b"0" if t == "-0" else t.encode("ascii")


def _put_time(f: Fields, ts_ns: int | None) -> None:
    if ts_ns is not None:
        stamp = format_utc_timestamp(ts_ns, 3)  # YYYYMMDD-HH:MM:SS.sss
        f.append((272, stamp[:8]))  # UTCDATE (4.2) / UTCDATEONLY (4.4)
        f.append((273, stamp[9:]))  # UTCTIMEONLY


def snapshot_full_refresh(version: str | bytes, symbol: str, *, md_req_id: str | None = None,
                          bids: Iterable[Level] = (), asks: Iterable[Level] = (),
                          trades: Iterable[MDTrade] = ()) -> tuple[bytes, Fields]:
    """Build MarketDataSnapshotFullRefresh (W): bids (best first), then offers, then trades."""
    _check_version(version)
    entries: Fields = []
    n = 0
    for et, levels in ((EntryType.BID.value, bids), (EntryType.OFFER.value, asks)):
        for px, qty in levels:
            entries += [(269, et), (270, _text(px)), (271, _text(qty))]
            n += 1
    for t in trades:
        entries += [(269, EntryType.TRADE.value), (270, _text(t.price)), (271, _text(t.size))]
        _put_time(entries, t.ts_ns)
        n += 1
    f: Fields = []
    if md_req_id is not None:
        f.append((262, md_req_id))
    f += [(55, symbol), (268, n)]
    return b"W", f + entries


def incremental_refresh(version: str | bytes, entries: Iterable[MDEntry], *,
                        md_req_id: str | None = None) -> tuple[bytes, Fields]:
    """Build MarketDataIncrementalRefresh (X) from ``entries`` (at least one)."""
    _check_version(version)
    body: Fields = []
    n = 0
    for e in entries:
        body += [(279, e.action.value), (269, e.entry_type.value)]
        if e.entry_id is not None:
            body.append((278, str(e.entry_id)))
        body += [(55, e.symbol), (270, _text(e.price))]
        if e.size is not None and e.action is not UpdateAction.DELETE:
            body.append((271, _text(e.size)))
        _put_time(body, e.ts_ns)
        n += 1
    if not n:
        raise ValueError("an incremental refresh needs at least one entry")
    f: Fields = []
    if md_req_id is not None:
        f.append((262, md_req_id))
    f.append((268, n))
    return b"X", f + body


def market_data_reject(version: str | bytes, rej: MarketDataReject) -> tuple[bytes, Fields]:
    """Build MarketDataRequestReject (Y)."""
    _check_version(version)
    return b"Y", [(262, rej.md_req_id), (281, rej.reason.value), (58, rej.text)]


def diff_levels(old: Sequence[Level], new: Sequence[Level]) -> list[tuple[UpdateAction, Decimal, Decimal | None]]:
    """Return the changes turning view ``old`` into view ``new`` (one side, keyed by price).

    DELETE (size None) for a price gone, then CHANGE for a new size at a kept price, then NEW, each in
    the order of the views; applying them to ``old`` (``apply_diff``) gives ``new`` as a price -> size map.
    """
    before = dict(old)
    after = dict(new)
    out: list[tuple[UpdateAction, Decimal, Decimal | None]] = []
    for px, _ in old:
        if px not in after:
            out.append((UpdateAction.DELETE, px, None))
    for px, qty in new:
        prev = before.get(px)
        if prev is not None and prev != qty:
            out.append((UpdateAction.CHANGE, px, qty))
    for px, qty in new:
        if px not in before:
            out.append((UpdateAction.NEW, px, qty))
    return out


def apply_diff(levels: dict[Decimal, Decimal], diff: Iterable[tuple[UpdateAction, Decimal, Decimal | None]]) -> None:
    """Apply ``diff_levels`` output to a price -> size map, as a client keeping a book would."""
    for action, px, qty in diff:
        if action is UpdateAction.DELETE:
            levels.pop(px, None)
        else:
            assert qty is not None
            levels[px] = qty


def book_changes(symbol: str, old: tuple[Sequence[Level], Sequence[Level]],
                 new: tuple[Sequence[Level], Sequence[Level]]) -> list[MDEntry]:
    """Return the X entries turning top-N view ``old`` = (bids, asks) into ``new``; [] when equal."""
    out: list[MDEntry] = []
    for et, o, n in ((EntryType.BID, old[0], new[0]), (EntryType.OFFER, old[1], new[1])):
        for action, px, qty in diff_levels(o, n):
            out.append(MDEntry(action, et, symbol, px, qty))
    return out


# -- instrument list -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ListedInstrument:
    """An instrument as a client sees it in the list: its symbol spelling and its trading rules."""

    symbol: str
    currency: str | None = None  # the quote asset
    tick_size: Decimal | None = None
    lot_step: Decimal | None = None
    min_qty: Decimal | None = None
    min_notional: Decimal | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityListRequest:
    """An x (4.4) or c (4.2). ``symbol`` None lists every instrument; ``supported`` False is answered empty."""

    req_id: str
    msg_type: bytes
    symbol: str | None
    supported: bool = True


def parse_security_list_request(message: Any) -> Union[SecurityListRequest, BusinessReject]:
    """Read SecurityListRequest (x, 559 = 0 one symbol or 4 all) or SecurityDefinitionRequest (c, 321 = 3 list,
    0/1 one symbol). Other request types come back ``supported=False``; no SecurityReqID is a ``BusinessReject``."""
    mt = message.msg_type or b""
    req_id = _decode(message.get(320))
    if req_id is None:
        return BusinessReject(_seq(message), mt, None, 5, "SecurityReqID (320) is required and must be text")
    symbol = _decode(message.get(55))
    kind = message.get(559 if mt == b"x" else 321)
    if mt == b"x":
        ok = kind == b"4" or (kind == b"0" and symbol is not None)
        return SecurityListRequest(req_id, mt, symbol if kind == b"0" else None, ok)
    if mt == b"c":
        ok = kind == b"3" or (kind in (b"0", b"1") and symbol is not None)
        return SecurityListRequest(req_id, mt, symbol, ok)
    return BusinessReject(_seq(message), mt, None, 3, "not a security list request")


def _rules_text(i: ListedInstrument) -> str | None:
    parts = []
    if i.tick_size is not None:
        parts.append(f"tick_size={plain(i.tick_size)}")
    if i.min_notional is not None:
        parts.append(f"min_notional={plain(i.min_notional)}")
    return ";".join(parts) or None


def security_list(version: str | bytes, request: SecurityListRequest, instruments: Iterable[ListedInstrument],
                  response_id: str) -> list[tuple[bytes, Fields]]:
    """Answer ``request`` with the listed instruments (those matching its symbol, if any).

    FIX 4.4: one SecurityList (y), 560 = 0 valid, 1 unsupported, 2 none found. FIX 4.2: one
    SecurityDefinition (d) per instrument (323 = 4), or a single d with 323 = 5 (unsupported) / 6 (none).
    """
    v = _check_version(version)
    chosen = [] if not request.supported else [
        i for i in instruments if request.symbol is None or i.symbol == request.symbol]
    if v == "FIX.4.4":
        result = 1 if not request.supported else (0 if chosen else 2)
        f: Fields = [(320, request.req_id), (322, response_id), (560, result), (393, len(chosen))]
        if chosen:
            f.append((146, len(chosen)))
            for i in chosen:
                f.append((55, i.symbol))
                if i.description is not None:
                    f.append((107, i.description))
                if i.currency is not None:
                    f.append((15, i.currency))
                if i.lot_step is not None:
                    f.append((561, wire_text(i.lot_step)))
                if i.min_qty is not None:
                    f.append((562, wire_text(i.min_qty)))
                text = _rules_text(i)
                if text is not None:
                    f.append((58, text))
        return [(b"y", f)]
    if not chosen:
        code = 5 if not request.supported else 6
        return [(b"d", [(320, request.req_id), (322, response_id), (323, code), (393, 0)])]
    out = []
    for i in chosen:
        f = [(320, request.req_id), (322, response_id), (323, 4), (393, len(chosen)), (55, i.symbol)]
        if i.description is not None:
            f.append((107, i.description))
        if i.currency is not None:
            f.append((15, i.currency))
        text = _rules_text(i)
        if i.lot_step is not None or i.min_qty is not None:
            lot = [f"lot_step={plain(i.lot_step)}"] if i.lot_step is not None else []
            lot += [f"min_qty={plain(i.min_qty)}"] if i.min_qty is not None else []
            text = ";".join(lot + ([text] if text else []))
        if text:
            f.append((58, text))
        out.append((b"d", f))
    return out
