"""The embedded demos of ``fixgw run --demo NAME``: whole configurations on simulated venues.

``basic`` is ``default_config()``: FIX 4.4 and 4.2 sessions and the bridge account ``oms`` on one
simulated venue. ``arbitrage`` holds two simulated exchanges, ``alpha`` and ``beta``, whose market makers
quote BTC/USDT around different prices (41,000 and 41,200), and one bridge account on each, named after
its venue, for ``examples/arbitrage.py``; the FIX demo sessions trade on ``alpha``. ``alpha`` speaks
Binance's API; ``beta`` the API of ``beta_kind`` (``fixgw run`` picks Coinbase Exchange when this build
has its simulator and adapter).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from .schema import DEFAULT_PORT, BridgeAccount, Config, Limits, VenueConfig, default_config

__all__ = ["DEMOS", "demo_config", "arbitrage_config", "ARBITRAGE_PRICES"]

#: Where the arbitrage demo's two market makers start BTC/USDT: a gap wider than two taker fees.
ARBITRAGE_PRICES = {"alpha": Decimal("41000.00"), "beta": Decimal("41200.00")}


def arbitrage_config(*, port: int = DEFAULT_PORT, store_path: Path | None = None, beta_kind: str = "binance") -> Config:
    """Two simulated venues quoting BTC/USDT apart, a bridge account on each (``alpha``, ``beta``).

    ``beta_kind``: the API the second simulator speaks (binance, coinbase or kraken)."""
    base = default_config(port=port, store_path=store_path)
    limits = Limits(max_order_qty=Decimal("10"), max_notional=Decimal("1000000"), max_open_orders=100)
    venues = tuple(
        VenueConfig(name=name, kind="binance" if name == "alpha" else beta_kind, simulated=True,
                    sim_prices=(("BTC/USDT", price),))
        for name, price in ARBITRAGE_PRICES.items()
    )
    sessions = tuple(replace(s, venue="alpha") for s in base.sessions)
    accounts = tuple(BridgeAccount(name=name, venue=name, limits=limits) for name in ARBITRAGE_PRICES)
    return replace(base, venues=venues, sessions=sessions, bridge=replace(base.bridge, accounts=accounts))


#: demo name -> the function that builds its configuration (``port``, ``store_path`` keywords)
DEMOS: dict[str, Callable[..., Config]] = {"basic": default_config, "arbitrage": arbitrage_config}


def demo_config(name: str, *, port: int = DEFAULT_PORT, store_path: Path | None = None, **options: Any) -> Config:
    """The configuration of demo ``name`` (``KeyError`` for an unknown one); ``options`` go to its builder
    (``beta_kind`` for ``arbitrage``)."""
    return DEMOS[name](port=port, store_path=store_path, **options)
