"""FIX market data: V parsing, W / X / Y and the instrument list, each checked by the version's dictionary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode
from fixgw.codec.dictionary import load_dictionary
from fixgw.translate.decimals import wire_text
from fixgw.translate.inbound import BusinessReject
from fixgw.translate.marketdata import (
    EntryType,
    ListedInstrument,
    MarketDataReject,
    MarketDataRequest,
    MDEntry,
    MDRejectReason,
    MDTrade,
    SecurityListRequest,
    Subscription,
    UpdateAction,
    UpdateType,
    _text,
    apply_diff,
    book_changes,
    diff_levels,
    incremental_refresh,
    market_data_reject,
    parse_market_data_request,
    parse_security_list_request,
    security_list,
    snapshot_full_refresh,
)
from fixgw.translate.symbols import SymbolMap

VERSIONS = ("FIX.4.2", "FIX.4.4")
HEADER = [(49, "GW"), (56, "CLIENT"), (34, 7), (52, "20260101-00:00:00.000")]
SYMBOLS = SymbolMap([("BTC/USDT", "BTC", "USDT"), ("ETH/USDT", "ETH", "USDT")], "{base}{quote}")
T = 1_764_036_000_123_000_000


def D(x: str) -> Decimal:
    return Decimal(x)


def wire(version: str, msg_type: bytes, fields: list) -> Message:
    p = Parser()
    p.feed(encode(version, msg_type, HEADER + list(fields)))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


def valid(version: str, built: tuple[bytes, list]) -> Message:
    m = wire(version, *built)
    load_dictionary(version).validate(m)
    return m


def v_fields(req_id: str | None = "md1", sub: str = "1", depth: str | None = "10", update: str | None = None,
             types: tuple[str, ...] = ("0", "1"), syms: tuple[str, ...] = ("BTCUSDT",), extra: tuple = ()) -> list:
    f: list = []
    if req_id is not None:
        f.append((262, req_id))
    f.append((263, sub))
    if depth is not None:
        f.append((264, depth))
    if update is not None:
        f.append((265, update))
    f += list(extra)
    f.append((267, len(types)))
    f += [(269, t) for t in types]
    f.append((146, len(syms)))
    f += [(55, s) for s in syms]
    return f


# == V ============================================================================================
@pytest.mark.parametrize("version", VERSIONS)
def test_parse_market_data_request_subscribe_gives_request(version: str) -> None:
    m = valid_v = wire(version, b"V", v_fields(types=("0", "1", "2", "0"), syms=("BTCUSDT", "ETHUSDT"), update="1"))
    load_dictionary(version).validate(valid_v)
    r = parse_market_data_request(m, SYMBOLS)
    assert r == MarketDataRequest("md1", Subscription.SUBSCRIBE, 10, UpdateType.INCREMENTAL,
                                  (EntryType.BID, EntryType.OFFER, EntryType.TRADE),
                                  ("BTC/USDT", "ETH/USDT"), ("BTCUSDT", "ETHUSDT"))


@pytest.mark.parametrize("version", VERSIONS)
def test_parse_market_data_request_snapshot_full_book_has_no_update_type(version: str) -> None:
    r = parse_market_data_request(wire(version, b"V", v_fields(sub="0", depth="0", update="1")), SYMBOLS)
    assert isinstance(r, MarketDataRequest)
    assert (r.subscription, r.depth, r.update_type) == (Subscription.SNAPSHOT, 0, None)


def test_parse_market_data_request_subscribe_without_update_type_is_incremental() -> None:
    r = parse_market_data_request(wire("FIX.4.4", b"V", v_fields(depth="1")), SYMBOLS)
    assert isinstance(r, MarketDataRequest) and r.update_type is UpdateType.INCREMENTAL and r.depth == 1


def test_parse_market_data_request_full_refresh_update_type_is_kept() -> None:
    r = parse_market_data_request(wire("FIX.4.2", b"V", v_fields(update="0")), SYMBOLS)
    assert isinstance(r, MarketDataRequest) and r.update_type is UpdateType.FULL


def test_parse_market_data_request_bare_unsubscribe_is_accepted() -> None:
    m = wire("FIX.4.4", b"V", [(262, "TRADE_STREAM"), (263, "2"), (264, "1")])
    r = parse_market_data_request(m, SYMBOLS)
    assert r == MarketDataRequest("TRADE_STREAM", Subscription.UNSUBSCRIBE, 1, None, (), (), ())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (v_fields(sub="5"), MDRejectReason.UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE),
        (v_fields(depth="5001"), MDRejectReason.UNSUPPORTED_MARKET_DEPTH),
        (v_fields(depth="-1"), MDRejectReason.UNSUPPORTED_MARKET_DEPTH),
        (v_fields(depth=None), MDRejectReason.UNSUPPORTED_MARKET_DEPTH),
        (v_fields(update="2"), MDRejectReason.UNSUPPORTED_MD_UPDATE_TYPE),
        (v_fields(extra=((266, "N"),)), MDRejectReason.UNSUPPORTED_AGGREGATED_BOOK),
        (v_fields(types=("0", "5")), MDRejectReason.UNSUPPORTED_MD_ENTRY_TYPE),
        (v_fields(types=()), MDRejectReason.UNSUPPORTED_MD_ENTRY_TYPE),
        (v_fields(syms=("BTCUSDT", "DOGEUSD")), MDRejectReason.UNKNOWN_SYMBOL),
        (v_fields(syms=()), MDRejectReason.UNKNOWN_SYMBOL),
        (v_fields(syms=(b"\xff\xfe",)), MDRejectReason.UNKNOWN_SYMBOL),
    ],
)
def test_parse_market_data_request_unsupported_value_gives_reject(fields: list, reason: MDRejectReason) -> None:
    for version in VERSIONS:
        r = parse_market_data_request(wire(version, b"V", fields), SYMBOLS)
        assert isinstance(r, MarketDataReject) and r.reason is reason and r.md_req_id == "md1"
        y = valid(version, market_data_reject(version, r))
        assert y[281] == reason.value and y[262] == b"md1" and y[58]


def test_parse_market_data_request_unknown_symbol_text_is_escaped() -> None:
    r = parse_market_data_request(wire("FIX.4.4", b"V", v_fields(syms=("A\x7fB",))), SYMBOLS)
    assert isinstance(r, MarketDataReject) and "\x7f" not in r.text and "A\\x7fB" in r.text


def test_parse_market_data_request_without_md_req_id_gives_business_reject() -> None:
    r = parse_market_data_request(wire("FIX.4.4", b"V", v_fields(req_id=None)), SYMBOLS)
    assert isinstance(r, BusinessReject) and r.reason == 5 and r.ref_seq_num == 7 and r.ref_msg_type == b"V"


def test_parse_market_data_request_without_symbol_map_passes_symbols() -> None:
    r = parse_market_data_request(wire("FIX.4.2", b"V", v_fields(syms=("ANY",))))
    assert isinstance(r, MarketDataRequest) and r.symbols == ("ANY",) == r.client_symbols


# == W / X ========================================================================================
@pytest.mark.parametrize("version", VERSIONS)
def test_snapshot_full_refresh_lists_bids_offers_trades(version: str) -> None:
    m = valid(version, snapshot_full_refresh(
        version, "BTCUSDT", md_req_id="md1", bids=[(D("100.10"), D("1.50000000"))], asks=[(D("1E+2") + 1, D("2"))],
        trades=[MDTrade(D("100.5"), D("0.1"), T, 9)]))
    assert m[55] == b"BTCUSDT" and m[268] == b"3"
    rows = [(g.get(269), g.get(270), g.get(271), g.get(272), g.get(273)) for g in m.group(268, load_dictionary(version))]
    assert rows == [(b"0", b"100.1", b"1.5", None, None), (b"1", b"101", b"2", None, None),
                    (b"2", b"100.5", b"0.1", b"20251125", b"02:00:00.123")]


@pytest.mark.parametrize("version", VERSIONS)
def test_snapshot_full_refresh_empty_book_has_no_entries(version: str) -> None:
    m = valid(version, snapshot_full_refresh(version, "BTCUSDT"))
    assert m[268] == b"0" and m.get(262) is None


@pytest.mark.parametrize("version", VERSIONS)
def test_incremental_refresh_carries_symbol_per_entry_and_no_size_on_delete(version: str) -> None:
    m = valid(version, incremental_refresh(version, [
        MDEntry(UpdateAction.DELETE, EntryType.BID, "BTCUSDT", D("99"), D("1")),
        MDEntry(UpdateAction.NEW, EntryType.TRADE, "ETHUSDT", D("3000"), D("2"), "t1", T),
    ], md_req_id="md1"))
    g = m.group(268, load_dictionary(version))
    assert [(e.get(279), e.get(269), e.get(55), e.get(270), e.get(271)) for e in g] == [
        (b"2", b"0", b"BTCUSDT", b"99", None), (b"0", b"2", b"ETHUSDT", b"3000", b"2")]
    assert g[1].get(278) == b"t1"


def test_incremental_refresh_without_entries_raises() -> None:
    with pytest.raises(ValueError):
        incremental_refresh("FIX.4.4", [])


def test_encoders_unknown_version_raise() -> None:
    with pytest.raises(ValueError):
        snapshot_full_refresh("FIX.5.0", "X")


def test_book_changes_top_views_give_delete_change_new() -> None:
    old = ([(D("99"), D("1")), (D("98"), D("2"))], [(D("101"), D("1"))])
    new = ([(D("99.5"), D("1")), (D("99"), D("3"))], [(D("101"), D("1"))])
    got = [(e.action, e.entry_type, e.price, e.size) for e in book_changes("S", old, new)]
    assert got == [(UpdateAction.DELETE, EntryType.BID, D("98"), None),
                   (UpdateAction.CHANGE, EntryType.BID, D("99"), D("3")),
                   (UpdateAction.NEW, EntryType.BID, D("99.5"), D("1"))]
    assert book_changes("S", old, old) == []


# == instrument list ==============================================================================
INSTRUMENTS = [
    ListedInstrument("BTCUSDT", "USDT", D("0.01"), D("0.00001"), D("0.00010000"), D("5"), "BTC/USDT"),
    ListedInstrument("ETHUSDT", "USDT", D("0.01"), D("0.0001"), None, None),
]


def test_security_list_fix44_lists_rules_per_instrument() -> None:
    req = parse_security_list_request(wire("FIX.4.4", b"x", [(320, "s1"), (559, "4")]))
    assert req == SecurityListRequest("s1", b"x", None, True)
    [(mt, f)] = security_list("FIX.4.4", req, INSTRUMENTS, "resp-1")  # type: ignore[arg-type]
    m = valid("FIX.4.4", (mt, f))
    assert (m[322], m[560], m[393]) == (b"resp-1", b"0", b"2")
    g = m.group(146, load_dictionary("FIX.4.4"))
    assert [(e.get(55), e.get(15), e.get(561), e.get(562)) for e in g] == [
        (b"BTCUSDT", b"USDT", b"0.00001", b"0.0001"), (b"ETHUSDT", b"USDT", b"0.0001", None)]
    assert g[0].get(58) == b"tick_size=0.01;min_notional=5"


@pytest.mark.parametrize(("fields", "result"), [([(559, "0"), (55, "ETHUSDT")], b"0"), ([(559, "0"), (55, "NOPE")], b"2"),
                                                ([(559, "1")], b"1")])
def test_security_list_fix44_one_symbol_none_or_unsupported(fields: list, result: bytes) -> None:
    req = parse_security_list_request(wire("FIX.4.4", b"x", [(320, "s1"), *fields]))
    assert isinstance(req, SecurityListRequest)
    [(mt, f)] = security_list("FIX.4.4", req, INSTRUMENTS, "r")
    assert valid("FIX.4.4", (mt, f))[560] == result


def test_security_list_fix42_one_definition_per_instrument() -> None:
    req = parse_security_list_request(wire("FIX.4.2", b"c", [(320, "s1"), (321, "3")]))
    assert isinstance(req, SecurityListRequest)
    out = security_list("FIX.4.2", req, INSTRUMENTS, "r")
    msgs = [valid("FIX.4.2", b) for b in out]
    assert [(m.msg_type, m[55], m[323], m[393]) for m in msgs] == [(b"d", b"BTCUSDT", b"4", b"2"), (b"d", b"ETHUSDT", b"4", b"2")]
    assert msgs[0][58] == b"lot_step=0.00001;min_qty=0.0001;tick_size=0.01;min_notional=5"
    none = security_list("FIX.4.2", SecurityListRequest("s2", b"c", "NOPE"), INSTRUMENTS, "r")
    assert [valid("FIX.4.2", b)[323] for b in none] == [b"6"]


def test_parse_security_list_request_without_req_id_gives_business_reject() -> None:
    r = parse_security_list_request(wire("FIX.4.4", b"x", [(559, "4")]))
    assert isinstance(r, BusinessReject) and r.reason == 5


# == properties: every message we encode passes its dictionary ====================================
px = st.decimals(min_value=D("0.00000001"), max_value=D("99999999"), places=8, allow_nan=False)
qty = st.decimals(min_value=D("0"), max_value=D("1000000"), places=8, allow_nan=False)
level_lists = st.lists(st.tuples(px, qty), max_size=6)
ts = st.integers(0, 4_102_444_800 * 10**9 - 1) | st.none()
sym = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
ident = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=36)
entries = st.builds(MDEntry, st.sampled_from(UpdateAction), st.sampled_from(EntryType), sym, px, qty | st.none(),
                    ident | st.none(), ts)
instruments = st.builds(ListedInstrument, sym, st.sampled_from(["USDT", "BTC", "EUR"]) | st.none(), px | st.none(),
                        px | st.none(), px | st.none(), px | st.none(), sym | st.none())


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(VERSIONS), sym, ident | st.none(), level_lists, level_lists,
       st.lists(st.builds(MDTrade, px, qty, ts, st.integers(0, 10**12)), max_size=3),
       st.lists(entries, min_size=1, max_size=6), st.sampled_from(MDRejectReason), st.text(max_size=40).filter(lambda s: "\x01" not in s),
       st.lists(instruments, max_size=4), st.booleans())
def test_encoders_any_input_passes_the_version_dictionary(version, symbol, req_id, bids, asks, trades, xs, reason,
                                                           text, insts, supported) -> None:
    valid(version, snapshot_full_refresh(version, symbol, md_req_id=req_id, bids=bids, asks=asks, trades=trades))
    valid(version, incremental_refresh(version, xs, md_req_id=req_id))
    valid(version, market_data_reject(version, MarketDataReject(req_id or "r", reason, text or "x")))
    req = SecurityListRequest(req_id or "r", b"x" if version == "FIX.4.4" else b"c", None, supported)
    for built in security_list(version, req, insts, "resp"):
        valid(version, built)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(px, qty.filter(bool), max_size=8), st.dictionaries(px, qty.filter(bool), max_size=8))
def test_diff_levels_applied_to_old_view_gives_new_view(old: dict, new: dict) -> None:
    o, n = sorted(old.items(), reverse=True), sorted(new.items(), reverse=True)
    diff = diff_levels(o, n)
    book = dict(o)
    apply_diff(book, diff)
    assert book == new
    assert all(a is not UpdateAction.DELETE or s is None for a, _, s in diff)
    assert len(diff) == len(old.keys() ^ new.keys()) + sum(1 for p in old.keys() & new.keys() if old[p] != new[p])


@settings(max_examples=300, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False) | st.decimals(places=12, allow_nan=False, allow_infinity=False))
def test_text_fast_path_equals_wire_text(d: Decimal) -> None:
    assert _text(d) == wire_text(d)


def test_text_non_finite_raises_like_wire_text() -> None:
    with pytest.raises(ValueError):
        _text(D("NaN"))
