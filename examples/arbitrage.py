"""Cross-venue arbitrage through the fixgw bridge: buy where BTC/USDT is cheap, sell where it is dear.

Run the demo gateway (two simulated exchanges quoting BTC/USDT around 41,000 and 41,200) and then this
script as the gateway's banner prints it (its trading key, and ``--venue-url`` for a venue whose book the
gateway does not keep)::

    fixgw run --demo arbitrage
    python examples/arbitrage.py --bridge http://127.0.0.1:9880 --key demo-trade \\
        --secret-file var/bridge/demo-trade.secret --venue-url beta=http://127.0.0.1:PORT

Theory of operation (``Arbitrage.run_once``):

1. Read the top of both books: the bridge's ``GET /v1/book/{symbol}?venue=`` where the bridge has it,
   else the venue's own public depth endpoint (``--venue-url NAME=URL``; the banner prints the URLs).
2. ``find_opportunity``: the pair of venues where the best bid of one beats the best ask of the other
   by more than both taker fees and ``min_edge_bp``; the size is what both tops hold, capped, floored
   to the lot step.
3. Send the buy and the sell at once, each in the bridge account of its venue: limit orders good till
   canceled, marketable up to ``max_slippage_bp`` past the prices seen (a quote that moves a little still
   fills, at the book's price; the worst case stays inside the edge). A bridge order is idempotent by ``client_order_id``: a request whose
   answer was lost is sent again with the same id and can never place a second order.
4. Follow both legs on the bridge's order stream (and by polling their rows, should the stream be
   quiet) through partial fills, until both are finished or ``leg_timeout`` passes; then cancel what
   is still open and wait for the venues' answers.
5. If one leg filled more than the other (rejected, partly filled, canceled), unwind the excess on the
   venue where it was filled, with a market order, until the position is flat within one lot step.
6. Read every leg's fills and print the net position and the P&L after fees (exact ``Decimal``): a fee
   in the base asset is valued at its fill's price.

The module holds functions a test drives (``find_opportunity``, ``profit_and_loss``, ``Arbitrage``);
``main`` is the command line.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

import anyio
import httpx

from fixgw.bridge import AsyncBridgeClient
from fixgw.bridge.errors import BridgeRequestError
from fixgw.errors import TransportError
from fixgw.venues.assets import canonical_asset

__all__ = ["Quote", "Opportunity", "Leg", "Fill", "Result", "Arbitrage", "find_opportunity", "profit_and_loss",
           "main"]

ZERO = Decimal(0)
TERMINAL = frozenset({"filled", "canceled", "rejected", "expired"})


@dataclass(frozen=True)
class Quote:
    """The top of one venue's book."""

    venue: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal


@dataclass(frozen=True)
class Opportunity:
    """Buy ``qty`` on ``buy_venue`` at ``buy_px``, sell it on ``sell_venue`` at ``sell_px``."""

    buy_venue: str
    sell_venue: str
    buy_px: Decimal
    sell_px: Decimal
    qty: Decimal
    #: what one unit earns after both taker fees, in the quote asset
    edge: Decimal


def find_opportunity(quotes: Iterable[Quote], *, fee_rate: Decimal, min_edge_bp: Decimal, max_qty: Decimal,
                     lot_step: Decimal) -> Opportunity | None:
    """The best buy-here-sell-there pair whose edge after fees passes ``min_edge_bp`` of the buy price."""
    best: Opportunity | None = None
    quotes = list(quotes)
    for buy in quotes:
        for sell in quotes:
            if buy.venue == sell.venue:
                continue
            edge = sell.bid * (1 - fee_rate) - buy.ask * (1 + fee_rate)
            if edge <= buy.ask * min_edge_bp / 10000:
                continue
            qty = (min(buy.ask_qty, sell.bid_qty, max_qty) // lot_step) * lot_step
            if qty <= 0:
                continue
            if best is None or edge * qty > best.edge * best.qty:
                best = Opportunity(buy.venue, sell.venue, buy.ask, sell.bid, qty, edge)
    return best


@dataclass
class Leg:
    """One order of the trade, as the bridge last showed it."""

    role: str  # "buy", "sell" or "unwind"
    venue: str
    account: str
    side: str
    qty: Decimal
    price: Decimal | None  # None: a market order
    client_order_id: str
    order_id: str | None = None
    status: str = "unsent"
    cum_qty: Decimal = ZERO
    reject_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL or self.status == "unsent"

    def update(self, row: dict[str, Any]) -> None:
        self.order_id = row["order_id"]
        self.status = row["status"]
        self.cum_qty = Decimal(row["cum_qty"] or "0")
        self.reject_reason = row.get("reject_reason")

    def body(self, symbol: str) -> dict[str, Any]:
        body: dict[str, Any] = {"client_order_id": self.client_order_id, "account": self.account, "symbol": symbol,
                                "side": self.side, "quantity": _text(self.qty)}
        if self.price is None:
            body["type"] = "market"
        else:
            body.update(type="limit", price=_text(self.price), time_in_force="gtc")
        return body


@dataclass(frozen=True)
class Fill:
    venue: str
    side: str
    qty: Decimal
    px: Decimal
    fee: Decimal
    fee_currency: str | None


def profit_and_loss(fills: Iterable[Fill], base: str, quote: str) -> tuple[Decimal, Decimal, Decimal]:
    """(net position in ``base``, P&L after fees in ``quote``, fees in ``quote``) of ``fills``.

    Cash flows at the fill prices; a fee in ``base`` is valued at its fill's price. A fee in a third
    asset cannot be valued here and raises ``ValueError``."""
    position = cash = fees = ZERO
    for f in fills:
        if f.side == "buy":
            position += f.qty
            cash -= f.qty * f.px
        else:
            position -= f.qty
            cash += f.qty * f.px
        if f.fee:
            if f.fee_currency == quote:
                fees += f.fee
            elif f.fee_currency == base:
                fees += f.fee * f.px
            else:
                raise ValueError(f"a fee in {f.fee_currency!r} cannot be valued in {quote}")
    return position, cash - fees, fees


@dataclass
class Result:
    opportunity: Opportunity
    legs: list[Leg]
    fills: list[Fill]
    position: Decimal
    pnl: Decimal
    fees: Decimal
    unresolved: list[Leg] = field(default_factory=list)


class Arbitrage:
    """One strategy instance over a signed ``AsyncBridgeClient`` with ``trade`` permission.

    ``accounts``: venue name -> the bridge account that trades on it. ``venue_urls``: venue name -> its
    REST URL, for reading books when the bridge has no book route. ``on_opportunity``: awaited after an
    opportunity is chosen and before its orders go (a place to print, log or, in a test, to move the
    market)."""

    def __init__(self, client: AsyncBridgeClient, accounts: dict[str, str], *, symbol: str = "BTC/USDT",
                 venue_urls: dict[str, str] | None = None, fee_rate: Decimal = Decimal("0.001"),
                 min_edge_bp: Decimal = Decimal("1"), max_qty: Decimal = Decimal("0.1"),
                 lot_step: Decimal = Decimal("0.00001"), tick_size: Decimal = Decimal("0.01"),
                 max_slippage_bp: Decimal = Decimal("10"), leg_timeout: float = 3.0, settle_timeout: float = 20.0,
                 unwind_attempts: int = 3, on_opportunity: Callable[[Opportunity], Awaitable[None]] | None = None,
                 out: Callable[[str], None] = print) -> None:
        self.client = client
        self.accounts = dict(accounts)
        self.symbol = symbol
        self.base, _, self.quote = (canonical_asset(x) for x in symbol.partition("/"))
        self.venue_urls = dict(venue_urls or {})
        self.fee_rate, self.min_edge_bp, self.max_qty, self.lot_step = fee_rate, min_edge_bp, max_qty, lot_step
        self.tick_size, self.max_slippage_bp = tick_size, max_slippage_bp
        self.leg_timeout, self.settle_timeout, self.unwind_attempts = leg_timeout, settle_timeout, unwind_attempts
        self.on_opportunity = on_opportunity
        self.out = out
        self._tag = secrets.token_hex(3)
        self._n = 0
        self._books: Books | None = None  # made on first use

    # -- the books --------------------------------------------------------------------------------
    async def quotes(self) -> list[Quote]:
        """The top of each configured venue's book."""
        if self._books is None:
            self._books = Books(self.client, self.venue_urls)
        return [await self._books.top(venue, self.symbol) for venue in self.accounts]

    # -- one round ---------------------------------------------------------------------------------
    async def run_once(self) -> Result | None:
        """Look for an opportunity, trade it and flatten what is left; ``None`` when there is none."""
        opp = find_opportunity(await self.quotes(), fee_rate=self.fee_rate, min_edge_bp=self.min_edge_bp,
                               max_qty=self.max_qty, lot_step=self.lot_step)
        if opp is None:
            self.out("no opportunity after fees")
            return None
        self.out(f"gap: buy {_text(opp.qty)} {self.base} on {opp.buy_venue} at {_text(opp.buy_px)}, "
                 f"sell on {opp.sell_venue} at {_text(opp.sell_px)} ({_text(opp.edge)} {self.quote} a unit after fees)")
        if self.on_opportunity is not None:
            await self.on_opportunity(opp)
        async with self.client.stream("/v1/stream", params={"channels": "orders"}) as stream:
            slip = self.max_slippage_bp / 10000
            buy_limit = (opp.buy_px * (1 + slip) // self.tick_size) * self.tick_size
            sell_limit = (opp.sell_px * (1 - slip) / self.tick_size).to_integral_value(ROUND_CEILING) * self.tick_size
            buy = self._leg("buy", opp.buy_venue, "buy", opp.qty, buy_limit)
            sell = self._leg("sell", opp.sell_venue, "sell", opp.qty, sell_limit)
            legs = [buy, sell]
            async with anyio.create_task_group() as tg:  # both legs at once
                for leg in legs:
                    tg.start_soon(self._send, leg)
            await self._follow(stream, legs, self.leg_timeout)
            for leg in legs:
                if not leg.finished:
                    await self._cancel(leg)
            await self._follow(stream, legs, self.settle_timeout)
            for leg in legs:
                self.out(f"  {leg.role} on {leg.venue}: {leg.status}, filled {_text(leg.cum_qty)} of {_text(leg.qty)}"
                         + (f" ({leg.reject_reason})" if leg.reject_reason else ""))
            await self._unwind(stream, legs, buy.venue, sell.venue)
        fills = [f for leg in legs for f in await self._fills(leg)]
        position, pnl, fees = profit_and_loss(fills, self.base, self.quote)
        unresolved = [leg for leg in legs if not leg.finished]
        self.out(f"net position {_text(position)} {self.base}; P&L {_text(pnl)} {self.quote} after "
                 f"{_text(fees)} {self.quote} of fees" + (f"; {len(unresolved)} order(s) unresolved" if unresolved else ""))
        return Result(opp, legs, fills, position, pnl, fees, unresolved)

    def _leg(self, role: str, venue: str, side: str, qty: Decimal, price: Decimal | None) -> Leg:
        self._n += 1
        return Leg(role, venue, self.accounts[venue], side, qty, price, f"arb-{self._tag}-{self._n}-{role}")

    async def _send(self, leg: Leg) -> None:
        """Place ``leg``; a lost answer is asked again under the same id (the bridge places it once)."""
        for attempt in range(3):
            try:
                leg.update(await self.client.post("/v1/orders", leg.body(self.symbol)))
                return
            except BridgeRequestError as e:
                leg.status, leg.reject_reason = "rejected", f"{e.code}: {e.message}"
                return
            except TransportError:
                if attempt == 2:
                    leg.status = "unknown"  # maybe placed: followed by its client order id
                    return
                await anyio.sleep(0.2 * (attempt + 1))

    async def _cancel(self, leg: Leg) -> None:
        try:
            await self.client.delete(f"/v1/orders/{leg.order_id or leg.client_order_id}")
        except BridgeRequestError as e:
            if e.code != "order_not_open":  # finished meanwhile: its row says how
                self.out(f"  cancel of {leg.role} on {leg.venue} refused: {e.code}")
        except TransportError:
            pass  # the rows below still tell how the order ended

    async def _refresh(self, leg: Leg) -> None:
        try:
            leg.update(await self.client.get(f"/v1/orders/{leg.order_id or leg.client_order_id}"))
        except BridgeRequestError as e:
            if e.code != "not_found":
                raise
        except TransportError:
            pass  # asked again on the next tick

    async def _follow(self, stream: Any, legs: list[Leg], timeout: float) -> None:
        """Update ``legs`` from the stream (and by polling) until all are finished or ``timeout`` passes."""
        with anyio.move_on_after(timeout):
            while True:
                for leg in legs:
                    if not leg.finished:
                        await self._refresh(leg)
                if all(leg.finished for leg in legs):
                    return
                with anyio.move_on_after(0.25):  # an event of ours, or a poll a quarter second on
                    ids = {leg.order_id for leg in legs if leg.order_id}
                    while True:
                        try:
                            message = await stream.recv()
                        except TransportError:  # the stream is gone: polling alone from here
                            await anyio.sleep(1)
                            continue
                        if message.get("type") == "event" and message.get("order_id") in ids:
                            break

    async def _unwind(self, stream: Any, legs: list[Leg], buy_venue: str, sell_venue: str) -> None:
        """Flatten the excess of the leg that filled more, with market orders on that leg's venue."""
        for _ in range(self.unwind_attempts):
            excess = sum((leg.cum_qty if leg.side == "buy" else -leg.cum_qty for leg in legs), ZERO)
            excess = (abs(excess) // self.lot_step) * self.lot_step * (1 if excess > 0 else -1)
            if excess == 0:
                return
            venue, side = (buy_venue, "sell") if excess > 0 else (sell_venue, "buy")
            leg = self._leg("unwind", venue, side, abs(excess), None)
            self.out(f"  unwind: {side} {_text(abs(excess))} {self.base} on {venue} at market")
            legs.append(leg)
            await self._send(leg)
            await self._follow(stream, [leg], self.settle_timeout)

    async def _fills(self, leg: Leg) -> list[Fill]:
        if leg.order_id is None or leg.cum_qty == 0:
            return []
        out, cursor = [], None
        while True:
            params = {"order_id": leg.order_id, "account": leg.account, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = await self.client.get("/v1/fills", params=params)
            out += [Fill(r["venue"], r["side"], Decimal(r["last_qty"]), Decimal(r["last_px"]),
                         Decimal(r["fee"] or "0"), r["fee_currency"]) for r in page["fills"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return out


class Books:
    """Top of book per venue: the bridge's book route, else the venue's own public REST.

    The venue's spelling of the symbol comes from its instrument list, matched on canonical asset codes
    (``fixgw.venues.assets``): ``BTCUSDT``, ``BTC-USDT`` or ``XBTUSDT`` for ``BTC/USDT``."""

    def __init__(self, client: AsyncBridgeClient, venue_urls: dict[str, str]) -> None:
        self.client = client
        self.venue_urls = venue_urls
        self.no_bridge_book: set[str] = set()  # venues the bridge answered 404 for (no route, no book)
        self._kinds: dict[str, str] | None = None
        self._spelling: dict[tuple[str, str], str] = {}

    async def top(self, venue: str, symbol: str) -> Quote:
        if venue not in self.no_bridge_book:
            for _ in range(20):
                try:
                    book = await self.client.get(f"/v1/book/{symbol}", params={"venue": venue, "depth": 1})
                    return _quote(venue, book["bids"], book["asks"])
                except BridgeRequestError as e:
                    if e.status == 503:  # the bridge's book is still syncing
                        await anyio.sleep(0.25)
                        continue
                    if e.status != 404 or venue not in self.venue_urls:
                        raise
                    self.no_bridge_book.add(venue)
                    break
        url = self.venue_urls.get(venue)
        if url is None:
            raise LookupError(f"no book of {symbol} on {venue}: give --venue-url {venue}=URL")
        return await self._venue_top(venue, await self._kind(venue), url.rstrip("/"), symbol)

    async def _kind(self, venue: str) -> str:
        if self._kinds is None:
            self._kinds = {v["name"]: v["kind"] for v in (await self.client.get("/v1/venues"))["venues"]}
        return self._kinds[venue]

    async def _venue_top(self, venue: str, kind: str, url: str, symbol: str) -> Quote:
        want = tuple(canonical_asset(x) for x in symbol.split("/", 1))
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            async def get(path: str, **params: Any) -> Any:
                response = await http.get(path, params=params)
                response.raise_for_status()
                return response.json()

            name = self._spelling.get((venue, symbol))
            if kind == "binance":
                if name is None:
                    info = await get("/api/v3/exchangeInfo")
                    name = _match(((s["symbol"], s["baseAsset"], s["quoteAsset"]) for s in info["symbols"]), want)
                depth = await get("/api/v3/depth", symbol=name, limit=5)
            elif kind == "coinbase":
                if name is None:
                    products = await get("/products")
                    name = _match(((p["id"], p["base_currency"], p["quote_currency"]) for p in products), want)
                depth = await get(f"/products/{name}/book", level=2)
            elif kind == "kraken":
                if name is None:
                    pairs = (await get("/0/public/AssetPairs"))["result"]
                    name = _match(((p.get("altname", k), *p["wsname"].split("/", 1)) for k, p in pairs.items()), want)
                depth = next(iter((await get("/0/public/Depth", pair=name, count=5))["result"].values()))
            else:
                raise LookupError(f"no public book reader for venue kind {kind!r}")
        self._spelling[(venue, symbol)] = name
        return _quote(venue, depth["bids"], depth["asks"])


def _match(listed: Iterable[tuple[str, str, str]], want: tuple[str, ...]) -> str:
    for name, base, quote in listed:
        if (canonical_asset(base), canonical_asset(quote)) == want:
            return name
    raise LookupError(f"the venue lists no {'/'.join(want)}")


def _level(level: Any) -> tuple[Decimal, Decimal]:
    if isinstance(level, dict):
        return Decimal(level["price"]), Decimal(level.get("quantity") or level.get("qty") or level["size"])
    return Decimal(level[0]), Decimal(level[1])


def _quote(venue: str, bids: Sequence[Any], asks: Sequence[Any]) -> Quote:
    if not bids or not asks:
        raise LookupError(f"{venue}: the book has an empty side")
    (bid, bid_qty), (ask, ask_qty) = _level(bids[0]), _level(asks[0])
    return Quote(venue, bid, bid_qty, ask, ask_qty)


def _text(d: Decimal) -> str:
    """A Decimal without exponent or trailing zeros."""
    text = f"{d.normalize():f}"
    return text if text != "-0" else "0"


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise SystemExit(f"arbitrage: {what} is NAME=VALUE, not {item!r}")
        out[name] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Buy BTC/USDT on one venue and sell it on another through the "
                                            "fixgw bridge, unwinding a failed leg.")
    p.add_argument("--bridge", default="http://127.0.0.1:9880", help="the bridge's URL (default: %(default)s)")
    p.add_argument("--key", default="demo-trade", help="a bridge key with trade permission (default: %(default)s)")
    p.add_argument("--secret-file", type=Path, default=Path("var/bridge/demo-trade.secret"),
                   help="the file holding the key's secret (default: %(default)s)")
    p.add_argument("--symbol", default="BTC/USDT")
    p.add_argument("--account", action="append", default=[], metavar="VENUE=ACCOUNT",
                   help="the bridge account that trades on a venue (default: alpha=alpha, beta=beta)")
    p.add_argument("--venue-url", action="append", default=[], metavar="VENUE=URL",
                   help="a venue's REST URL, to read its book when the bridge has no book route")
    p.add_argument("--max-qty", type=Decimal, default=Decimal("0.1"))
    p.add_argument("--fee-rate", type=Decimal, default=Decimal("0.001"), help="taker fee (default: %(default)s)")
    p.add_argument("--tick-size", type=Decimal, default=Decimal("0.01"), help="price step (default: %(default)s)")
    p.add_argument("--lot-step", type=Decimal, default=Decimal("0.00001"), help="quantity step (default: %(default)s)")
    p.add_argument("--max-slippage-bp", type=Decimal, default=Decimal("10"),
                   help="how far past the prices seen the orders may fill, basis points (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=1, help="opportunities to look for, a second apart")
    args = p.parse_args(argv)
    accounts = _pairs(args.account, "--account") or {"alpha": "alpha", "beta": "beta"}
    try:
        secret = args.secret_file.read_text(encoding="utf-8").strip()
    except OSError as e:
        print(f"arbitrage: {args.secret_file}: {e.strerror}", file=sys.stderr)
        return 2

    async def run() -> None:
        async with AsyncBridgeClient(args.bridge, args.key, secret, timeout=10) as client:
            arb = Arbitrage(client, accounts, symbol=args.symbol, venue_urls=_pairs(args.venue_url, "--venue-url"),
                            max_qty=args.max_qty, fee_rate=args.fee_rate, tick_size=args.tick_size,
                            lot_step=args.lot_step, max_slippage_bp=args.max_slippage_bp)
            for i in range(args.rounds):
                if i:
                    await anyio.sleep(1)
                await arb.run_once()

    try:
        anyio.run(run)
    except (BridgeRequestError, TransportError, httpx.HTTPError, LookupError) as e:
        print(f"arbitrage: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
