"""Kraken's names for the engine's assets and instruments, from one alias table.

Kraken spells some assets its own way: BTC is ``XBT`` (REST asset code ``XXBT``), and the oldest
assets carry an ``X`` (crypto) or ``Z`` (fiat) prefix in REST balance keys and pair ids (``XXBT``,
``XETH``, ``ZUSD``). Newer ones (USDT, SOL, ...) are not prefixed. A pair has an id (``XXBTZUSD``
when both legs are legacy assets, else the altname), an altname (``XBTUSD``), a WebSocket v1 name
(``XBT/USD``) and a WebSocket v2 symbol (``BTC/USD``, the common codes). Nothing here strips
prefixes: every name is looked up in the table below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..instruments import InstrumentSpec

__all__ = ["ASSETS", "PairNames", "PairTable", "rest_asset", "alt_asset", "common_asset"]

#: common code -> (REST asset code, altname); assets not listed use their common code for both
ASSETS: dict[str, tuple[str, str]] = {
    "BTC": ("XXBT", "XBT"),
    "ETH": ("XETH", "ETH"),
    "DOGE": ("XXDG", "XDG"),
    "LTC": ("XLTC", "LTC"),
    "USD": ("ZUSD", "USD"),
    "EUR": ("ZEUR", "EUR"),
    "GBP": ("ZGBP", "GBP"),
}
_BY_CODE = {code: common for common, (code, _alt) in ASSETS.items()}
_BY_ALT = {alt: common for common, (_code, alt) in ASSETS.items()}


def rest_asset(common: str) -> str:
    """The REST asset code (balance keys): BTC -> XXBT, USDT -> USDT."""
    return ASSETS.get(common, (common, common))[0]


def alt_asset(common: str) -> str:
    """The altname: BTC -> XBT."""
    return ASSETS.get(common, (common, common))[1]


def common_asset(name: str) -> str:
    """Back to the common code from a REST code or an altname: XXBT -> BTC, XBT -> BTC."""
    return _BY_CODE.get(name) or _BY_ALT.get(name) or name


@dataclass(frozen=True)
class PairNames:
    """Every spelling of one instrument."""

    spec: InstrumentSpec
    pair_id: str  # XXBTZUSD / XBTUSDT
    altname: str  # XBTUSDT
    wsname: str  # XBT/USDT (WebSocket v1, AssetPairs' ``wsname``)
    symbol: str  # BTC/USDT (WebSocket v2)

    @property
    def engine_symbol(self) -> str:
        return self.spec.symbol


def _names(spec: InstrumentSpec) -> PairNames:
    base, quote = spec.base_asset, spec.quote_asset
    altname = alt_asset(base) + alt_asset(quote)
    legacy = base in ASSETS and quote in ASSETS
    pair_id = rest_asset(base) + rest_asset(quote) if legacy else altname
    return PairNames(spec, pair_id, altname, f"{alt_asset(base)}/{alt_asset(quote)}", f"{base}/{quote}")


class PairTable:
    """Look an instrument up by any of its Kraken names."""

    def __init__(self, specs: Iterable[InstrumentSpec]) -> None:
        self.pairs = [_names(s) for s in specs]
        self._rest = {}
        for p in self.pairs:
            self._rest[p.pair_id] = p
            self._rest[p.altname] = p
        self._v2 = {p.symbol: p for p in self.pairs}
        self._engine = {p.engine_symbol: p for p in self.pairs}

    def rest(self, name: str) -> PairNames | None:
        """A REST ``pair`` parameter: the pair id or its altname."""
        return self._rest.get(name)

    def v2(self, symbol: str) -> PairNames | None:
        """A WebSocket v2 ``symbol``: BTC/USDT."""
        return self._v2.get(symbol)

    def engine(self, symbol: str) -> PairNames:
        return self._engine[symbol]
