"""FIX market data end to end: FIX client -> gateway -> simulator (REST depth + diff-depth stream) -> W/X/Y."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from fixgw.codec import Message
from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

VERSIONS = [("FIX.4.2", "CLIENT42"), ("FIX.4.4", "CLIENT44")]
D = Decimal


def md_request(req_id: str, sub: str, *, depth: str | None = "0", update: str | None = None,
               entries: tuple[str, ...] = ("0", "1"), symbols: tuple[str, ...] = ("BTC/USDT",)) -> list[tuple[int, Any]]:
    f: list[tuple[int, Any]] = [(262, req_id), (263, sub)]
    if depth is not None:
        f.append((264, depth))
    if update is not None:
        f.append((265, update))
    f.append((267, len(entries)))
    f += [(269, e) for e in entries]
    f.append((146, len(symbols)))
    f += [(55, s) for s in symbols]
    return f


def entries(m: Message) -> list[dict[int, bytes]]:
    """The MDEntries of a W or X, each as a tag -> value dict (a new entry starts at 269 in W, 279 in X)."""
    start = 279 if m.msg_type == b"X" else 269
    out: list[dict[int, bytes]] = []
    inside = False
    for tag, value in m.fields:
        if tag == 268:
            inside = True
            continue
        if not inside or tag == 10:
            continue
        if tag == start:
            out.append({})
        if out:
            out[-1][tag] = value
    return out


def book_of(m: Message) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    es = entries(m)
    bids = [(D(e[270].decode()), D(e[271].decode())) for e in es if e[269] == b"0"]
    asks = [(D(e[270].decode()), D(e[271].decode())) for e in es if e[269] == b"1"]
    return bids, asks


def apply_x(book: dict[bytes, dict[Decimal, Decimal]], m: Message) -> None:
    for e in entries(m):
        side = book.setdefault(e[269], {})
        px = D(e[270].decode())
        if e[279] == b"2":
            side.pop(px, None)
        else:
            side[px] = D(e[271].decode())


def sim_book(sim: SimServer, limit: int = 100) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    def run(st: Any) -> Any:
        b = st.engine.books["BTCUSDT"]
        return list(b.levels("BUY", limit)), list(b.levels("SELL", limit))

    bids, asks = sim.call(run)
    return [(D(p), D(q)) for p, q in bids], [(D(p), D(q)) for p, q in asks]


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_marketdata_snapshot_request_answers_w_with_the_venue_book(sim: SimServer, begin: str, comp: str) -> None:
    place(sim, "BUY", "0.5", "59990")
    place(sim, "BUY", "0.25", "59980")
    place(sim, "SELL", "0.4", "60010")
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.send_raw("V", md_request("S1", "0"))
        w = await c.wait_for(lambda m: m.msg_type == b"W")
        assert (w[262], w[55]) == (b"S1", b"BTC/USDT")
        assert book_of(w) == ([(D("59990"), D("0.5")), (D("59980"), D("0.25"))], [(D("60010"), D("0.4"))])
        await c.send_raw("V", md_request("S2", "0", depth="1"))
        w = await c.wait_for(lambda m: m.msg_type == b"W" and m[262] == b"S2")
        assert book_of(w) == ([(D("59990"), D("0.5"))], [(D("60010"), D("0.4"))])
        await c.logout()


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_marketdata_incremental_subscription_tracks_the_venue_book_exactly(
        sim: SimServer, begin: str, comp: str) -> None:
    place(sim, "BUY", "0.5", "59990")
    place(sim, "SELL", "0.4", "60010")
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        await c.send_raw("V", md_request("I1", "1", update="1"))
        w = await c.wait_for(lambda m: m.msg_type == b"W")
        bids, asks = book_of(w)
        book = {b"0": dict(bids), b"1": dict(asks)}
        for side, qty, px in (("BUY", "0.1", "59995"),  # a new best bid
                              ("SELL", "0.1", "60010"),  # a size change
                              ("SELL", "0.1", "59995")):  # takes the new bid whole: a delete
            place(sim, side, qty, px)
            expected_bids, expected_asks = sim_book(sim)
            with anyio.fail_after(10):
                while (sorted(book[b"0"].items(), reverse=True), sorted(book[b"1"].items())) != (
                        expected_bids, expected_asks):
                    x = await c._read_until(lambda m: m.msg_type == b"X", 10)
                    assert x[262] == b"I1"
                    apply_x(book, x)
        actions = {e[279] for m in c.inbox if m.msg_type == b"X" for e in entries(m)}
        assert {b"0", b"1", b"2"} <= actions
        assert gw.marketdata.feeds["sim"].resyncs == 0
        await c.logout()


@pytest.mark.parametrize(("begin", "comp"), VERSIONS)
async def test_marketdata_bad_requests_answer_y_with_their_reason(sim: SimServer, begin: str, comp: str) -> None:
    # dictionary validation off, so values outside the dictionary's enums reach the market-data checks
    async with running_gateway(gateway_config(sim), validate_messages=False) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        cases = [
            ("R1", md_request("R1", "1", symbols=("NOPE/USDT",)), b"0"),
            ("R2", md_request("R2", "1", depth="999999"), b"5"),
            ("R3", md_request("R3", "1", update="7"), b"6"),
            ("R4", md_request("R4", "1", entries=("Z",)), b"8"),
            ("R5", md_request("R5", "1", entries=("0", "4")), b"8"),  # opening price: in the dictionary, not served
        ]
        for req_id, fields, _ in cases:
            await c.send_raw("V", fields)
        for req_id, _, reason in cases:
            y = await c.wait_for(lambda m, r=req_id: m.msg_type == b"Y" and m[262] == r.encode())
            assert y[281] == reason, (req_id, y)
        await c.send_raw("V", md_request("D1", "1"))
        await c.wait_for(lambda m: m.msg_type == b"W" and m[262] == b"D1")
        await c.send_raw("V", md_request("D1", "1"))
        y = await c.wait_for(lambda m: m.msg_type == b"Y" and m[262] == b"D1")
        assert y[281] == b"1"
        await c.logout()


async def test_marketdata_unsubscribe_stops_updates_and_releases_the_venue_subscription(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port)
        feed = gw.marketdata.feeds["sim"]
        await c.send_raw("V", md_request("U1", "1", update="0"))
        await c.wait_for(lambda m: m.msg_type == b"W" and m[262] == b"U1")
        assert feed.subscribed() == ["BTC/USDT"]
        await c.send_raw("V", md_request("U1", "2"))  # the dictionaries want 264, 267 and 146 here too
        with anyio.fail_after(5):
            while feed.subscribed():
                await anyio.sleep(0.01)
        before = len([m for m in c.inbox if m.msg_type == b"W"])
        place(sim, "BUY", "0.1", "59000")
        await c.pump(0.3)
        assert len([m for m in c.inbox if m.msg_type == b"W"]) == before
        await c.logout()


async def test_marketdata_two_sessions_share_one_venue_subscription(sim: SimServer) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        a = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        b = FixClient("FIX.4.2", "CLIENT42", "FIXGW")
        await a.connect(gw.port)
        await b.connect(gw.port)
        await a.send_raw("V", md_request("A", "1", update="0"))
        await b.send_raw("V", md_request("B", "1", update="0"))
        await a.wait_for(lambda m: m.msg_type == b"W")
        await b.wait_for(lambda m: m.msg_type == b"W")
        feed = gw.marketdata.feeds["sim"]
        assert feed.subscribed() == ["BTC/USDT"] and feed.snapshots_fetched == 1
        place(sim, "BUY", "0.3", "59000")
        for cl in (a, b):
            w = await cl.wait_for(lambda m: m.msg_type == b"W" and book_of(m)[0] == [(D("59000"), D("0.3"))])
            assert w is not None
        await a.logout()
        await b.logout()


async def test_marketdata_stream_dropped_resubscribes_and_book_matches_the_venue(sim: SimServer) -> None:
    place(sim, "BUY", "0.5", "59990")
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        await c.connect(gw.port)
        await c.send_raw("V", md_request("R", "1", update="0"))
        await c.wait_for(lambda m: m.msg_type == b"W")
        feed = gw.marketdata.feeds["sim"]
        connects = feed.ws.connects
        sim.drop_websockets()  # the market stream and the gateway's user stream both drop
        with anyio.fail_after(10):
            while feed.ws.connects == connects or not feed.books["BTC/USDT"].is_live:
                await anyio.sleep(0.02)
        place(sim, "SELL", "0.7", "60100")
        expected = sim_book(sim)
        w = await c.wait_for(lambda m: m.msg_type == b"W" and book_of(m) == expected)
        assert w[262] == b"R"
        book = feed.books["BTC/USDT"]
        assert book.resync_reasons["stream_lost"] == 1
        assert book.top() == expected
        await c.logout()


@pytest.mark.parametrize(("begin", "comp", "msg_type"), [("FIX.4.4", "CLIENT44", "x"), ("FIX.4.2", "CLIENT42", "c")])
async def test_marketdata_security_list_gives_rules_in_the_client_convention(
        sim: SimServer, begin: str, comp: str, msg_type: str) -> None:
    async with running_gateway(gateway_config(sim)) as gw:
        c = FixClient(begin, comp, "FIXGW")
        await c.connect(gw.port)
        kind = (559, 4) if msg_type == "x" else (321, 3)
        await c.send_raw(msg_type, [(320, "L1"), kind])
        if msg_type == "x":
            y = await c.wait_for(lambda m: m.msg_type == b"y")
            assert (y[320], y[560]) == (b"L1", b"0")
            symbols = y.get_all(55)
            assert b"BTC/USDT" in symbols and all(b"/" in s for s in symbols)
            assert 561 in y and 562 in y and b"tick_size=" in y[58]
        else:
            d = await c.wait_for(lambda m: m.msg_type == b"d" and m.get(55) == b"BTC/USDT")
            assert d[323] == b"4" and b"tick_size=" in d[58] and b"lot_step=" in d[58]
        await c.logout()


async def test_marketdata_slow_subscriber_is_conflated_then_gets_a_fresh_snapshot(
        sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from fixgw.gateway import _marketdata

    async with running_gateway(gateway_config(sim)) as gw:
        fast = FixClient("FIX.4.4", "CLIENT44", "FIXGW")
        slow = FixClient("FIX.4.2", "CLIENT42", "FIXGW")
        await fast.connect(gw.port)
        await slow.connect(gw.port)
        await fast.send_raw("V", md_request("F", "1", update="0"))
        await slow.send_raw("V", md_request("S", "1", update="0"))
        await fast.wait_for(lambda m: m.msg_type == b"W")
        await slow.wait_for(lambda m: m.msg_type == b"W")
        slow_handle = next(h for sid, h in gw.acceptor.handles.items() if sid.begin_string == "FIX.4.2")
        real = _marketdata._backlog
        slow_reader = True
        # The slow session's connection reads as if megabytes sat unsent above its socket.
        monkeypatch.setattr(_marketdata, "_backlog",
                            lambda h: 1 << 30 if h is slow_handle and slow_reader else real(h))
        for px in ("59000", "59001", "59002"):
            place(sim, "BUY", "0.1", px)
            expected = sim_book(sim)
            await fast.wait_for(lambda m, e=expected: m.msg_type == b"W" and book_of(m) == e)
        await slow.pump(0.3)
        assert [m for m in slow.inbox if m.msg_type == b"W"][1:] == []  # nothing but the first snapshot
        assert gw.marketdata.conflated >= 1
        slow_reader = False  # it caught up: one fresh snapshot of the book as it is now
        w = await slow.wait_for(lambda m: m.msg_type == b"W" and m[262] == b"S" and book_of(m) == expected)
        assert w is not None and gw.marketdata.catch_up_snapshots == 1
        await slow.pump(0.3)
        assert len([m for m in slow.inbox if m.msg_type == b"W"]) == 2
        await fast.logout()
        await slow.logout()


async def test_marketdata_python_api_gives_book_and_candles_of_a_watched_symbol(sim: SimServer) -> None:
    place(sim, "SELL", "0.4", "60010")
    async with running_gateway(gateway_config(sim)) as gw:
        md = gw.marketdata
        assert md.book("sim", "BTC/USDT") is None and md.candles("sim", "BTC/USDT") is None
        assert not md.watch("sim", "NOPE/USDT") and not md.watch("elsewhere", "BTC/USDT")
        assert md.watch("sim", "BTC/USDT")
        with anyio.fail_after(10):
            while not (md.book("sim", "BTC/USDT") or {}).get("live"):
                await anyio.sleep(0.02)
        place(sim, "BUY", "0.1", "60010")  # trades 0.1 at 60010
        with anyio.fail_after(10):
            while not (md.candles("sim", "BTC/USDT") or {}).get("candles"):
                await anyio.sleep(0.02)
        [c] = md.candles("sim", "BTC/USDT", "1m")["candles"]
        assert (c["open"], c["close"], c["volume"], c["trades"]) == ("60010", "60010", "0.1", 1)
        assert isinstance(md.candles("sim", "BTC/USDT")["clock_offset_ms"], float)
        with anyio.fail_after(10):
            while md.book("sim", "BTC/USDT")["asks"] != [["60010", "0.3"]]:
                await anyio.sleep(0.02)
        md.unwatch("sim", "BTC/USDT")
        assert md.book("sim", "BTC/USDT") is None
