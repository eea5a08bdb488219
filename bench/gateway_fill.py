"""Fills against resting liquidity for ``bench/gateway.py --fill``: the simulator's side and the orders.

The simulator runs with its market maker on one symbol (BTCUSDT): a ladder of ``--maker-levels`` bids
and asks, ``level_notional`` USDT each (times 1 to 3), replaced every ``maker_interval_s``. The client
alternates buys and sells of ``QTY`` BTC, so its position stays flat and each side of the ladder loses
about ``rate / 2 * QTY * price`` USDT a second (about 30 USDT per order/s at 60,000 — 300,000 USDT/s at
10,000 orders/s, well inside the default ladder of 10 levels of 100,000 to 300,000 USDT).

Before every run the client asks the control API (``/sim/*``, ``Authorization: Bearer <token>``; the
token is made per start and handed to the simulator in ``FIXGW_SIM_TOKEN``) for the best bid and ask,
refuses to run on an empty book, prices its limits through the book (``--fill-order ioc``: buy at the
best ask plus ``CROSS``, sell at the best bid minus it; ``--fill-order market``: market orders), and
credits the bench account with what the run can spend at worst (``POST /sim/balances``), so neither the
funds nor the book run out mid-run.
"""

from __future__ import annotations

import gc
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, Callable

QTY = Decimal("0.001")
CROSS = Decimal("0.02")  # a marketable limit crosses the spread by 2% of the price: it walks, never rests
TICK = Decimal("0.01")
ACCOUNT = "bench"
LEVEL_NOTIONAL = Decimal("100000")

__all__ = ["QTY", "FillPlan", "new_token", "serve_sim_with_maker", "SimControl", "plan_fills"]


def new_token() -> str:
    """A fresh control token for one bench run (visible ASCII, no spaces)."""
    return secrets.token_urlsafe(24)


def serve_sim_with_maker(port: int, api_key: str, api_secret: str, levels: int) -> None:
    """Child process: the simulated exchange with a market maker quoting BTCUSDT, until killed.

    The control token comes from ``FIXGW_SIM_TOKEN`` in the environment (set by the parent).
    """
    import uvicorn

    from fixgw.sim import ApiKey, LimitConfig, SimConfig
    from fixgw.sim.app import build_app
    from fixgw.sim.instruments import default_instruments
    from fixgw.sim.marketmaker import MakerConfig
    from fixgw.sim.state import SimState

    cfg = SimConfig(
        port=port,
        instruments=tuple(s for s in default_instruments() if s.symbol == "BTCUSDT"),
        market_maker=MakerConfig(levels=levels, level_notional=LEVEL_NOTIONAL),
        maker_interval_s=1.0,
        warm_up_steps=1,
        api_keys=(ApiKey(api_key=api_key, account_id=ACCOUNT, secret=api_secret),),
        limits=LimitConfig(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**10),
    )
    app = build_app(SimState(cfg))
    gc.collect()
    gc.freeze()  # as serve_sim: keep start-up objects out of the collector's full passes
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="h11",
                ws="websockets-sansio", access_log=False)


class SimControl:
    """The simulator's ``/sim/*`` control API, with the bearer token (never printed)."""

    def __init__(self, port: int, token: str) -> None:
        self._base = f"http://127.0.0.1:{port}"
        self._token = token

    def __repr__(self) -> str:
        return f"SimControl({self._base})"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self._base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise SystemExit(f"the simulator's control API refused {method} {path}: {e.code} {e.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as e:
            raise SystemExit(f"the simulator's control API is unreachable ({method} {path}): {e}") from None

    def best(self, symbol: str = "BTCUSDT") -> tuple[Decimal | None, Decimal | None]:
        """(best bid, best ask) now; ``None`` for an empty side."""
        row = self._call("GET", "/sim/state")["symbols"][symbol]
        return tuple(None if row[k] in (None, "None") else Decimal(row[k]) for k in ("bestBid", "bestAsk"))  # type: ignore[return-value]

    def credit(self, asset: str, amount: Decimal, account: str = ACCOUNT) -> None:
        self._call("POST", "/sim/balances", {"account": account, "asset": asset, "amount": str(amount)})


@dataclass(frozen=True)
class FillPlan:
    """How the orders of one run are priced, and what was credited for them."""

    kind: str  # "ioc" or "market"
    bid: Decimal
    ask: Decimal
    buy_limit: Decimal
    sell_limit: Decimal
    credited_usdt: Decimal
    credited_btc: Decimal

    def order_fields(self) -> Callable[[int], list[tuple[int, Any]]]:
        """Fields of order ``i`` after ClOrdID: even ``i`` buys, odd ``i`` sells, ``QTY`` each."""
        if self.kind == "market":
            buy = [(21, "1"), (55, "BTC/USDT"), (54, "1"), (38, str(QTY)), (40, "1"), (59, "3")]
            sell = [(21, "1"), (55, "BTC/USDT"), (54, "2"), (38, str(QTY)), (40, "1"), (59, "3")]
        else:
            buy = [(21, "1"), (55, "BTC/USDT"), (54, "1"), (38, str(QTY)), (40, "2"), (44, str(self.buy_limit)),
                   (59, "3")]
            sell = [(21, "1"), (55, "BTC/USDT"), (54, "2"), (38, str(QTY)), (40, "2"), (44, str(self.sell_limit)),
                    (59, "3")]
        return lambda i: sell if i & 1 else buy


def plan_fills(control: SimControl, kind: str, orders: int, account: str = ACCOUNT) -> FillPlan:
    """Check the book has both sides, price the orders through it and credit the run's worst case.

    Raises ``SystemExit`` with a clear message when a side of the book is empty.
    """
    bid, ask = control.best()
    if bid is None or ask is None:
        raise SystemExit(f"the simulator's book is empty (best bid {bid}, best ask {ask}): no liquidity to fill")
    buy_limit = (ask * (1 + CROSS) / TICK).to_integral_value(ROUND_UP) * TICK
    sell_limit = (bid * (1 - CROSS) / TICK).to_integral_value(ROUND_DOWN) * TICK
    # Worst case: every order is a buy (USDT, with commission) or every order a sell (BTC).
    usdt = (orders * QTY * buy_limit * Decimal("1.01")).quantize(TICK, ROUND_UP)
    btc = orders * QTY * Decimal("1.01")
    control.credit("USDT", usdt, account)
    control.credit("BTC", btc, account)
    return FillPlan(kind, bid, ask, buy_limit, sell_limit, usdt, btc)
