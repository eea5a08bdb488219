"""Fan-out of market data to sessions of different kinds in one flush: bodies are shared only between
subscriptions that see the same thing (depth, sides, FIX version), so each client keeps its own view."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import anyio
import pytest

from fixgw.sim import SimServer

from .conftest import gateway_config, place, running_gateway
from .fixclient import FixClient
from .test_marketdata import apply_x, book_of, md_request, sim_book

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

D = Decimal


def _view(book: tuple[list[Any], list[Any]], depth: int, sides: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    bids, asks = book
    if depth:
        bids, asks = bids[:depth], asks[:depth]
    return (bids if "0" in sides else []), (asks if "1" in sides else [])


async def test_marketdata_fanout_sessions_of_other_kinds_each_track_their_own_view(sim: SimServer) -> None:
    # (BeginString, SenderCompID of the client, depth, sides): four kinds of one symbol, one flush each
    kinds = [("FIX.4.4", "KIND0", 1, ("0", "1")), ("FIX.4.4", "KIND1", 0, ("0", "1")),
             ("FIX.4.4", "KIND2", 0, ("0",)), ("FIX.4.2", "KIND3", 0, ("0", "1"))]
    for px in ("60010", "60030"):
        place(sim, "SELL", "0.4", px)
    for px in ("59990", "59970"):
        place(sim, "BUY", "0.4", px)
    cfg = gateway_config(sim)
    bases = {s.begin_string: s for s in cfg.sessions}
    cfg = replace(cfg, sessions=tuple(replace(bases[b], target_comp_id=comp) for b, comp, _, _ in kinds))
    async with running_gateway(cfg) as gw:
        clients, books = [], []
        for begin, comp, depth, sides in kinds:
            c = FixClient(begin, comp, "FIXGW")
            await c.connect(gw.port)
            await c.send_raw("V", md_request(f"md-{comp}", "1", depth=str(depth), update="1", entries=sides))
            w = await c.wait_for(lambda m: m.msg_type == b"W")
            bids, asks = book_of(w)
            assert (bids, asks) == _view(sim_book(sim), depth, sides)
            clients.append(c)
            books.append({b"0": dict(bids), b"1": dict(asks)})
        # a new best bid and ask, a level removed below the top, a size change at the top
        place(sim, "BUY", "0.1", "59995")
        place(sim, "SELL", "0.2", "60005")
        place(sim, "BUY", "0.3", "59990")
        full = sim_book(sim)
        for (begin, comp, depth, sides), c, book in zip(kinds, clients, books):
            expected = _view(full, depth, sides)
            with anyio.fail_after(10):
                while (sorted(book[b"0"].items(), reverse=True), sorted(book[b"1"].items())) != expected:
                    x = await c._read_until(lambda m: m.msg_type == b"X", 10)
                    assert x[262] == f"md-{comp}".encode()
                    apply_x(book, x)
        for c in clients:
            await c.logout()
