"""The Kraken dialect's operations over the shared engine: order entry, queries, balances, ids.

Both front ends (REST ``rest.py``, WebSocket v2 ``feed.py``) call these; each takes the account and
the request's fields as text (REST names), and returns the venue's ``result`` or raises
``KrakenError``. Kraken's ids are strings (``OU22CG-KLAF2-FWUDD7``); the engine's are numbers per
symbol, so a table maps each order (and each of its trades) to a txid made on first sight.
"""

from __future__ import annotations

import random
import re
import secrets
import weakref
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ApiError
from ..model import NewOrder, Order
from ..state import SimState
from . import formats
from .errors import INVALID_ORDER, ORDER_RATE_LIMIT, UNKNOWN_PAIR, KrakenError, from_engine, invalid_arguments
from .limits import Counters, KrakenLimits, amend_cost, cancel_cost
from .names import PairNames, PairTable, rest_asset

__all__ = ["KrakenVenue", "venue_of", "decimals", "BATCH_MAX"]

_TYPES_IN = {"limit": "LIMIT", "market": "MARKET", "stop-loss": "STOP_LOSS", "take-profit": "TAKE_PROFIT",
             "stop-loss-limit": "STOP_LOSS_LIMIT", "take-profit-limit": "TAKE_PROFIT_LIMIT"}
_KNOWN_TYPES = {"iceberg", "trailing-stop", "trailing-stop-limit", "settle-position"}  # not simulated
_FLAGS = {"post", "fcib", "fciq", "nompp", "viqc"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TOKEN_LIFE_MS = 900_000
#: AddOrderBatch carries 2 to this many orders, all of one pair
BATCH_MAX = 15
_VENUES: "weakref.WeakKeyDictionary[SimState, KrakenVenue]" = weakref.WeakKeyDictionary()


def venue_of(state: SimState) -> "KrakenVenue":
    """The Kraken dialect serving ``state`` (made by ``build_app``)."""
    return _VENUES[state]


def decimals(unit: Decimal) -> int:
    return max(0, -unit.normalize().as_tuple().exponent) if unit else 8  # type: ignore[operator]


def _dec(p: dict[str, str], name: str, required: bool = False) -> Decimal | None:
    raw = p.get(name)
    if raw in (None, ""):
        if required:
            raise invalid_arguments(name)
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise invalid_arguments(name) from None
    if not value.is_finite() or value <= 0:
        raise invalid_arguments(name)
    return value


def valid_client_id(cid: str) -> bool:
    return bool(_UUID.match(cid)) or (0 < len(cid) <= 18 and cid.isascii() and cid.isprintable())


class KrakenVenue:
    """The dialect's state beside the engine's: names, ids, nonces, tokens, counters."""

    def __init__(self, state: SimState, limits: KrakenLimits | None = None) -> None:
        self.state = state
        self.engine = state.engine
        self.pairs = PairTable(state.engine.instruments.values())
        self.limits = limits or KrakenLimits()
        self.counters = Counters()
        self.tokens: dict[str, tuple[str, int]] = {}  # token -> (account, use-before ms)
        self._rng = random.Random(state.config.seed)
        self._txids: dict[tuple[str, int], str] = {}
        self._orders: dict[str, tuple[str, int]] = {}
        self._fill_txids: dict[tuple[str, int, int], str] = {}
        self.userrefs: dict[tuple[str, int], int] = {}
        self._next_client = 0
        #: private REST calls taken (authenticated and within the REST counter), by method
        self.calls: Counter[str] = Counter()
        _VENUES[state] = self

    # == ids ======================================================================================
    def _new_id(self, head: str) -> str:
        c = self._rng.choice
        return head + "".join(c(_ID_CHARS) for _ in range(5)) + "-" + "".join(c(_ID_CHARS) for _ in range(5)) \
            + "-" + "".join(c(_ID_CHARS) for _ in range(6))

    def txid(self, order: Order) -> str:
        key = (order.symbol, order.order_id)
        txid = self._txids.get(key)
        if txid is None:
            txid = self._txids[key] = self._new_id("O")
            self._orders[txid] = key
        return txid

    def fill_txid(self, symbol: str, trade_id: int, order_id: int) -> str:
        key = (symbol, trade_id, order_id)
        txid = self._fill_txids.get(key)
        if txid is None:
            txid = self._fill_txids[key] = self._new_id("T")
        return txid

    def pair(self, name: str | None) -> PairNames:
        found = self.pairs.rest(name or "")
        if found is None:
            raise KrakenError(UNKNOWN_PAIR)
        return found

    def userref(self, order: Order) -> int | None:
        return self.userrefs.get((order.symbol, order.order_id))

    # == lookups ==================================================================================
    def _by_txid(self, account: str, txid: str) -> Order | None:
        key = self._orders.get(txid)
        if key is None:
            return None
        order = self.engine.orders[key[0]].get(key[1])
        return order if order is not None and order.account_id == account else None

    def _by_client_id(self, account: str, cid: str) -> Order | None:
        found = None
        for symbol in self.engine.instruments:
            order = self.engine.find_order(account, symbol, client_order_id=cid)
            if order is not None and (found is None or not order.is_done):
                found = order
        return found

    def _by_userref(self, account: str, ref: int) -> list[Order]:
        return [self.engine.orders[s][i] for (s, i), r in self.userrefs.items()
                if r == ref and self.engine.orders[s][i].account_id == account]

    def find(self, account: str, p: dict[str, str]) -> list[Order]:
        """The orders a request names: ``txid`` (txids, or a userref), or ``cl_ord_id``."""
        out: list[Order] = []
        if p.get("cl_ord_id"):
            order = self._by_client_id(account, p["cl_ord_id"])
            return [order] if order is not None else []
        for ref in (p.get("txid") or "").split(","):
            ref = ref.strip()
            if not ref:
                continue
            if ref.isdigit() or (ref.startswith("-") and ref[1:].isdigit()):
                out.extend(self._by_userref(account, int(ref)))
                continue
            order = self._by_txid(account, ref)
            if order is not None:
                out.append(order)
        return out

    def info(self, order: Order, trades: bool = False) -> dict[str, Any]:
        fills = [f for f in self.engine.fills[order.account_id]
                 if f.symbol == order.symbol and f.order_id == order.order_id] if order.executed_qty else []
        txids = [self.fill_txid(f.symbol, f.trade_id, f.order_id) for f in fills] if trades else None
        out = formats.order_info(order, self.pairs.engine(order.symbol), self.userref(order), txids)
        out["fee"] = f"{sum((self._fee_quote(f) for f in fills), Decimal(0)):.8f}"
        return out

    # == trading counter ==========================================================================
    def _charge_trading(self, account: str, pair: PairNames, cost: float, now: int) -> None:
        lim = self.limits
        if not self.counters.charge(("trade", account, pair.pair_id), cost, lim.trade_max, lim.trade_decay, now):
            raise KrakenError(ORDER_RATE_LIMIT, 429)

    # == order entry ==============================================================================
    def add_order(self, account: str, p: dict[str, str], now: int) -> dict[str, Any]:
        pair = self.pair(p.get("pair"))
        req, userref, descr = self._checked_order(account, pair, p)
        self._charge_trading(account, pair, 1, now)  # charged on receipt, even if the order fails
        validate = (p.get("validate") or "").lower() in ("true", "1")
        if validate:
            try:
                self.engine.validate(account, req)
            except ApiError as err:
                raise from_engine(err) from None
            return {"descr": descr}
        return {"descr": descr, "txid": [self._place(account, req, userref, now)]}

    def add_order_batch(self, account: str, p: dict[str, Any], now: int) -> dict[str, Any]:
        """``AddOrderBatch`` (JSON body): 2-15 orders of one ``pair``. Every order is checked first and
        one that fails refuses the whole batch; then each goes to the engine, and a refusal there
        (funds, a post-only order that would take) answers that entry alone, ``{"error": ...}``; the
        entries in request order, each ``txid`` a string (AddOrder's is a list). The pair's trading
        counter is charged n/2 on receipt, even for a batch then refused."""
        orders = p.get("orders")
        if not isinstance(orders, list) or not 2 <= len(orders) <= BATCH_MAX or not all(
                isinstance(o, dict) and all(isinstance(v, str) for v in o.values()) for o in orders):
            raise invalid_arguments("orders")
        if not isinstance(p.get("pair"), str):
            raise invalid_arguments("pair")
        pair = self.pair(p["pair"])
        self._charge_trading(account, pair, len(orders) / 2, now)  # on receipt, even if validation fails
        checked = []
        for item in orders:
            if "pair" in item:
                raise invalid_arguments("orders")  # the pair is the batch's
            checked.append(self._checked_order(account, pair, {**item, "pair": p["pair"]}))
        validate = str(p.get("validate") or "").lower() in ("true", "1")
        out: list[dict[str, Any]] = []
        for req, userref, descr in checked:
            try:
                if validate:
                    self.engine.validate(account, req)
                    out.append({"descr": descr})
                else:
                    out.append({"txid": self._place(account, req, userref, now), "descr": descr})
            except ApiError as err:
                out.append({"error": from_engine(err).error})
            except KrakenError as err:
                out.append({"error": err.error})
        return {"orders": out}

    def _checked_order(self, account: str, pair: PairNames,
                       p: dict[str, str]) -> tuple[NewOrder, int | None, dict[str, Any]]:
        """An AddOrder's fields checked (``KrakenError`` for the first fault): the engine's request,
        the userref, the ``descr`` of the answer."""
        spec = pair.spec
        side = p.get("type")
        if side not in ("buy", "sell"):
            raise invalid_arguments("type")
        ordertype = p.get("ordertype") or ""
        kind = _TYPES_IN.get(ordertype)
        if kind is None:
            raise invalid_arguments("ordertype")
        flags = {f for f in (p.get("oflags") or "").split(",") if f}
        if not flags <= _FLAGS or "viqc" in flags or ("post" in flags and kind != "LIMIT"):
            raise invalid_arguments("oflags")
        if "post" in flags:
            kind = "LIMIT_MAKER"
        volume = _dec(p, "volume", True)
        assert volume is not None
        price = _dec(p, "price", kind != "MARKET")
        price2 = _dec(p, "price2", kind.endswith("_LIMIT"))
        tif = (p.get("timeinforce") or "GTC").upper()
        if tif not in ("GTC", "IOC", "FOK") or (kind == "LIMIT_MAKER" and tif != "GTC"):
            raise invalid_arguments("timeinforce")  # GTD (expiretm) is not simulated
        cid, ref = p.get("cl_ord_id"), p.get("userref")
        if cid is not None and ref is not None:
            raise invalid_arguments("userref and cl_ord_id are mutually exclusive")
        if cid is not None and not valid_client_id(cid):
            raise invalid_arguments("cl_ord_id")
        userref = None
        if ref is not None:
            try:
                userref = int(ref)
            except ValueError:
                raise invalid_arguments("userref") from None
        # the pair's rules in the venue's words (the engine checks the rest)
        if volume < spec.min_qty:
            raise KrakenError("EOrder:Order minimum not met")
        if decimals(volume) > decimals(spec.step_size) or (spec.max_qty and volume > spec.max_qty):
            raise invalid_arguments("volume")
        for px in (price, price2):
            if px is not None and spec.tick_size and px % spec.tick_size:
                raise KrakenError("EOrder:Tick size check failed")
        limit_px = price2 if kind.endswith("_LIMIT") else price
        if kind in ("LIMIT", "LIMIT_MAKER") and limit_px is not None and limit_px * volume < spec.min_notional:
            raise KrakenError("EOrder:Cost minimum not met")
        stop = price if kind in formats.TYPES_STOP else None
        req = NewOrder(symbol=spec.symbol, side=side.upper(), type=kind, quantity=volume,
                       price=limit_px if kind not in ("MARKET", "STOP_LOSS", "TAKE_PROFIT") else None,
                       time_in_force=None if kind in ("MARKET", "STOP_LOSS", "TAKE_PROFIT") else tif,
                       stop_price=stop, new_client_order_id=cid or self._anonymous_id())
        descr_order = Order(spec.symbol, 0, "", account, req.side, kind, tif, req.price or stop or Decimal(0), volume,
                            stop_price=stop or Decimal(0))
        return req, userref, {"order": formats.describe(descr_order, pair)}

    def _place(self, account: str, req: NewOrder, userref: int | None, now: int) -> str:
        """Put a checked order in the engine; its txid (``KrakenError`` in the venue's words if refused)."""
        try:
            placed = self.engine.place(account, req, now)
        except ApiError as err:
            raise from_engine(err) from None
        order = self.engine.orders[req.symbol][placed.order.order_id]
        if userref is not None:
            self.userrefs[(req.symbol, order.order_id)] = userref
        return self.txid(order)

    def _anonymous_id(self) -> str:
        self._next_client += 1
        return f"{formats.NO_CLIENT_ID}{self._next_client}"

    def cancel(self, account: str, p: dict[str, str], now: int) -> dict[str, Any]:
        if not p.get("txid") and not p.get("cl_ord_id"):
            raise invalid_arguments("txid")
        orders = [o for o in self.find(account, p) if not o.is_done]
        if not orders:
            raise KrakenError(INVALID_ORDER)
        return {"count": self._cancel_each(account, orders, now), "pending": False}

    def _cancel_each(self, account: str, orders: list[Order], now: int) -> int:
        count = 0
        for order in orders:
            pair = self.pairs.engine(order.symbol)
            self._charge_trading(account, pair, cancel_cost(now - order.time), now)
            try:
                self.engine.cancel(account, order.symbol, now, order_id=order.order_id,
                                   new_client_order_id=order.client_order_id)
            except ApiError:
                continue
            count += 1
        return count

    def cancel_all(self, account: str, now: int) -> dict[str, Any]:
        return {"count": self._cancel_each(account, self.engine.open_orders(account), now), "pending": False}

    def cancel_batch(self, account: str, txids: list[str], cl_ord_ids: list[str], now: int) -> dict[str, Any]:
        if not txids and not cl_ord_ids or len(txids) + len(cl_ord_ids) > 50:
            raise invalid_arguments("orders")
        orders: list[Order] = []
        for t in txids:
            orders.extend(self.find(account, {"txid": t}))
        for c in cl_ord_ids:
            orders.extend(self.find(account, {"cl_ord_id": c}))
        return {"count": self._cancel_each(account, [o for o in orders if not o.is_done], now)}

    def amend(self, account: str, p: dict[str, str], now: int) -> dict[str, Any]:
        if bool(p.get("txid")) == bool(p.get("cl_ord_id")):
            raise invalid_arguments("txid")
        found = [o for o in self.find(account, p) if not o.is_done][:1]
        if not found:
            raise KrakenError(INVALID_ORDER)
        order = found[0]
        if p.get("limit_price") not in (None, "") or p.get("trigger_price") not in (None, ""):
            raise invalid_arguments("limit_price")  # the simulator amends quantities only
        qty = _dec(p, "order_qty", True)
        assert qty is not None
        pair = self.pairs.engine(order.symbol)
        self._charge_trading(account, pair, amend_cost(now - order.time), now)
        if decimals(qty) > decimals(pair.spec.step_size):
            raise invalid_arguments("order_qty")
        try:
            self.engine.amend_keep_priority(account, order.symbol, qty, now, order_id=order.order_id,
                                            new_client_order_id=order.client_order_id)
        except ApiError as err:
            raise from_engine(err) from None
        return {"amend_id": self._new_id("T")}

    # == queries ==================================================================================
    def query_orders(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        refs = [t for t in (p.get("txid") or "").split(",") if t]
        if len(refs) > 50:
            raise invalid_arguments("txid")
        trades = (p.get("trades") or "").lower() in ("true", "1")
        orders = self.find(account, p)
        if refs and not p.get("cl_ord_id") and not orders:
            raise KrakenError(INVALID_ORDER)
        return {self.txid(o): self.info(o, trades) for o in orders}

    def open_orders(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        trades = (p.get("trades") or "").lower() in ("true", "1")
        orders = self.engine.open_orders(account)
        if p.get("cl_ord_id"):
            orders = [o for o in orders if o.client_order_id == p["cl_ord_id"]]
        return {"open": {self.txid(o): self.info(o, trades) for o in orders}}

    def closed_orders(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        trades = (p.get("trades") or "").lower() in ("true", "1")
        done = [o for s in self.engine.instruments for o in self.engine.orders[s].values()
                if o.account_id == account and o.is_done]
        done.sort(key=lambda o: (o.update_time, o.order_id), reverse=True)
        done = [o for o in done if _in_range(o.update_time, p)]
        ofs = _int(p, "ofs")
        page = done[ofs:ofs + 50]
        return {"closed": {self.txid(o): self.info(o, trades) for o in page}, "count": len(done)}

    def trades_history(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        fills = [f for f in self.engine.fills[account] if _in_range(f.time, p)]
        fills.reverse()  # newest first
        ofs = _int(p, "ofs")
        out = {}
        for f in fills[ofs:ofs + 50]:
            order = self.engine.orders[f.symbol][f.order_id]
            fee = self._fee_quote(f)
            out[self.fill_txid(f.symbol, f.trade_id, f.order_id)] = formats.trade_info(
                f, self.pairs.engine(f.symbol), self.txid(order), order.type, fee)
        return {"trades": out, "count": len(fills)}

    def query_trades(self, account: str, p: dict[str, str]) -> dict[str, Any]:
        wanted = [t for t in (p.get("txid") or "").split(",") if t]
        if not wanted or len(wanted) > 20:
            raise invalid_arguments("txid")
        out = {}
        for f in self.engine.fills[account]:
            txid = self.fill_txid(f.symbol, f.trade_id, f.order_id)
            if txid in wanted:
                order = self.engine.orders[f.symbol][f.order_id]
                out[txid] = formats.trade_info(f, self.pairs.engine(f.symbol), self.txid(order), order.type,
                                               self._fee_quote(f))
        return out

    def _fee_quote(self, f: Any) -> Decimal:
        """The fee in the quote currency (the engine may have charged the base: converted at the price)."""
        quote = self.engine.instruments[f.symbol].quote_asset
        return f.commission if f.commission_asset == quote else f.commission * f.price

    def balance(self, account: str) -> dict[str, str]:
        acct = self.engine.accounts[account]
        return {rest_asset(a): f"{free + locked:.10f}" for a, (free, locked) in sorted(acct.balances.items())}

    def balance_ex(self, account: str) -> dict[str, Any]:
        acct = self.engine.accounts[account]
        return {rest_asset(a): {"balance": f"{free + locked:.10f}", "hold_trade": f"{locked:.10f}",
                                "credit": "0.0000", "credit_used": "0.0000"}
                for a, (free, locked) in sorted(acct.balances.items())}

    # == WebSocket tokens =========================================================================
    def issue_token(self, account: str, now: int) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (account, now + _TOKEN_LIFE_MS)
        return {"token": token, "expires": _TOKEN_LIFE_MS // 1000}

    def token_account(self, token: Any, now: int, connected: bool = False) -> str | None:
        """The account of a token still usable (a token in use on a connection stays valid)."""
        entry = self.tokens.get(token) if isinstance(token, str) else None
        if entry is None or (not connected and now > entry[1]):
            return None
        return entry[0]


def _int(p: dict[str, str], name: str) -> int:
    raw = p.get(name) or "0"
    if not raw.isdigit():
        raise invalid_arguments(name)
    return int(raw)


def _in_range(ms: int, p: dict[str, str]) -> bool:
    """``start`` / ``end`` as epoch seconds (exclusive / inclusive)."""
    for name, ok in (("start", lambda v: ms > v * 1000), ("end", lambda v: ms <= v * 1000)):
        raw = p.get(name)
        if raw:
            try:
                if not ok(Decimal(raw)):
                    return False
            except InvalidOperation:
                raise invalid_arguments(name) from None
    return True
