"""Product ids (``BTC-USDT``) from the engine's instruments, and the one asset alias table of this dialect.

The engine names instruments the Binance way (``BTCUSDT``) with base and quote assets; the venue
names a product ``BASE-QUOTE`` in upper case. Aliases (``XBT`` is ``BTC``) are folded before either
is looked up, so ``XBT-USDT`` finds ``BTC-USDT``.
"""

from __future__ import annotations

from typing import Iterable

from ..instruments import InstrumentSpec

__all__ = ["ASSET_ALIASES", "canonical_asset", "product_id", "ProductMap"]

#: other spellings of an asset -> the code this dialect publishes
ASSET_ALIASES: dict[str, str] = {"XBT": "BTC", "XXBT": "BTC", "XETH": "ETH", "ZUSD": "USD", "XDG": "DOGE"}


def canonical_asset(code: str) -> str:
    """The code of an asset as this dialect publishes it (upper case, aliases folded)."""
    upper = code.upper()
    return ASSET_ALIASES.get(upper, upper)


def product_id(spec: InstrumentSpec) -> str:
    """The venue's id of an engine instrument: ``BASE-QUOTE``."""
    return f"{canonical_asset(spec.base_asset)}-{canonical_asset(spec.quote_asset)}"


class ProductMap:
    """Both directions between product ids and engine symbols."""

    def __init__(self, specs: Iterable[InstrumentSpec]) -> None:
        self.by_product: dict[str, InstrumentSpec] = {}
        self.product_of: dict[str, str] = {}
        for spec in specs:
            pid = product_id(spec)
            self.by_product[pid] = spec
            self.product_of[spec.symbol] = pid

    def spec(self, product: str | None) -> InstrumentSpec | None:
        """The instrument of a product id (aliases and case folded), or None."""
        if not product or not isinstance(product, str):
            return None
        base, sep, quote = product.partition("-")
        if not sep:
            return None
        return self.by_product.get(f"{canonical_asset(base)}-{canonical_asset(quote)}")
